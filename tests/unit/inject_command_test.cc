// The control/inject grammar (core/inject_command.cc): every command form,
// every refusal with its line number, applying to a FaultyDevice, and the
// listing read back from control/inject.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/inject_command.h"

using namespace remapfs;

namespace {

constexpr uint64_t kMain = 1000;

std::vector<InjectCommand> MustParse(std::string_view text) {
  std::vector<InjectCommand> out;
  Status st = ParseInjectCommands(text, kMain, &out);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return out;
}

std::string MustRefuse(std::string_view text) {
  std::vector<InjectCommand> out;
  Status st = ParseInjectCommands(text, kMain, &out);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(out.empty());
  return st.message();
}

std::string Applied(std::string_view text) {
  FaultyDevice dev(NewMemoryDevice(kMain * 512), 512);
  ApplyInjectCommands(MustParse(text), &dev);
  return FormatFaults(dev.Faults());
}

}  // namespace

TEST_CASE("givenEachCommand_whenParsed_thenActionModeAndRanges", "[inject_grammar]") {
  auto cmds = MustParse("read 1-3\nwrite 5\nrw 7+2, 20\nclear 2\nclear all\nlatency 25\n");
  REQUIRE(cmds.size() == 6);
  CHECK(cmds[0].action == InjectCommand::Action::kAdd);
  CHECK(cmds[0].mode == FaultMode::kRead);
  CHECK(cmds[0].ranges == std::vector<SectorRange>{{1, 3}});
  CHECK(cmds[1].mode == FaultMode::kWrite);
  CHECK(cmds[2].mode == FaultMode::kReadWrite);
  CHECK(cmds[2].ranges == std::vector<SectorRange>{{7, 8}, {20, 20}});
  CHECK(cmds[3].action == InjectCommand::Action::kClear);
  CHECK(cmds[4].action == InjectCommand::Action::kClearAll);
  CHECK(cmds[4].ranges.empty());
  CHECK(cmds[5].action == InjectCommand::Action::kLatency);
  CHECK(cmds[5].latency.count() == 25);
}

TEST_CASE("givenCommentsAndBlankLines_whenParsed_thenSkipped", "[inject_grammar]") {
  auto cmds = MustParse("# faults\n\n  read 4 # the bad one\r\n\t\n");
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].ranges == std::vector<SectorRange>{{4, 4}});
}

TEST_CASE("givenBadLines_whenParsed_thenRefusedNamingTheLine", "[inject_grammar]") {
  CHECK(MustRefuse("") == "no inject command given");
  CHECK(MustRefuse("# only a comment\n") == "no inject command given");
  CHECK(MustRefuse("read 1\nflip 2") ==
        "line 2: unknown inject command 'flip' (want read, write, rw, clear or latency)");
  CHECK(MustRefuse("read") == "line 1: inject command 'read' needs SECTORS");
  CHECK(MustRefuse("clear") == "line 1: inject command 'clear' needs SECTORS");
  CHECK(MustRefuse("\nwrite 1000") == "line 2: sector 1000 is outside main (0..999)");
  CHECK(MustRefuse("rw 5-x").find("line 1: bad token \"5-x\"") == 0);
  CHECK(MustRefuse("latency 600001") ==
        "line 1: inject command 'latency' needs milliseconds from 0 to 600000, not '600001'");
  CHECK(MustRefuse("latency").find("needs milliseconds") != std::string::npos);
  CHECK(MustRefuse("latency 5 6").find("not '5 6'") != std::string::npos);
  CHECK(MustRefuse("latency -1").find("not '-1'") != std::string::npos);
}

TEST_CASE("givenCommands_whenApplied_thenFaultsListSortedAndMerged", "[inject_grammar]") {
  CHECK(Applied("read 10-12\nread 13\nwrite 5") == "5 5 write\n10 13 read\n");
  CHECK(Applied("rw 0-9\nclear 3-4") == "0 2 rw\n5 9 rw\n");
  CHECK(Applied("rw 0-9\nread 4") == "0 3 rw\n4 4 read\n5 9 rw\n");
  CHECK(Applied("rw 0-9, 500\nclear all\nwrite 999") == "999 999 write\n");
}

TEST_CASE("givenLatency_whenApplied_thenDeviceWaitsThatLong", "[inject_grammar]") {
  FaultyDevice dev(NewMemoryDevice(kMain * 512), 512);
  ApplyInjectCommands(MustParse("latency 40"), &dev);
  CHECK(dev.error_latency().count() == 40);
  ApplyInjectCommands(MustParse("latency 0"), &dev);
  CHECK(dev.error_latency().count() == 0);
}

TEST_CASE("givenFaultListing_whenReadBackAsCommands_thenSameFaults", "[inject_grammar]") {
  const std::string listing = Applied("read 1-3\nwrite 7\nrw 100+50\nread 999");
  std::string commands;  // "<first> <last> <mode>" -> "<mode> <first>-<last>"
  size_t pos = 0;
  while (pos < listing.size()) {
    const size_t eol = listing.find('\n', pos);
    const std::string line = listing.substr(pos, eol - pos);
    const size_t a = line.find(' '), b = line.rfind(' ');
    commands += line.substr(b + 1) + " " + line.substr(0, a) + "-" + line.substr(a + 1, b - a - 1) +
                "\n";
    pos = eol + 1;
  }
  CHECK(Applied(commands) == listing);
}
