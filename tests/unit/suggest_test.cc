// "Did you mean" (cli/suggest.h): the edit distance on known pairs, and
// which typos get a suggestion for the remapfs commands and options.
#include <catch2/catch.hpp>
#include <string_view>
#include <vector>

#include "cli/suggest.h"

using remapfs::cli::ClosestMatch;
using remapfs::cli::EditDistance;

namespace {

const std::vector<std::string_view> kCommands = {"format", "mount",        "check",
                                                 "info",   "resize-spare", "mark"};

}  // namespace

TEST_CASE("givenTwoWords_whenMeasured_thenEachEditCostsOne", "[suggest]") {
  CHECK(EditDistance("", "") == 0);
  CHECK(EditDistance("format", "format") == 0);
  CHECK(EditDistance("", "mark") == 4);
  CHECK(EditDistance("mark", "") == 4);
  CHECK(EditDistance("formt", "format") == 1);    // a deletion
  CHECK(EditDistance("formatt", "format") == 1);  // an insertion
  CHECK(EditDistance("furmat", "format") == 1);   // a substitution
  CHECK(EditDistance("fromat", "format") == 1);   // a swap of neighbours
  CHECK(EditDistance("ofrmta", "format") == 2);   // two swaps
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(EditDistance("ca", "abc") == 3);  // restricted: no edit inside a swap
  CHECK(EditDistance("check", "mount") == EditDistance("mount", "check"));
}

TEST_CASE("givenATypoOfACommand_whenMatched_thenThatCommandIsSuggested", "[suggest]") {
  CHECK(ClosestMatch("formt", kCommands) == "format");
  CHECK(ClosestMatch("fromat", kCommands) == "format");
  CHECK(ClosestMatch("mont", kCommands) == "mount");
  CHECK(ClosestMatch("chekc", kCommands) == "check");
  CHECK(ClosestMatch("ifno", kCommands) == "info");
  CHECK(ClosestMatch("mak", kCommands) == "mark");
  CHECK(ClosestMatch("resize-spare", kCommands) == std::nullopt);  // itself: no typo
  CHECK(ClosestMatch("resize_sapre", kCommands) == "resize-spare");
  CHECK(ClosestMatch("force", {"spare-size", "sector-size", "strategy", "force", "help"}) ==
        std::nullopt);
  CHECK(ClosestMatch("forse", {"spare-size", "sector-size", "strategy", "force", "help"}) ==
        "force");
}

TEST_CASE("givenAWordFarFromEveryCommand_whenMatched_thenNothingIsSuggested", "[suggest]") {
  CHECK(ClosestMatch("frobnicate", kCommands) == std::nullopt);
  CHECK(ClosestMatch("", kCommands) == std::nullopt);
  // Short words: a third of the length bounds the distance, so two letters
  // suggest nothing, and three or four at most one edit away.
  CHECK(ClosestMatch("mo", kCommands) == std::nullopt);
  CHECK(ClosestMatch("inf", kCommands) == "info");
  CHECK(ClosestMatch("ino", kCommands) == "info");
  CHECK(ClosestMatch("mrk", kCommands) == "mark");
  CHECK(ClosestMatch("mnt", kCommands) == std::nullopt);           // 2 edits from mount, 3 letters
  CHECK(ClosestMatch("frmt", kCommands) == std::nullopt);          // 2 edits, 4 letters
  CHECK(ClosestMatch("frmat", kCommands) == "format");             // 1 edit, 5 letters
  CHECK(ClosestMatch("fxrmxt", kCommands) == "format");            // 2 edits, 6 letters
  CHECK(ClosestMatch("fxrxxt", kCommands) == std::nullopt);        // 3 edits
  CHECK(ClosestMatch("resize-xxxre", kCommands) == std::nullopt);  // 3 edits: never, however long
}

TEST_CASE("givenTwoCandidatesEquallyClose_whenMatched_thenTheEarlierIsSuggested", "[suggest]") {
  CHECK(ClosestMatch("abcx", {"abcy", "abcz"}) == "abcy");
  CHECK(ClosestMatch("abcx", {"abcz", "abcy"}) == "abcz");
  CHECK(ClosestMatch("abcx", {"xbcy", "abcz"}) == "abcz");  // the closer, not the first
}
