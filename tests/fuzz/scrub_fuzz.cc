// Fuzzes the control/scrub grammar (ParseScrubCommand).
//
// The input is the text written to control/scrub, parsed against several
// MAIN sizes. Invariants beyond "no crash":
//  - a refusal is InvalidArgument and leaves the output untouched;
//  - `start` and `stop` carry no ranges; `start SECTORS` carries at least
//    one, inside MAIN, exactly what the sector-list grammar makes of the
//    text after the word `start` (read here independently of the parser);
//  - the ranges rendered back as "start a-b,c-d" re-parse equal.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "remapfs/scrub_command.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

using Kind = ScrubCommand::Kind;

// The text after a leading `start` word, or false when there is none.
bool AfterStartWord(std::string_view text, std::string_view* rest) {
  constexpr std::string_view kBlanks = " \t\r\n,";
  const size_t begin = text.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos || text.substr(begin, 5) != "start") return false;
  *rest = text.substr(begin + 5);
  return rest->empty() || kBlanks.find(rest->front()) != std::string_view::npos;
}

void CheckRanges(std::string_view text, const ScrubCommand& cmd, uint64_t limit) {
  FUZZ_CHECK(!cmd.ranges.empty(), "start SECTORS with no range");
  CheckInBounds(cmd.ranges, limit);
  std::string_view rest;
  FUZZ_CHECK(AfterStartWord(text, &rest), "ranges without a start word");
  std::vector<SectorRange> expected;
  FUZZ_CHECK(ParseSectorList(rest, limit, &expected).ok() && expected == cmd.ranges,
             "ranges {} differ from the sector list {}", RangesText(cmd.ranges),
             RangesText(expected));
  std::string rendered = "start ";
  for (const SectorRange& r : cmd.ranges) rendered += fmt::format("{}-{},", r.first, r.last);
  ScrubCommand again;
  const Status st = ParseScrubCommand(rendered, limit, &again);
  FUZZ_CHECK(st.ok() && again.kind == Kind::kStartRanges && again.ranges == cmd.ranges,
             "'{}' re-parsed: {}", rendered, st.ToString());
}

void CheckOneLimit(std::string_view text, uint64_t limit) {
  const std::vector<SectorRange> sentinel = {{3, 5}};  // a refusal leaves it
  ScrubCommand cmd;
  cmd.kind = Kind::kStart;
  cmd.ranges = sentinel;
  const Status st = ParseScrubCommand(text, limit, &cmd);
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument() && cmd.kind == Kind::kStart && cmd.ranges == sentinel,
               "refusal {} changed the output", st.ToString());
    return;
  }
  std::string_view rest;
  switch (cmd.kind) {
    case Kind::kStop:
      FUZZ_CHECK(cmd.ranges.empty() && !AfterStartWord(text, &rest), "stop: {}",
                 RangesText(cmd.ranges));
      break;
    case Kind::kStart:
      FUZZ_CHECK(cmd.ranges.empty() && AfterStartWord(text, &rest), "start: {}",
                 RangesText(cmd.ranges));
      break;
    case Kind::kStartRanges: CheckRanges(text, cmd, limit); break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (uint64_t limit : kMainSizes) CheckOneLimit(AsText(data, size), limit);
  return 0;
}
