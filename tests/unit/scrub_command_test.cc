// The control/scrub grammar (core/scrub_command.cc): the three commands and
// every refusal, with the messages the mount shows in last_error.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "remapfs/scrub_command.h"

using namespace remapfs;

namespace {

constexpr uint64_t kMain = 4096;

ScrubCommand MustParse(std::string_view text) {
  ScrubCommand cmd;
  Status st = ParseScrubCommand(text, kMain, &cmd);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return cmd;
}

std::string MustRefuse(std::string_view text) {
  ScrubCommand cmd;
  cmd.ranges = {{1, 1}};  // must stay as it was
  Status st = ParseScrubCommand(text, kMain, &cmd);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(cmd.ranges == std::vector<SectorRange>{{1, 1}});
  return st.message();
}

}  // namespace

TEST_CASE("givenStartOrStop_whenParsed_thenWholeVolumeOrStop", "[scrub_grammar]") {
  CHECK(MustParse("start").kind == ScrubCommand::Kind::kStart);
  CHECK(MustParse("  start\n").kind == ScrubCommand::Kind::kStart);
  CHECK(MustParse("start # everything\n").kind == ScrubCommand::Kind::kStart);
  CHECK(MustParse("stop").kind == ScrubCommand::Kind::kStop);
  CHECK(MustParse(",stop,\n# why\n").kind == ScrubCommand::Kind::kStop);
  CHECK(MustParse("start").ranges.empty());
}

TEST_CASE("givenStartWithSectors_whenParsed_thenRangesInOrderAsWritten", "[scrub_grammar]") {
  ScrubCommand cmd = MustParse("start 100-199, 0x10+4\n5 # and five");
  CHECK(cmd.kind == ScrubCommand::Kind::kStartRanges);
  CHECK(cmd.ranges == std::vector<SectorRange>{{100, 199}, {16, 19}, {5, 5}});
  CHECK(MustParse("start\n4095").ranges == std::vector<SectorRange>{{4095, 4095}});
}

TEST_CASE("givenBadScrubCommands_whenParsed_thenRefusedWithTheMountsMessage", "[scrub_grammar]") {
  const std::string none = "no scrub command given (want start, start SECTORS or stop)";
  CHECK(MustRefuse("") == none);
  CHECK(MustRefuse(" \t\n,") == none);
  CHECK(MustRefuse("go") == "unknown scrub command 'go' (want start, start SECTORS or stop)");
  CHECK(MustRefuse("start#x") ==
        "unknown scrub command 'start#x' (want start, start SECTORS or stop)");
  CHECK(MustRefuse("# comment only") ==
        "unknown scrub command '#' (want start, start SECTORS or stop)");
  CHECK(MustRefuse("stop 5") == "scrub command 'stop' takes no argument");
  CHECK(MustRefuse("start 4096") == "sector 4096 is outside main (0..4095)");
  CHECK(MustRefuse("start 9-3").find("bad token \"9-3\": end before start") == 0);
}
