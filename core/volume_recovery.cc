// Volume: what a good drive does when MAIN fails under a request.
//
//  - A write whose MAIN I/O fails with EIO is narrowed to the units that
//    fail (volume_narrow.cc); their sectors are remapped, the data lands on
//    the spare, the remap is committed, and only then does the write
//    succeed. With the spare exhausted the write fails with EIO.
//  - A read whose MAIN I/O fails is narrowed, and each failing unit retried;
//    the sectors that still fail become pending (a spare slot whose content
//    is unknown), committed so they survive a remount. The read fails with
//    EIO; the sectors read EIO until rewritten.
//  - A write that fully covers a pending sector makes it active again.
//  - After a metadata commit whose outcome is unknown (metadata.h), every
//    write comes here and is refused until the table is re-committed.
// A drive never invents data: no path here fills a sector with zeros.
//
// Locking: recovery holds the request's region of sector_locks_
// exclusively, so requests over the same sectors wait for it (and then fail
// fast on what became pending), and a second recovery of them waits and
// finds the work done. It takes table_mu_ only to look at the map, to
// allocate and to commit: never across I/O to MAIN, so a slow bad sector
// stalls nothing but the requests that touch it. error_recovery_time bounds
// the narrowing and the retries.
#include <spdlog/spdlog.h>

#include "remapfs/volume.h"

