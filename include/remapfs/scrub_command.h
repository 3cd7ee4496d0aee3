// The `control/scrub` grammar (SPEC "Failing-disk behaviour"):
//   start | start SECTORS | stop
// The first word is the command; SECTORS follow the control-file grammar
// (sector_list.h), '#' comments allowed; blanks, commas and newlines
// separate. Pure function, thread-safe: the mount applies the result.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "remapfs/sector_list.h"
#include "remapfs/status.h"

namespace remapfs {

struct ScrubCommand {
  enum class Kind { kStart, kStartRanges, kStop };
  Kind kind = Kind::kStop;
  // kStartRanges only: the ranges as written (in order, not merged), each
  // inside MAIN, at least one.
  std::vector<SectorRange> ranges;
};

// Parses one write to control/scrub for a MAIN of `main_sectors` sectors.
// InvalidArgument on an empty command, an unknown word, an argument to
// `stop`, or a bad sector list (the sector_list.h message); `out` is
// untouched then.
Status ParseScrubCommand(std::string_view text, uint64_t main_sectors, ScrubCommand* out);

}  // namespace remapfs
