// Volume::AddBad and Volume::Remove: the control operations that move
// sectors to the spare and back, copying their data in large extents.
//
// Each operation holds the region of its sectors exclusively throughout
// (requests there wait: a write landing between the copy and the commit
// would be lost) and table_mu_ only to decide and allocate, then to commit:
// the copy itself, MAIN I/O that may be slow on a dying disk, runs without
// it. The data is flushed before the commit that names it.
//
// The copy goes in batches of up to kCopyBatchBytes of sectors, in MAIN
// order. Within a batch, each run of sectors that are consecutive on the
// device read from is one read, and each run consecutive on the device
// written to is one write. The reads go to their device in ReadBatches of
// kRunsInFlight runs (the step of the operation's progress), then the
// batch's writes as one WriteBatch, so a device that runs a batch
// concurrently (FileDevice on io_uring) has many in flight. A batch's
// writes run while the next batch is read (copy_pipeline.h). Slots are allocated lowest first and
// handed out in MAIN order, so sectors remapped together are neighbours on the spare: scattered
// sectors cost one MAIN read (add_bad) or write (remove) each, issued together, and a few large
// spare calls; a contiguous range a few large calls per batch.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <span>

#include "copy_pipeline.h"
#include "remapfs/volume.h"

namespace remapfs {
namespace {

constexpr size_t kCopyBatchBytes = 1 << 20;
// What a `device sector` function returns for an entry that takes no I/O.
constexpr uint64_t kNoIo = std::numeric_limits<uint64_t>::max();

// Calls fn(i, n) for each maximal run [i, i+n) of [begin, end) whose device
// sectors at(i), at(i+1), ... follow each other; entries at kNoIo are
// skipped. Stops at the first error.
template <typename At, typename Fn>
Status ForEachDeviceRun(size_t begin, size_t end, At at, Fn fn) {
  for (size_t i = begin; i < end;) {
    const uint64_t first = at(i);
    if (first == kNoIo) {
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < end && at(i + n) == first + n) ++n;
    REMAPFS_RETURN_IF_ERROR(fn(i, n));
    i += n;
  }
  return Status::Ok();
}

// Entries [first, first + count) of a batch, consecutive on one device.
struct EntryRun {
  size_t first;
  size_t count;
};

// The device runs of entries [begin, end) (ForEachDeviceRun over `at`).
template <typename At>
std::vector<EntryRun> DeviceRuns(size_t begin, size_t end, At at) {
  std::vector<EntryRun> runs;
  (void)ForEachDeviceRun(begin, end, at, [&](size_t i, size_t n) {
    runs.push_back({i, n});
    return Status::Ok();
  });
  return runs;
}

// Runs submitted to a device together: enough to fill a disk's queue, and
// the step in which an operation's progress moves, so that on a dying disk,
// where one read may take seconds, status still shows it advancing.
constexpr size_t kRunsInFlight = 64;

// Calls fn(group) for consecutive groups of up to kRunsInFlight of `runs`;
// stops at the first error.
template <typename Fn>
Status ForEachGroup(const std::vector<EntryRun>& runs, Fn fn) {
  for (size_t g = 0; g < runs.size(); g += kRunsInFlight)
    REMAPFS_RETURN_IF_ERROR(
        fn(std::span(runs).subspan(g, std::min(kRunsInFlight, runs.size() - g))));
  return Status::Ok();
}

uint64_t SectorsIn(std::span<const EntryRun> runs) {
  uint64_t n = 0;
  for (const EntryRun& r : runs) n += r.count;
  return n;
}

// One batch request per run, at device sector at(run.first), into or from
// `buf`, which holds entry `begin` at its start.
template <typename Request, typename At, typename Byte>
std::vector<Request> RequestsFor(std::span<const EntryRun> runs, size_t begin, At at, Byte* buf,
                                 uint32_t ss) {
  std::vector<Request> requests;
  requests.reserve(runs.size());
  for (const EntryRun& r : runs)
    requests.push_back({at(r.first) * ss, buf + (r.first - begin) * ss, r.count * ss});
  return requests;
}

// One info line per range, or one for them all when there are many (a
// bad-block list of 100k scattered sectors is one add_bad).
void LogRanges(const char* op, const std::vector<SectorRange>& ranges, const char* done,
               uint64_t sequence) {
  constexpr size_t kRangesLogged = 8;
  if (ranges.size() > kRangesLogged) {
    uint64_t sectors = 0;
    for (const SectorRange& r : ranges) sectors += r.count();
    spdlog::info("{} of {} sectors in {} ranges ({}-{}): {}, metadata sequence {}", op, sectors,
                 ranges.size(), ranges.front().first, ranges.back().last, done, sequence);
    return;
  }
  for (const SectorRange& r : ranges)
    spdlog::info("{} {}-{}: {}, metadata sequence {}", op, r.first, r.last, done, sequence);
}

}  // namespace

// Publishes a running AddBad/Remove for Stats(), and idle again however it
// ends. Lives under control_mu_, so at most one exists at a time.
class Volume::OperationScope {
 public:
  OperationScope(Volume* v, VolumeOperation op, uint64_t total) : v_(v) { Set(op, total); }
  ~OperationScope() { Set(VolumeOperation::kIdle, 0); }
  OperationScope(const OperationScope&) = delete;
  OperationScope& operator=(const OperationScope&) = delete;