namespace remapfs {

// Puts the request's bytes for each failed sector on a fresh spare slot.
// A sector the request covers only partly is completed from MAIN's old
// content; if that cannot be read either, the write fails. Takes table_mu_
// only to allocate (and to give the slots back on failure).
Status Volume::RemapFailedWrites(const std::vector<uint64_t>& failed, uint64_t offset,
                                 const uint8_t* data, size_t len,
                                 std::vector<SlotChange>* changes) {
  const uint64_t ss = geometry().sector_size;
  std::vector<uint64_t> slots;
  {
    std::unique_lock lock(table_mu_);
    Status st = table_->Allocate(failed, &slots);
    if (!st.ok())
      return Status::IoError("write failed on MAIN and the spare is exhausted: " + st.message());
  }
  std::vector<uint8_t> sector(ss);
  Status st;
  for (size_t i = 0; i < failed.size() && st.ok(); ++i) {
    const uint64_t start = failed[i] * ss;
    if (start < offset || start + ss > offset + len) st = main_->Read(start, sector.data(), ss);
    const uint64_t from = std::max(start, offset), to = std::min(start + ss, offset + len);
    std::copy(data + (from - offset), data + (to - offset), sector.begin() + (from - start));
    if (st.ok()) st = spare_->Write(table_->SpareByteOffset(slots[i]), sector.data(), ss);
    changes->push_back({slots[i], SlotEntry{true, false, failed[i]}});
  }
  if (!st.ok()) {
    std::unique_lock lock(table_mu_);
    table_->Release(slots);
    return st.WithContext("remapping a failed write");
  }
  return st;
}

Status Volume::FlushAndCommit(const std::vector<SlotChange>& changes, size_t new_slots) {
  Status st = spare_->Flush();
  if (st.ok()) {
    st = table_->Commit(changes, new_slots);
  } else {
    std::vector<uint64_t> slots;
    for (size_t i = changes.size() - new_slots; i < changes.size(); ++i)
      slots.push_back(changes[i].slot);
    table_->Release(slots);
  }
  PublishView();  // a failed commit may have cost a metadata copy
  return st;
}

// Under the table lock, briefly: makes the table certain again if a commit
// left it uncertain, and lists the pending sectors the write reactivates
// (a partial write to one fails: its other bytes are unknown).
Status Volume::PrepareRecoveredWrite(uint64_t offset, size_t len, std::vector<SlotChange>* changes,
                                     std::vector<DeviceRun>* runs) {
  std::unique_lock lock(table_mu_);
  if (!table_->healthy()) {
    Status st = table_->Recertify();
    PublishView();  // a new sequence, or fewer valid copies
    if (!st.ok())
      return Status::IoError("metadata commits are failing, writes are refused: " + st.message());
  }
  for (const SlotMapping& m : table_->MappingsIn(offset, len)) {
    if (!m.pending) continue;
    const uint64_t ss = geometry().sector_size;
    if (m.main_sector * ss < offset || (m.main_sector + 1) * ss > offset + len)
      return Status::IoError("partial write to pending sector " + std::to_string(m.main_sector));
    changes->push_back({m.slot, SlotEntry{true, false, m.main_sector}});
  }
  *runs = table_->Runs(offset, len);
  return Status::Ok();
}

// `main_failed`: the request's first attempt failed on MAIN (else it came
// here for a pending sector or an uncertain table, and MAIN is untried).
Status Volume::RecoverWrite(uint64_t offset, const void* buf, size_t len, Clock::time_point start,
                            bool main_failed) {
  const uint64_t ss = geometry().sector_size;
  auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                   BlockRangeLock::Mode::kExclusive);
  const auto* in = static_cast<const uint8_t*>(buf);
  std::vector<SlotChange> changes;
  std::vector<DeviceRun> runs;
  Status st = PrepareRecoveredWrite(offset, len, &changes, &runs);
  Narrowing n(true, const_cast<uint8_t*>(in), offset, start, error_recovery_time_);
  for (const DeviceRun& r : runs) {
    if (!st.ok()) break;
    if (r.device == DeviceRole::kSpare) {
      st = spare_->Write(r.at, in + r.pos, r.len);
    } else if (main_failed) {
      // Not tried whole again: on a dying disk that costs another failure.
      NarrowKnownBad(n, r.at, r.at + r.len, false);
    } else if (ProbeMain(n, r.at, r.at + r.len) == ProbeResult::kBad) {
      NarrowKnownBad(n, r.at, r.at + r.len, true);
    }
    if (st.ok()) st = n.hard;
  }
  // What failed, and what the deadline left untried, goes to the spare.
  n.bad.insert(n.bad.end(), n.unresolved.begin(), n.unresolved.end());
  const std::vector<uint64_t> failed = SectorsOf(n.bad);
  if (st.ok() && !failed.empty()) st = RemapFailedWrites(failed, offset, in, len, &changes);
  if (st.ok() && !changes.empty()) {
    std::unique_lock lock(table_mu_);
    st = FlushAndCommit(changes, failed.size());
  }
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

// Records `failed` as pending (their data is unknown): reads of them fail
// until they are written again. Best effort: the read fails either way.
void Volume::MarkPending(const std::vector<uint64_t>& failed) {
  std::unique_lock lock(table_mu_);
  std::vector<uint64_t> slots;
  if (!table_->Allocate(failed, &slots).ok()) {
    spdlog::error("main sector {} unreadable and the spare is exhausted: cannot record it "
                  "as pending",
                  failed.front());
    return;
  }
  std::vector<SlotChange> changes;
  for (size_t i = 0; i < failed.size(); ++i)
    changes.push_back({slots[i], SlotEntry{true, true, failed[i]}});
  Status st = FlushAndCommit(changes, changes.size());
  if (!st.ok()) spdlog::error("could not record pending sectors: {}", st.ToString());
  for (uint64_t s : failed) spdlog::warn("main sector {} unreadable; now pending", s);
}

Status Volume::RecoverRead(uint64_t offset, void* buf, size_t len, Clock::time_point start) {
  const uint64_t ss = geometry().sector_size;
  auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                   BlockRangeLock::Mode::kExclusive);
  auto* out = static_cast<uint8_t*>(buf);
  std::vector<DeviceRun> runs;
  {
    std::shared_lock lock(table_mu_);
    // A recovery of these sectors that ran while we waited decided already.
    if (table_->RangeHasPending(offset, len)) {
      Status st = Status::IoError("read of a pending sector (unreadable until rewritten)");
      CountError(st, false);
      return st;
    }
    runs = table_->Runs(offset, len);
  }
  Narrowing n(false, out, offset, start, error_recovery_time_);
  Status st;
  for (const DeviceRun& r : runs) {
    if (!st.ok()) break;
    if (r.device == DeviceRole::kSpare) {
      st = spare_->Read(r.at, out + r.pos, r.len);
    } else {
      // Not tried whole again: on a dying disk that costs another failure.
      NarrowKnownBad(n, r.at, r.at + r.len, false);
    }
    if (st.ok()) st = n.hard;
  }
  if (st.ok()) RetryBadReads(n, read_retries_);
  if (st.ok()) st = n.hard;
  if (!st.ok()) {
    CountError(st, false);
    return st;
  }
  n.bad.insert(n.bad.end(), n.unresolved.begin(), n.unresolved.end());
  const std::vector<uint64_t> failed = SectorsOf(n.bad);
  if (failed.empty()) return Status::Ok();  // a retry read everything
  MarkPending(failed);
  return Status::IoError("main sector " + std::to_string(failed.front()) +
                         " is unreadable; marked pending until rewritten");
}

}  // namespace remapfs
