// Fuzzes the add_bad/remove grammar (ParseSectorList) and NormalizeRanges.
//
// The input is the text written to the control file, parsed against several
// MAIN sizes. Invariants beyond "no crash":
//  - a refusal is InvalidArgument with a message and leaves the output empty;
//  - every range has first <= last < limit, one range per token (counted by
//    an independent tokenizer), and a list accepted for one MAIN is accepted
//    unchanged for any larger MAIN;
//  - the ranges rendered back as text in every token form re-parse equal;
//  - NormalizeRanges is sorted, disjoint, non-adjacent, covers the same
//    sectors, and normalizing again changes nothing.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "remapfs/sector_list.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r'; }

size_t CountTokens(std::string_view text) {
  size_t tokens = 0;
  bool in_token = false, in_comment = false;
  for (char c : text) {
    if (in_comment) {
      in_comment = c != '\n';
      continue;
    }
    in_comment = c == '#';
    const bool token_char = !in_comment && !IsSeparator(c);
    if (token_char && !in_token) ++tokens;
    in_token = token_char;
  }
  return tokens;
}

// Each range in a different token form and separator, with a comment.
std::string Render(const std::vector<SectorRange>& ranges) {
  static constexpr std::string_view kSeparators[] = {" ", ",", "\t", "\n", "\r\n", " # note\n"};
  std::string text;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const SectorRange& r = ranges[i];
    switch (i % 4) {
      case 0:
        text += r.first == r.last ? fmt::format("{}", r.first)
                                  : fmt::format("{}-{}", r.first, r.last);
        break;
      case 1: text += fmt::format("{}+{}", r.first, r.last - r.first + 1); break;
      case 2: text += fmt::format("0x{:x}-0X{:X}", r.first, r.last); break;
      default: text += fmt::format("0x{:X}+0x{:x}", r.first, r.last - r.first + 1);
    }
    text += kSeparators[i % std::size(kSeparators)];
  }
  return text;
}

void CheckNormalize(const std::vector<SectorRange>& ranges) {
  const std::vector<SectorRange> merged = NormalizeRanges(ranges);
  CheckNormalForm(merged);
  CheckSameSectors(ranges, merged);
  FUZZ_CHECK(NormalizeRanges(merged) == merged, "normalizing twice changed {}", RangesText(merged));
}

void CheckOneLimit(std::string_view text, uint64_t limit) {
  std::vector<SectorRange> ranges = {{7, 7}};  // a refusal must empty it
  const Status st = ParseSectorList(text, limit, &ranges);
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument() && ranges.empty() && !st.message().empty(),
               "refusal {} left {}", st.ToString(), RangesText(ranges));
    return;
  }
  FUZZ_CHECK(ranges.size() == CountTokens(text), "{} ranges for {} tokens", ranges.size(),
             CountTokens(text));
  CheckInBounds(ranges, limit);
  std::vector<SectorRange> wider;
  FUZZ_CHECK(ParseSectorList(text, kU64Max, &wider).ok() && wider == ranges,
             "accepted for limit {} but not the same for a larger one", limit);
  const std::string rendered = Render(ranges);
  std::vector<SectorRange> again;
  const Status st2 = ParseSectorList(rendered, limit, &again);
  FUZZ_CHECK(st2.ok() && again == ranges, "re-parse of '{}': {} gave {}", rendered, st2.ToString(),
             RangesText(again));
  CheckNormalize(ranges);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (uint64_t limit : kMainSizes) CheckOneLimit(AsText(data, size), limit);
  return 0;
}
