// Volume: narrowing a failed MAIN request down to the units that fail, the
// way a drive's error recovery does, within a deadline (its ERC).
//
// A unit is the smallest request MAIN serves on its own (the sector size, or
// the O_DIRECT alignment when larger: a smaller write would read-modify-write
// the whole unit anyway). A range known to fail is split at a unit boundary
// near its middle; the left half is probed; if it reads (writes) fine, the
// right half holds the failure and is split without being probed as a whole;
// otherwise both halves are narrowed. So k bad units among n cost about
// k·log2(n) probes, and no unit that failed on its own is probed again,
// except by the read retries that come last, while time remains.
//
// Every probe first checks the deadline: a probe already under way is not
// interrupted, so recovery ends at most one probe after it. What was not
// probed by then is `unresolved`: the caller decides (a read makes it
// pending, a write remaps it, a scrub leaves it for the next pass).
//
// Locking: the caller holds the request's region of sector_locks_
// exclusively and no table lock: the runs it narrows are fixed by the region
// lock, and nothing here touches the table.
#include <algorithm>

#include "remapfs/volume.h"
#include "volume_split.h"

namespace remapfs {

Volume::ProbeResult Volume::ProbeMain(Narrowing& n, uint64_t begin, uint64_t end) {
  if (!n.hard.ok()) return ProbeResult::kSkipped;
  if (Clock::now() >= n.deadline) {
    n.unresolved.push_back({begin, end});
    return ProbeResult::kSkipped;
  }
  uint8_t* data = n.data + (begin - n.base);
  Status st = n.write ? main_->Write(begin, data, end - begin)
                      : main_->Read(begin, data, end - begin);
  if (st.ok()) return ProbeResult::kOk;
  if (!IsMediaError(st)) {
    n.hard = st;
    return ProbeResult::kSkipped;
  }
  CountError(st, n.write);
  return ProbeResult::kBad;
}

// [begin, end) is known to fail as a whole; `probed` says whether it was
// tried on its own (else only a larger range containing it failed).
void Volume::NarrowKnownBad(Narrowing& n, uint64_t begin, uint64_t end, bool probed) {
  const uint64_t first_unit = begin / main_unit_, last_unit = (end - 1) / main_unit_;
  if (first_unit == last_unit) {
    if (probed) {
      n.bad.push_back({begin, end});
    } else if (ProbeMain(n, begin, end) == ProbeResult::kBad) {
      n.bad.push_back({begin, end});
    }
    return;
  }
  const uint64_t mid = (first_unit + (last_unit - first_unit + 1) / 2) * main_unit_;
  const ProbeResult left = ProbeMain(n, begin, mid);
  if (left == ProbeResult::kBad) NarrowKnownBad(n, begin, mid, true);
  if (left == ProbeResult::kOk) {
    NarrowKnownBad(n, mid, end, false);  // the failure is on the right
    return;
  }
  if (ProbeMain(n, mid, end) == ProbeResult::kBad) NarrowKnownBad(n, mid, end, true);
}

// Reads only: each bad unit gets up to `retries` more reads while time
// remains; one that reads is weak, not bad (its data is in the buffer).
void Volume::RetryBadReads(Narrowing& n, uint32_t retries) {
  std::vector<ByteRange> still_bad;
  for (const ByteRange& r : n.bad) {
    bool read = false;
    for (uint32_t i = 0; i < retries && !read && n.hard.ok() && Clock::now() < n.deadline; ++i) {
      Status st = main_->Read(r.begin, n.data + (r.begin - n.base), r.end - r.begin);
      read = st.ok();
      if (!st.ok() && !IsMediaError(st)) n.hard = st;
      if (!st.ok()) CountError(st, false);
    }
    (read ? n.weak : still_bad).push_back(r);
  }
  n.bad = std::move(still_bad);
}

std::vector<uint64_t> Volume::SectorsOf(const std::vector<ByteRange>& ranges) const {
  const uint64_t ss = geometry().sector_size;
  std::vector<uint64_t> sectors;
  for (const ByteRange& r : ranges)
    for (uint64_t s = r.begin / ss; s * ss < r.end; ++s) sectors.push_back(s);
  std::sort(sectors.begin(), sectors.end());
  sectors.erase(std::unique(sectors.begin(), sectors.end()), sectors.end());
  return sectors;
}

// The runs of [offset, offset+len) as ForEachRun splits them, for work
// that must not hold table_mu_ while it does I/O. Caller holds table_mu_.
std::vector<Volume::Run> Volume::SnapshotRuns(uint64_t offset, size_t len) const {
  std::vector<Run> runs;
  (void)ForEachRun(offset, len, [&](BlockDevice& dev, uint64_t at, size_t pos, size_t n) {
    runs.push_back({&dev == main_.get(), at, pos, n});
    return Status::Ok();
  });
  return runs;
}

}  // namespace remapfs
