// Volume: narrowing a failed MAIN request down to the units that fail, the
// way a drive's error recovery does, within a deadline (its ERC).
//
// A unit is the smallest request MAIN serves on its own (the sector size, or
// the O_DIRECT alignment when larger: a smaller write would read-modify-write
// the whole unit anyway). On a dying disk a failing probe costs seconds (a
// drive without ERC retries internally) and a healthy one microseconds, so
// what narrowing must minimise is failing probes:
//  - up to kProbeEachUnitUpTo units, each unit is probed once: one failure
//    per bad unit, whatever its place;
//  - above that (a scrub chunk, a long span), the range is split at a unit
//    boundary near its middle and the left half probed; if it works, the
//    right half holds the failure and is split without being probed whole;
//    k bad units among n then cost about k·log2(n) failing probes.
// No unit that failed on its own is probed again, except by the read
// retries that come last, while time remains.
//
// Every probe first checks the deadline (counted from the request's start):
// a probe already under way is not interrupted, so recovery ends at most one
// failing probe after it; retries, expected to fail, start only if they would
// end in time. What was not
// probed by then is `unresolved`: the caller decides (a read makes it
// pending, a write remaps it, a scrub leaves it for the next pass).
//
// Locking: the caller holds the request's region of sector_locks_
// exclusively and no table lock: the runs it narrows are fixed by the region
// lock, and nothing here touches the table.
#include <algorithm>

#include "remapfs/volume.h"

namespace remapfs {
namespace {

// 2048 healthy probes of 512 bytes take well under a second; beyond that,
// bisection. (A 1 MiB request is 2048 sectors.)
constexpr uint64_t kProbeEachUnitUpTo = 2048;

}  // namespace

Volume::ProbeResult Volume::ProbeMain(Narrowing& n, uint64_t begin, uint64_t end) {
  if (!n.hard.ok()) return ProbeResult::kSkipped;
  if (Clock::now() >= n.deadline) {
    n.unresolved.push_back({begin, end});
    return ProbeResult::kSkipped;
  }
  uint8_t* data = n.data + (begin - n.base);
  const Clock::time_point t = Clock::now();
  Status st = n.write ? main_->Write(begin, data, end - begin)
                      : main_->Read(begin, data, end - begin);
  if (st.ok()) return ProbeResult::kOk;
  n.slowest_failure = std::max(n.slowest_failure, Clock::now() - t);
  if (!IsMediaError(st)) {
    n.hard = st;
    return ProbeResult::kSkipped;
  }
  CountError(st, n.write);
  return ProbeResult::kBad;
}

// [begin, end) is known to fail as a whole if `probed` (it was tried on its
// own); else it is only suspect (a request containing it failed).
void Volume::NarrowKnownBad(Narrowing& n, uint64_t begin, uint64_t end, bool probed) {
  const uint64_t first_unit = begin / main_unit_, last_unit = (end - 1) / main_unit_;
  if (first_unit == last_unit) {
    if (probed || ProbeMain(n, begin, end) == ProbeResult::kBad) n.bad.push_back({begin, end});
    return;
  }
  if (last_unit - first_unit < kProbeEachUnitUpTo) {
    for (uint64_t u = first_unit; u <= last_unit; ++u) {
      const uint64_t b = std::max(begin, u * main_unit_), e = std::min(end, (u + 1) * main_unit_);
      if (ProbeMain(n, b, e) == ProbeResult::kBad) n.bad.push_back({b, e});
    }
    return;
  }
  const uint64_t mid = (first_unit + (last_unit - first_unit + 1) / 2) * main_unit_;
  const ProbeResult left = ProbeMain(n, begin, mid);
  if (left == ProbeResult::kBad) NarrowKnownBad(n, begin, mid, true);
  if (left == ProbeResult::kOk && probed) {
    NarrowKnownBad(n, mid, end, false);  // the failure is on the right
    return;
  }
  if (ProbeMain(n, mid, end) == ProbeResult::kBad) NarrowKnownBad(n, mid, end, true);
}

// Reads only: each bad unit gets up to `retries` more reads, but only while
// one more failure, as slow as the slowest so far, would still end before
// the deadline (a retry is expected to fail). One that reads is weak, not
// bad (its data is in the buffer).
void Volume::RetryBadReads(Narrowing& n, uint32_t retries) {
  std::vector<ByteRange> still_bad;
  for (const ByteRange& r : n.bad) {
    bool read = false;
    for (uint32_t i = 0;
         i < retries && !read && n.hard.ok() && Clock::now() + n.slowest_failure < n.deadline;
         ++i) {
      const Clock::time_point t = Clock::now();
      Status st = main_->Read(r.begin, n.data + (r.begin - n.base), r.end - r.begin);
      read = st.ok();
      if (st.ok()) break;
      n.slowest_failure = std::max(n.slowest_failure, Clock::now() - t);
      if (!IsMediaError(st)) n.hard = st;
      CountError(st, false);
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

}  // namespace remapfs
