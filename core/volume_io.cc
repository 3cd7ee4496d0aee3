// Volume: the byte-range I/O fast path. A request holds its sectors' region
// shared, then table_mu_ shared; one that meets a failing MAIN sector or a
// pending sector lets both go and moves to the recovery in
// volume_recovery.cc, which takes its region exclusively.
//
// The table splits the request into device runs (RemapTable::ForEachRun)
// while the request holds table_mu_ shared, so the mapping of every sector
// it touches is fixed until it finishes. Runs are byte ranges, so an
// unaligned head or tail needs no read-modify-write here: both devices are
// byte-addressable. A device that needs alignment (O_DIRECT) provides it
// below this layer, and with it the exclusion of every write overlapping the
// block it rewrites: AlignedDevice does both, so a sector-sized write over a
// larger device block never reverts a neighbour's write. The Volume's own
// copies of sector data (AddBad, Remove, the partial sector of a failed
// write, scrub) hold the sectors' region exclusively, so no request's write
// lands between their read and their write.
#include <spdlog/spdlog.h>

#include "remapfs/volume.h"

namespace remapfs {

void Volume::CountError(const Status& st, bool is_write) {
  std::lock_guard lock(stats_mu_);
  (is_write ? write_errors_ : read_errors_)++;
  last_error_ = st.ToString();
}

// A device EIO is what the failing-disk paths (volume_recovery.cc) handle;
// any other failure is returned as it is.
bool Volume::IsMediaError(const Status& st) { return st.IsIoError() && st.errno_value() == EIO; }

Status Volume::ReadRuns(uint64_t offset, void* buf, size_t len) const {
  auto* out = static_cast<uint8_t*>(buf);
  return table_->ForEachRun(offset, len, [this, out](const DeviceRun& r) {
    return device(r.device).Read(r.at, out + r.pos, r.len);
  });
}

Status Volume::WriteRuns(uint64_t offset, const void* buf, size_t len) {
  auto* in = static_cast<const uint8_t*>(buf);
  return table_->ForEachRun(offset, len, [this, in](const DeviceRun& r) {
    return device(r.device).Write(r.at, in + r.pos, r.len);
  });
}

Status Volume::Read(uint64_t offset, void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::InvalidArgument("read past the end of the volume");
  if (len == 0) return Status::Ok();
  const uint64_t ss = geometry().sector_size;
  const Clock::time_point start = Clock::now();  // error_recovery_time runs from here
  {
    auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                     BlockRangeLock::Mode::kShared);
    std::shared_lock lock(table_mu_);
    if (table_->RangeHasPending(offset, len))
      return Status::IoError("read of a pending sector (unreadable until rewritten)");
    Status st = ReadRuns(offset, buf, len);
    if (st.ok()) return st;
    if (!IsMediaError(st)) {
      CountError(st, false);
      return st;
    }
    CountError(st, false);
  }
  return RecoverRead(offset, buf, len, start);
}

Status Volume::Write(uint64_t offset, const void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::NoSpace("write past the end of the volume");
  if (len == 0) return Status::Ok();
  const uint64_t ss = geometry().sector_size;
  const Clock::time_point start = Clock::now();  // error_recovery_time runs from here
  bool main_failed = false;
  {
    auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                     BlockRangeLock::Mode::kShared);
    std::shared_lock lock(table_mu_);
    // After a commit whose outcome on disk is unknown, the slow path must
    // first make the table certain again (MetadataStore::Commit); a pending
    // sector rewritten changes the table.
    if (table_->healthy() && !table_->RangeHasPending(offset, len)) {
      Status st = WriteRuns(offset, buf, len);
      if (st.ok()) return st;
      CountError(st, true);
      if (!IsMediaError(st)) return st;
      main_failed = true;
    }
  }  // the recovery takes the region exclusively
  return RecoverWrite(offset, buf, len, start, main_failed);
}

// A failed flush is a writeback error of earlier writes (with buffered I/O
// it surfaces only here, and fdatasync reports it just once): it goes to the
// caller and into write_errors / last_error, never swallowed.
Status Volume::Sync() {
  Status st = main_->Flush().WithContext("flush main");
  if (st.ok()) st = spare_->Flush().WithContext("flush spare");
  if (!st.ok()) CountError(st, true);
  return st;
}

}  // namespace remapfs
