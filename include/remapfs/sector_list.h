// The control-file input grammar (SPEC "Control-file input grammar"), and
// byte-size parsing for the CLI.
//
// Tokens are separated by spaces, tabs, commas or newlines; '#' starts a
// comment to end of line. A token is N, N-M (M >= N) or N+C (C >= 1); numbers
// are decimal or 0x hex. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/status.h"

namespace remapfs {

struct SectorRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t count() const { return last - first + 1; }
  bool operator==(const SectorRange&) const = default;
};

// Parses `text` into ranges, each checked against [0, limit). On any error
// returns InvalidArgument naming the offending token and leaves `out` empty.
// An input with no tokens (only blanks or comments) is InvalidArgument too.
Status ParseSectorList(std::string_view text, uint64_t limit, std::vector<SectorRange>* out);

// Sorts and merges overlapping or adjacent ranges.
std::vector<SectorRange> NormalizeRanges(std::vector<SectorRange> ranges);

// "4096", "64K", "1M", "2G", "1T" (powers of 1024). InvalidArgument on
// anything else, zero, or overflow.
Status ParseByteSize(std::string_view text, uint64_t* bytes);

}  // namespace remapfs