  void Advance(uint64_t n) { v_->operation_done_.fetch_add(n, std::memory_order_relaxed); }

 private:
  void Set(VolumeOperation op, uint64_t total) {
    std::lock_guard view(v_->view_mu_);
    v_->operation_ = op;
    v_->operation_total_ = total;
    v_->operation_done_.store(0, std::memory_order_relaxed);
  }

  Volume* const v_;
};

// Reads the MAIN sectors of changes[i, i+n) (consecutive) into `buf`:
// the run in one read unless it failed already (`run_failure`, that
// read's status), then, if it failed, each sector alone. A sector MAIN
// cannot give back becomes pending rather than being filled with invented
// data. On a dying disk that costs one failed read per failing run of more
// than one sector, and none more for a sector alone.
void Volume::ReadForRemap(std::vector<SlotChange>& changes, size_t i, size_t n, uint8_t* buf,
                          Status run_failure) {
  const uint32_t ss = geometry().sector_size;
  const uint64_t first = changes[i].entry.main_sector;
  if (run_failure.ok()) {
    run_failure = main_->Read(first * ss, buf, n * ss);
    if (run_failure.ok()) return;
  }
  for (size_t k = 0; k < n; ++k) {
    Status st = n == 1 ? run_failure : main_->Read((first + k) * ss, buf + k * ss, ss);
    if (st.ok()) continue;
    changes[i + k].entry.pending = true;
    spdlog::warn("main sector {} unreadable while remapping ({}); marked pending", first + k,
                 st.ToString());
  }
}

// Copies each change's MAIN sector to its slot, batch by batch; marks the
// unreadable ones pending (their slots are not written).
Status Volume::CopyToSpare(std::vector<SlotChange>& changes, OperationScope& progress) {
  const uint32_t ss = geometry().sector_size;
  auto main_at = [&](size_t i) { return changes[i].entry.main_sector; };
  auto spare_at = [&](size_t i) {
    return changes[i].entry.pending ? kNoIo : table_->SpareByteOffset(changes[i].slot) / ss;
  };
  auto read_batch = [&](size_t b, size_t e, uint8_t* buf) {
    return ForEachGroup(DeviceRuns(b, e, main_at), [&](std::span<const EntryRun> group) {
      // The group's reads together; from the first failed one on (the
      // device may or may not have done those after it), run by run.
      size_t failed = 0;  // everything, should the device not say
      const Status st = main_->ReadBatch(RequestsFor<ReadRequest>(group, b, main_at, buf, ss),
                                         &failed);
      const size_t redo_from = st.ok() ? group.size() : std::min(failed, group.size() - 1);
      for (size_t k = redo_from; k < group.size(); ++k)
        ReadForRemap(changes, group[k].first, group[k].count, buf + (group[k].first - b) * ss,
                     k == failed ? st : Status::Ok());
      progress.Advance(SectorsIn(group));
      return Status::Ok();  // an unreadable sector is pending, not a failure
    });
  };
  // ReadForRemap may mark an entry pending, but only before its batch is
  // written: the write (on its own thread) sees the batch's final entries.
  auto write_batch = [&](size_t b, size_t e, uint8_t* buf) {
    return spare_->WriteBatch(
        RequestsFor<WriteRequest>(DeviceRuns(b, e, spare_at), b, spare_at, buf, ss), nullptr);
  };
  return PipelinedCopy(changes.size(), std::max<size_t>(1, kCopyBatchBytes / ss), ss, read_batch,
                       write_batch);
}

Status Volume::AddBad(const std::vector<SectorRange>& input) {
  const std::vector<SectorRange> ranges = NormalizeRanges(input);
  for (const SectorRange& r : ranges)
    if (r.first > r.last || r.last >= geometry().main_sectors)
      return Status::InvalidArgument("sectors " + std::to_string(r.first) + "-" +
                                     std::to_string(r.last) + " are outside MAIN");
  if (ranges.empty()) return Status::Ok();
  std::lock_guard one_at_a_time(control_mu_);
  auto region = sector_locks_.Lock(ranges.front().first, ranges.back().last,
                                   BlockRangeLock::Mode::kExclusive);
  std::vector<uint64_t> sectors, slots;
  {
    std::unique_lock lock(table_mu_);
    sectors = table_->UnmappedIn(ranges);  // fixed from here on: the region is ours
    if (sectors.empty()) return Status::Ok();
    if (sectors.size() > table_->free_slots())
      return Status::NoSpace("spare exhausted: " + std::to_string(sectors.size()) +
                             " sectors to remap but only " + std::to_string(table_->free_slots()) +
                             " free");
    REMAPFS_RETURN_IF_ERROR(table_->Allocate(sectors, &slots));
  }
  OperationScope progress(this, VolumeOperation::kAddBad, slots.size());
  std::vector<SlotChange> changes(sectors.size());
  for (size_t i = 0; i < sectors.size(); ++i)
    changes[i] = {slots[i], SlotEntry{true, false, sectors[i]}};
  Status st = CopyToSpare(changes, progress);
  if (st.ok()) st = spare_->Flush();  // the data is durable before the map names it
  std::unique_lock lock(table_mu_);
  if (st.ok()) st = table_->Commit(changes, changes.size());
  else table_->Release(slots);
  PublishView();  // a failed commit may have cost a metadata copy
  if (!st.ok()) return st.WithContext("add_bad");
  if (spdlog::should_log(spdlog::level::debug)) {
    for (const SlotChange& c : changes)
      spdlog::debug("remapped main sector {} -> spare sector {}{}", c.entry.main_sector,
                    table_->SpareByteOffset(c.slot) / geometry().sector_size,
                    c.entry.pending ? " (pending)" : "");
  }
  LogRanges("add_bad", ranges, "remapped", table_->metadata().sequence());
  return Status::Ok();
}

// Copies the data of the active sectors among `remapped` back to MAIN,
// batch by batch. A pending sector has no data worth copying: MAIN keeps
// what it has.
Status Volume::CopyToMain(const std::vector<SlotMapping>& remapped, OperationScope& progress) {
  const uint32_t ss = geometry().sector_size;
  auto spare_at = [&](size_t i) {
    return remapped[i].pending ? kNoIo : table_->SpareByteOffset(remapped[i].slot) / ss;
  };
  auto main_at = [&](size_t i) { return remapped[i].pending ? kNoIo : remapped[i].main_sector; };
  auto read_batch = [&](size_t b, size_t e, uint8_t* buf) {
    REMAPFS_RETURN_IF_ERROR(
        ForEachGroup(DeviceRuns(b, e, spare_at), [&](std::span<const EntryRun> group) {
          REMAPFS_RETURN_IF_ERROR(
              spare_->ReadBatch(RequestsFor<ReadRequest>(group, b, spare_at, buf, ss), nullptr));
          progress.Advance(SectorsIn(group));
          return Status::Ok();
        }));
    // Pending sectors are done without I/O.
    progress.Advance(std::count_if(remapped.begin() + b, remapped.begin() + e,
                                   [](const SlotMapping& m) { return m.pending; }));
    return Status::Ok();
  };
  auto write_batch = [&](size_t b, size_t e, uint8_t* buf) {
    return main_->WriteBatch(
        RequestsFor<WriteRequest>(DeviceRuns(b, e, main_at), b, main_at, buf, ss), nullptr);
  };
  return PipelinedCopy(remapped.size(), std::max<size_t>(1, kCopyBatchBytes / ss), ss, read_batch,
                       write_batch);
}

Status Volume::Remove(const std::vector<SectorRange>& input) {
  const std::vector<SectorRange> ranges = NormalizeRanges(input);
  if (ranges.empty()) return Status::Ok();
  std::lock_guard one_at_a_time(control_mu_);
  auto region = sector_locks_.Lock(ranges.front().first, ranges.back().last,
                                   BlockRangeLock::Mode::kExclusive);
  std::vector<SlotMapping> remapped;
  {
    std::shared_lock lock(table_mu_);
    remapped = table_->MappingsIn(ranges);
  }
  if (remapped.empty()) return Status::Ok();
  OperationScope progress(this, VolumeOperation::kRemove, remapped.size());
  REMAPFS_RETURN_IF_ERROR(CopyToMain(remapped, progress).WithContext("remove"));
  REMAPFS_RETURN_IF_ERROR(main_->Flush().WithContext("remove"));
  std::vector<SlotChange> changes;
  changes.reserve(remapped.size());
  for (const SlotMapping& m : remapped) changes.push_back({m.slot, SlotEntry{}});
  std::unique_lock lock(table_mu_);
  Status st = table_->Commit(changes, 0);
  PublishView();  // a failed commit may have cost a metadata copy
  if (!st.ok()) return st.WithContext("remove");
  LogRanges("remove", ranges, "returned to main", table_->metadata().sequence());
  return Status::Ok();
}

}  // namespace remapfs
