// Volume: what a good drive does when MAIN fails under a request.
//
//  - A write whose MAIN I/O fails with EIO is redone sector by sector under
//    the exclusive lock; each sector that still fails is remapped, its data
//    lands on the spare, the remap is committed, and only then does the
//    write succeed. With the spare exhausted the write fails with EIO.
//  - A read whose MAIN I/O fails is retried; if it still fails, the failing
//    sectors are found sector by sector and become pending (a spare slot
//    whose content is unknown), committed so they survive a remount. The
//    read fails with EIO; the sectors read EIO until rewritten.
//  - A write that fully covers a pending sector makes it active again.
//  - After a metadata commit whose outcome is unknown (metadata.h), every
//    write comes here and is refused until the table is re-committed.
// A drive never invents data: no path here fills a sector with zeros.
#include <spdlog/spdlog.h>

#include "remapfs/spare_allocator.h"
#include "remapfs/volume.h"
#include "volume_split.h"

namespace remapfs {

// Writes [at, at+n) of MAIN one sector piece at a time, collecting the
// sectors whose write fails with EIO. Other errors stop it.
Status Volume::WriteMainBySector(uint64_t at, const uint8_t* data, size_t n,
                                 std::vector<uint64_t>* failed) {
  const uint64_t ss = geometry().sector_size;
  for (uint64_t pos = at; pos < at + n;) {
    const uint64_t piece_end = std::min(at + n, (pos / ss + 1) * ss);
    Status st = main_->Write(pos, data + (pos - at), piece_end - pos);
    if (!st.ok()) {
      if (!IsMediaError(st)) return st;
      CountError(st, true);
      failed->push_back(pos / ss);
    }
    pos = piece_end;
  }
  return Status::Ok();
}

// Puts the request's bytes for each failed sector on a fresh spare slot.
// A sector the request covers only partly is completed from MAIN's old
// content; if that cannot be read either, the write fails.
Status Volume::RemapFailedWrites(const std::vector<uint64_t>& failed, uint64_t offset,
                                 const uint8_t* data, size_t len,
                                 std::vector<SlotChange>* changes) {
  const uint64_t ss = geometry().sector_size;
  std::vector<uint64_t> slots;
  Status st = allocator_->AllocateMany(failed.size(), &slots);
  if (!st.ok())
    return Status::IoError("write failed on MAIN and the spare is exhausted: " + st.message());
  std::vector<uint8_t> sector(ss);
  for (size_t i = 0; i < failed.size() && st.ok(); ++i) {
    const uint64_t start = failed[i] * ss;
    if (start < offset || start + ss > offset + len)
      st = main_->Read(start, sector.data(), ss);
    const uint64_t from = std::max(start, offset), to = std::min(start + ss, offset + len);
    std::copy(data + (from - offset), data + (to - offset), sector.begin() + (from - start));
    if (st.ok()) st = spare_->Write(SpareByteOffset(slots[i]), sector.data(), ss);
    changes->push_back({slots[i], SlotEntry{true, false, failed[i]}});
  }
  if (!st.ok()) {
    for (uint64_t slot : slots) (void)allocator_->Free(slot);
    return st.WithContext("remapping a failed write");
  }
  return st;
}

// Commits `changes` (new remaps and pending sectors made active) after the
// spare data they name is durable, then switches the in-memory map and
// publishes the new counters for the views.
Status Volume::CommitAndApply(const std::vector<SlotChange>& changes, size_t new_slots) {
  Status st = spare_->Flush();
  if (st.ok()) st = metadata_->Commit(changes);
  if (!st.ok()) {
    for (size_t i = changes.size() - new_slots; i < changes.size(); ++i)
      (void)allocator_->Free(changes[i].slot);
    PublishView();  // the failed commit may have cost a metadata copy
    return st;
  }
  {
    std::lock_guard map_lock(map_mu_);
    for (const SlotChange& c : changes) {
      Mapping& m = map_[c.entry.main_sector];
      if (m.pending && !c.entry.pending) --pending_count_;
      if (c.entry.pending && (!m.pending || m.slot != c.slot)) ++pending_count_;
      m = Mapping{c.slot, c.entry.pending};
    }
  }
  PublishView();
  return Status::Ok();
}

Status Volume::WriteSlowPath(uint64_t offset, const void* buf, size_t len) {
  std::unique_lock lock(table_mu_);
  // A write under a table whose on-disk state is unknown could vanish at the
  // next mount: the table is re-committed first, or the write is refused.
  if (!metadata_->healthy()) {
    Status st = metadata_->RewriteAll();
    PublishView();  // a new sequence, or fewer valid copies
    if (!st.ok()) {
      st = Status::IoError("metadata commits are failing, writes are refused: " + st.message());
      CountError(st, true);
      return st;
    }
  }
  const uint64_t ss = geometry().sector_size;
  const auto* in = static_cast<const uint8_t*>(buf);
  std::vector<SlotChange> changes;
  for (auto it = map_.lower_bound(offset / ss);
       it != map_.end() && it->first <= (offset + len - 1) / ss; ++it) {
    if (!it->second.pending) continue;
    if (it->first * ss < offset || (it->first + 1) * ss > offset + len)
      return Status::IoError("partial write to pending sector " + std::to_string(it->first));
    changes.push_back({it->second.slot, SlotEntry{true, false, it->first}});
  }
  std::vector<uint64_t> failed;
  Status st = ForEachRun(offset, len, [&](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    if (&dev != main_.get()) return dev.Write(at, in + pos, n);
    Status whole = dev.Write(at, in + pos, n);
    return whole.ok() || !IsMediaError(whole) ? whole
                                              : WriteMainBySector(at, in + pos, n, &failed);
  });
  if (st.ok() && !failed.empty()) st = RemapFailedWrites(failed, offset, in, len, &changes);
  if (st.ok() && !changes.empty()) st = CommitAndApply(changes, failed.size());
  if (!st.ok()) {
    CountError(st, true);
    return st;
  }
  if (!failed.empty()) {
    std::lock_guard stats(stats_mu_);
    auto_remaps_ += failed.size();
  }
  for (uint64_t s : failed) spdlog::warn("write to main sector {} failed; remapped", s);
  return Status::Ok();
}

// Reads MAIN runs of [offset, offset+len) sector by sector and returns the
// sectors that fail with EIO.
Status Volume::FindUnreadableSectors(uint64_t offset, size_t len,
                                     std::vector<uint64_t>* failed) const {
  const uint64_t ss = geometry().sector_size;
  std::vector<uint8_t> sector(ss);
  return ForEachRun(offset, len, [&](BlockDevice& dev, uint64_t at, size_t, size_t n) {
    if (&dev != main_.get()) return Status::Ok();
    for (uint64_t s = at / ss; s * ss < at + n; ++s) {
      Status st = dev.Read(s * ss, sector.data(), ss);
      if (!st.ok() && !IsMediaError(st)) return st;
      if (!st.ok()) failed->push_back(s);
    }
    return Status::Ok();
  });
}

Status Volume::ReadAfterMediaError(uint64_t offset, void* buf, size_t len) {
  for (uint32_t attempt = 0; attempt < read_retries_; ++attempt) {
    std::shared_lock lock(table_mu_);
    if (RangeHasPending(offset, len)) break;
    if (ReadRuns(offset, buf, len).ok()) return Status::Ok();
  }
  std::unique_lock lock(table_mu_);
  std::vector<uint64_t> failed;
  Status st = FindUnreadableSectors(offset, len, &failed);
  if (!st.ok() || failed.empty()) {
    // Gone away meanwhile, or a sector turned pending under another request.
    if (st.ok()) st = RangeHasPending(offset, len) ? Status::IoError("read of a pending sector")
                                                   : ReadRuns(offset, buf, len);
    if (!st.ok()) CountError(st, false);
    return st;
  }
  const Status eio = Status::IoError("main sector " + std::to_string(failed.front()) +
                                     " is unreadable; marked pending until rewritten");
  for (size_t i = 0; i < failed.size(); ++i) CountError(eio, false);
  std::vector<uint64_t> slots;
  if (!allocator_->AllocateMany(failed.size(), &slots).ok()) {
    spdlog::error("main sector {} unreadable and the spare is exhausted: cannot record it "
                  "as pending", failed.front());
    return eio;
  }
  std::vector<SlotChange> changes;
  for (size_t i = 0; i < failed.size(); ++i)
    changes.push_back({slots[i], SlotEntry{true, true, failed[i]}});
  st = CommitAndApply(changes, changes.size());
  if (!st.ok()) spdlog::error("could not record pending sectors: {}", st.ToString());
  for (uint64_t s : failed) spdlog::warn("main sector {} unreadable; now pending", s);
  return eio;
}

}  // namespace remapfs
