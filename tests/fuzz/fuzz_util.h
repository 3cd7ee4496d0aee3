// Shared by the libFuzzer harnesses in this folder: how an invariant fails,
// and the checks on sector ranges that several parsers share.
//
// A failed invariant prints what broke and aborts, so libFuzzer reports a
// crash and saves the input as an artifact (crash-<sha1>). Never used by
// the product: the harnesses alone include it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "remapfs/sector_list.h"

namespace remapfs::fuzz {

inline constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
// The MAIN sizes (in sectors) the grammar harnesses parse each input
// against: none, one sector, a small disk, the largest possible.
inline constexpr uint64_t kMainSizes[] = {0, 1, 4096, kU64Max};

[[noreturn]] inline void Fail(const char* file, int line, const char* what,
                              const std::string& detail) {
  std::fprintf(stderr, "\nINVARIANT FAILED at %s:%d: %s\n  %s\n", file, line, what, detail.c_str());
  std::abort();
}

// FUZZ_CHECK(cond, "fmt {}", args...): abort with the message unless cond.
#define FUZZ_CHECK(cond, ...)                                                                \
  do {                                                                                       \
    if (!(cond)) ::remapfs::fuzz::Fail(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
  } while (0)

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline std::string RangesText(const std::vector<SectorRange>& ranges) {
  std::string out;
  for (const SectorRange& r : ranges) out += fmt::format("[{},{}] ", r.first, r.last);
  return out.empty() ? "(none)" : out;
}

// Every range is well formed and inside [0, limit).
inline void CheckInBounds(const std::vector<SectorRange>& ranges, uint64_t limit) {
  for (const SectorRange& r : ranges)
    FUZZ_CHECK(r.first <= r.last && r.last < limit, "range [{},{}] vs limit {}: {}", r.first,
               r.last, limit, RangesText(ranges));
}

// The normal form NormalizeRanges promises: sorted, and each range ends at
// least one whole sector before the next begins (no overlap, no adjacency).
inline void CheckNormalForm(const std::vector<SectorRange>& ranges) {
  for (size_t i = 0; i < ranges.size(); ++i) {
    FUZZ_CHECK(ranges[i].first <= ranges[i].last, "range {}: {}", i, RangesText(ranges));
    if (i + 1 < ranges.size())
      FUZZ_CHECK(ranges[i].last != kU64Max && ranges[i].last + 1 < ranges[i + 1].first,
                 "ranges {} and {} overlap or touch: {}", i, i + 1, RangesText(ranges));
  }
}

// `merged` (in normal form) covers exactly the sectors of `ranges`. Checked
// without merging again: every input range lies inside one merged range,
// and the inputs inside each merged range chain from its first to its last
// sector without a gap.
inline void CheckSameSectors(std::vector<SectorRange> ranges,
                             const std::vector<SectorRange>& merged) {
  std::sort(ranges.begin(), ranges.end(),
            [](const SectorRange& a, const SectorRange& b) { return a.first < b.first; });
  size_t next = 0;
  for (const SectorRange& m : merged) {
    FUZZ_CHECK(next < ranges.size() && ranges[next].first == m.first,
               "merged [{},{}] does not start at an input range", m.first, m.last);
    uint64_t reach = ranges[next].last;  // covered: [m.first, reach]
    for (; next < ranges.size() && ranges[next].first <= m.last; ++next) {
      FUZZ_CHECK(ranges[next].first <= reach || ranges[next].first - 1 == reach,
                 "gap before sector {} inside merged [{},{}]", ranges[next].first, m.first, m.last);
      FUZZ_CHECK(ranges[next].last <= m.last, "input [{},{}] sticks out of merged [{},{}]",
                 ranges[next].first, ranges[next].last, m.first, m.last);
      reach = std::max(reach, ranges[next].last);
    }
    FUZZ_CHECK(reach == m.last, "merged [{},{}] covers only up to {}", m.first, m.last, reach);
  }
  FUZZ_CHECK(next == ranges.size(), "input range [{},{}] lies in no merged range",
             ranges[next].first, ranges[next].last);
}

}  // namespace remapfs::fuzz
