// Volume::ScrubRange: one step of a surface scan of MAIN.
//
// The range is read from MAIN in one request with its region held shared,
// so a healthy range costs one read and never blocks foreground I/O. A range
// that fails is narrowed with its region held exclusively (requests over it
// wait; the rest of the disk does not), within error_recovery_time, by the
// same narrowing as a failing request (volume_narrow.cc). A failing unit
// that reads after a retry is weak and is remapped with its data (a drive's
// proactive reallocation); one that never reads becomes pending. What the
// deadline left untried stays as it is, for the next scan. All of it lands
// in a single commit.
#include <spdlog/spdlog.h>

#include "remapfs/volume.h"

namespace remapfs {

// Reads only MAIN's runs: a remapped sector's MAIN copy is moot, and
// re-reading a known-bad one would send every scan to the slow path.
Status Volume::ReadMainRuns(const std::vector<DeviceRun>& runs, uint8_t* buf) {
  for (const DeviceRun& r : runs)
    if (r.device == DeviceRole::kMain)
      REMAPFS_RETURN_IF_ERROR(main_->Read(r.at, buf + r.pos, r.len));
  return Status::Ok();
}

// The changes for what narrowing found: weak sectors remapped with the data
// they gave, bad ones pending; sectors already remapped are skipped. On an
// error, `changes` holds only complete changes (their data written).
Status Volume::ScrubChanges(const Narrowing& n, std::vector<SlotChange>* changes) {
  const uint64_t ss = geometry().sector_size;
  std::vector<std::pair<uint64_t, bool>> found;  // sector, weak
  for (uint64_t s : SectorsOf(n.weak)) found.push_back({s, true});
  for (uint64_t s : SectorsOf(n.bad)) found.push_back({s, false});
  Status st;
  for (const auto& [sector, weak] : found) {
    uint64_t slot = 0;
    {
      std::unique_lock lock(table_mu_);
      if (table_->IsMapped(sector)) continue;  // already on the spare: MAIN is moot
      std::vector<uint64_t> one;
      if (!table_->Allocate({sector}, &one).ok()) {
        st = Status::NoSpace("scrub: spare exhausted at main sector " + std::to_string(sector));
        break;  // what was found so far is still committed
      }
      slot = one.front();
    }
    // A weak sector's data goes to its slot before the slot is named.
    if (weak) {
      Status written = spare_->Write(table_->SpareByteOffset(slot), n.data + (sector * ss - n.base),
                                     ss);
      if (!written.ok()) {
        std::unique_lock lock(table_mu_);
        table_->Release({slot});
        return written;  // what was found before it is still committed
      }
    }
    changes->push_back({slot, SlotEntry{true, !weak, sector}});
  }
  return st;
}

Status Volume::ScrubRange(uint64_t first, uint64_t count, ScrubFindings* findings) {
  const uint64_t ss = geometry().sector_size;
  if (count == 0 || first >= geometry().main_sectors || count > geometry().main_sectors - first)
    return Status::InvalidArgument("scrub range outside MAIN");
  std::vector<uint8_t> buf(count * ss);
  const Clock::time_point start = Clock::now();
  {
    auto region = sector_locks_.Lock(first, first + count - 1, BlockRangeLock::Mode::kShared);
    std::vector<DeviceRun> runs;
    {
      std::shared_lock lock(table_mu_);
      runs = table_->Runs(first * ss, count * ss);
    }
    Status st = ReadMainRuns(runs, buf.data());
    if (st.ok() || !IsMediaError(st)) return st;
  }
  auto region = sector_locks_.Lock(first, first + count - 1, BlockRangeLock::Mode::kExclusive);
  std::vector<DeviceRun> runs;
  {
    std::shared_lock lock(table_mu_);
    runs = table_->Runs(first * ss, count * ss);
  }
  Narrowing n(false, buf.data(), first * ss, start, error_recovery_time_);
  for (const DeviceRun& r : runs)
    if (r.device == DeviceRole::kMain) NarrowKnownBad(n, r.at, r.at + r.len, false);
  if (n.hard.ok()) RetryBadReads(n, read_retries_);
  if (!n.hard.ok()) return n.hard;
  std::vector<SlotChange> changes;
  Status st = ScrubChanges(n, &changes);
  if (!changes.empty()) {
    std::unique_lock lock(table_mu_);
    Status committed = FlushAndCommit(changes, changes.size());
    if (!committed.ok()) return committed;
    std::lock_guard stats(stats_mu_);
    read_errors_ += changes.size();
  } else if (!st.ok()) {
    return st;
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
