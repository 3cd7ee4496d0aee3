// Volume: the byte-range I/O fast path. A request holds its sectors' region
// shared, then table_mu_ shared; one that meets a failing MAIN sector or a
// pending sector lets both go and moves to the recovery in
// volume_recovery.cc, which takes its region exclusively.
#include <spdlog/spdlog.h>

#include "remapfs/volume.h"
#include "volume_split.h"

namespace remapfs {

bool Volume::RangeHasPending(uint64_t offset, size_t len) const {
  if (pending_count_ == 0) return false;
  const uint64_t ss = geometry().sector_size;
  const uint64_t last = (offset + len - 1) / ss;
  for (auto it = map_.lower_bound(offset / ss); it != map_.end() && it->first <= last; ++it)
    if (it->second.pending) return true;
  return false;
}

void Volume::CountError(const Status& st, bool is_write) {
  std::lock_guard lock(stats_mu_);
  (is_write ? write_errors_ : read_errors_)++;
  last_error_ = st.ToString();
}

// A device EIO is what the failing-disk paths (volume_recovery.cc) handle;
// any other failure is returned as it is.
bool Volume::IsMediaError(const Status& st) {
  return st.IsIoError() && st.errno_value() == EIO;
}

Status Volume::ReadRuns(uint64_t offset, void* buf, size_t len) const {
  auto* out = static_cast<uint8_t*>(buf);
  return ForEachRun(offset, len, [out](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    return dev.Read(at, out + pos, n);
  });
}

Status Volume::WriteRuns(uint64_t offset, const void* buf, size_t len) {
  auto* in = static_cast<const uint8_t*>(buf);
  return ForEachRun(offset, len, [in](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    return dev.Write(at, in + pos, n);
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
    if (RangeHasPending(offset, len))
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
    if (metadata_->healthy() && !RangeHasPending(offset, len)) {
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
