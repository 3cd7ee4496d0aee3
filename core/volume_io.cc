// Volume: the byte-range I/O path — the one place a request is split at
// remapped sectors.
//
// A request [offset, offset+len) is cut into maximal runs that live
// contiguously on one device: stretches of MAIN between remapped sectors,
// and stretches of consecutive remapped sectors whose spare sectors are also
// consecutive. A request over k remapped sectors costs at most 2k+1 device
// calls, and one with none costs exactly one, with no allocation.
//
// Runs are byte ranges, so an unaligned head or tail needs no
// read-modify-write here: both devices are byte-addressable. (A device that
// needs alignment, e.g. O_DIRECT, must provide it below this layer.)
//
// Locking: Read and Write hold table_mu_ shared for the whole request, so
// the mapping of every sector they touch is fixed until they finish. AddBad
// and Remove hold it exclusively while they copy data and switch the map,
// so a write is never split between the old and the new location.
#include <spdlog/spdlog.h>

#include "remapfs/volume.h"

namespace remapfs {

template <typename Fn>
Status Volume::ForEachRun(uint64_t offset, size_t len, Fn&& fn) const {
  const uint64_t ss = geometry().sector_size;
  const uint64_t end = offset + len;
  uint64_t pos = offset;
  auto it = map_.lower_bound(offset / ss);
  while (pos < end) {
    if (it == map_.end() || it->first * ss >= end)
      return fn(*main_, pos, pos - offset, end - pos);
    if (it->first * ss > pos) {  // MAIN up to the next remapped sector
      const uint64_t run_end = it->first * ss;
      REMAPFS_RETURN_IF_ERROR(fn(*main_, pos, pos - offset, run_end - pos));
      pos = run_end;
      continue;
    }
    // Remapped: extend while the next main sector is remapped to the next
    // spare sector.
    const uint64_t run_start = SpareByteOffset(it->second.slot) + pos % ss;
    uint64_t last_sector = it->first;
    uint64_t last_spare = SpareByteOffset(it->second.slot) / ss;
    for (++it; it != map_.end() && it->first == last_sector + 1 && it->first * ss < end; ++it) {
      const uint64_t spare_sector = SpareByteOffset(it->second.slot) / ss;
      if (spare_sector != last_spare + 1) break;
      last_sector = it->first;
      last_spare = spare_sector;
    }
    const uint64_t run_end = std::min(end, (last_sector + 1) * ss);
    REMAPFS_RETURN_IF_ERROR(fn(*spare_, run_start, pos - offset, run_end - pos));
    pos = run_end;
  }
  return Status::Ok();
}

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

Status Volume::Read(uint64_t offset, void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::InvalidArgument("read past the end of the volume");
  if (len == 0) return Status::Ok();
  std::shared_lock lock(table_mu_);
  if (RangeHasPending(offset, len))
    return Status::IoError("read of a pending sector (unreadable until rewritten)");
  auto* out = static_cast<uint8_t*>(buf);
  Status st = ForEachRun(offset, len, [out](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    return dev.Read(at, out + pos, n);
  });
  if (!st.ok()) CountError(st, false);
  return st;
}

Status Volume::Write(uint64_t offset, const void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::NoSpace("write past the end of the volume");
  if (len == 0) return Status::Ok();
  {
    std::shared_lock lock(table_mu_);
    if (!RangeHasPending(offset, len)) return WriteRuns(offset, buf, len);
  }
  return WriteRewritingPending(offset, buf, len);
}

Status Volume::WriteRuns(uint64_t offset, const void* buf, size_t len) {
  auto* in = static_cast<const uint8_t*>(buf);
  Status st = ForEachRun(offset, len, [in](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    return dev.Write(at, in + pos, n);
  });
  if (!st.ok()) CountError(st, true);
  return st;
}

// A write over pending sectors gives them known content again, like a drive
// reallocating on write. Only whole sectors can be made known: a partial
// write to a pending sector fails. The data is flushed before the commit
// that clears the pending state, so a crash leaves the sector pending, never
// active with stale content.
Status Volume::WriteRewritingPending(uint64_t offset, const void* buf, size_t len) {
  std::unique_lock lock(table_mu_);
  const uint64_t ss = geometry().sector_size;
  std::vector<SlotChange> changes;
  for (auto it = map_.lower_bound(offset / ss);
       it != map_.end() && it->first <= (offset + len - 1) / ss; ++it) {
    if (!it->second.pending) continue;
    if (it->first * ss < offset || (it->first + 1) * ss > offset + len)
      return Status::IoError("partial write to pending sector " + std::to_string(it->first));
    changes.push_back({it->second.slot, SlotEntry{true, false, it->first}});
  }
  REMAPFS_RETURN_IF_ERROR(WriteRuns(offset, buf, len));
  if (changes.empty()) return Status::Ok();  // cleared by someone else meanwhile
  REMAPFS_RETURN_IF_ERROR(spare_->Flush());
  REMAPFS_RETURN_IF_ERROR(metadata_->Commit(changes));
  for (const SlotChange& c : changes) {
    map_[c.entry.main_sector].pending = false;
    --pending_count_;
    spdlog::info("pending sector {} rewritten; active again", c.entry.main_sector);
  }
  return Status::Ok();
}

Status Volume::Sync() {
  REMAPFS_RETURN_IF_ERROR(main_->Flush());
  return spare_->Flush();
}

}  // namespace remapfs
