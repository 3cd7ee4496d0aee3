// Volume::ScrubRange: one step of a surface scan of MAIN.
//
// The range is read from MAIN in one request under the shared lock, so a
// healthy range costs one read and never blocks foreground I/O. A range that
// fails is bisected under the exclusive lock down to the failing sectors
// (O(k log n) reads for k bad sectors in n). Each failing sector that is not
// yet remapped is retried: one that reads after a retry is weak and is
// remapped with its data (a drive's proactive reallocation); one that never
// reads becomes pending. All of it lands in a single commit.
#include <spdlog/spdlog.h>

#include "remapfs/spare_allocator.h"
#include "remapfs/volume.h"
#include "volume_split.h"

namespace remapfs {

// Appends to `failed` every sector of [first, first+count) whose MAIN read
// fails with EIO, reading halves only where the whole failed.
Status Volume::BisectUnreadable(uint64_t first, uint64_t count, std::vector<uint8_t>& buf,
                                std::vector<uint64_t>* failed) const {
  const uint64_t ss = geometry().sector_size;
  Status st = main_->Read(first * ss, buf.data(), count * ss);
  if (st.ok()) return st;
  if (!IsMediaError(st)) return st;
  if (count == 1) {
    failed->push_back(first);
    return Status::Ok();
  }
  const uint64_t half = count / 2;
  REMAPFS_RETURN_IF_ERROR(BisectUnreadable(first, half, buf, failed));
  return BisectUnreadable(first + half, count - half, buf, failed);
}

Status Volume::ScrubRange(uint64_t first, uint64_t count, ScrubFindings* findings) {
  const uint64_t ss = geometry().sector_size;
  if (count == 0 || first >= geometry().main_sectors || count > geometry().main_sectors - first)
    return Status::InvalidArgument("scrub range outside MAIN");
  std::vector<uint8_t> buf(count * ss);
  {
    // Only MAIN's runs are read: a remapped sector's MAIN copy is moot, and
    // re-reading a known-bad one would send every scan to the slow path.
    std::shared_lock lock(table_mu_);
    Status st = ForEachRun(first * ss, count * ss,
                           [&](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
                             return &dev == main_.get() ? dev.Read(at, buf.data() + pos, n)
                                                        : Status::Ok();
                           });
    if (st.ok() || !IsMediaError(st)) return st;
  }
  std::unique_lock lock(table_mu_);
  std::vector<uint64_t> failed;
  REMAPFS_RETURN_IF_ERROR(BisectUnreadable(first, count, buf, &failed));
  std::vector<SlotChange> changes;
  Status st;
  for (uint64_t sector : failed) {
    if (map_.count(sector)) continue;  // already on the spare: MAIN is moot
    bool weak = false;
    for (uint32_t attempt = 0; attempt < read_retries_ && !weak; ++attempt)
      weak = main_->Read(sector * ss, buf.data(), ss).ok();
    uint64_t slot = 0;
    if (!allocator_->Allocate(&slot).ok()) {
      st = Status::NoSpace("scrub: spare exhausted at main sector " + std::to_string(sector));
      break;  // what was found so far is still committed below
    }
    changes.push_back({slot, SlotEntry{true, !weak, sector}});
    if (weak) st = spare_->Write(SpareByteOffset(slot), buf.data(), ss);
    if (!st.ok()) {
      for (const SlotChange& c : changes) (void)allocator_->Free(c.slot);
      return st;
    }
  }
  if (!changes.empty()) {
    Status committed = CommitAndApply(changes, changes.size());
    if (!committed.ok()) return committed;
    std::lock_guard stats(stats_mu_);
    read_errors_ += changes.size();
  }
  for (const SlotChange& c : changes) {
    (c.entry.pending ? findings->pending : findings->remapped)++;
    spdlog::warn("scrub: main sector {} {}", c.entry.main_sector,
                 c.entry.pending ? "unreadable; now pending"
                                 : "read only after a retry; remapped with its data");
  }
  return st;
}

}  // namespace remapfs
