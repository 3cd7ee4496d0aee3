// Fuzzes the control/inject grammar (ParseInjectCommands), applying it to a
// FaultyDevice, and the listing FormatFaults gives back.
//
// The input is the text written to control/inject, parsed against several
// MAIN sizes. Invariants beyond "no crash":
//  - a refusal is InvalidArgument and leaves the output empty;
//  - every command is well formed: add/clear carry ranges inside MAIN,
//    `clear all` and `latency` none, a latency within its limit; a text
//    accepted for one MAIN is accepted unchanged for a larger one;
//  - for a small MAIN, the device's faults after applying equal a
//    sector-by-sector model: sorted, disjoint, adjacent equal modes merged;
//  - the listing, read back as commands, rebuilds exactly the same faults.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuzz_util.h"
#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/inject_command.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

constexpr uint64_t kModelSectors = 4096;  // MAINs up to this size get the model
constexpr int kNoFault = -1;

std::unique_ptr<FaultyDevice> NewDevice() {
  return std::make_unique<FaultyDevice>(NewMemoryDevice(512), 512);
}

// The command that adds a fault of `mode` (the grammar has no flaky mode).
std::string_view CommandWord(FaultMode mode) {
  switch (mode) {
    case FaultMode::kRead: return "read";
    case FaultMode::kWrite: return "write";
    default: return "rw";
  }
}

void CheckCommand(const InjectCommand& cmd, uint64_t main_sectors) {
  using Action = InjectCommand::Action;
  if (cmd.action == Action::kAdd || cmd.action == Action::kClear) {
    FUZZ_CHECK(!cmd.ranges.empty(), "add or clear without ranges");
    CheckInBounds(cmd.ranges, main_sectors);
    FUZZ_CHECK(cmd.mode != FaultMode::kFlakyRead, "flaky mode from the grammar");
  } else {
    FUZZ_CHECK(cmd.ranges.empty(), "clear all or latency with ranges");
  }
  FUZZ_CHECK(cmd.latency.count() >= 0 &&
                 static_cast<uint64_t>(cmd.latency.count()) <= kMaxInjectLatencyMs,
             "latency {} ms", cmd.latency.count());
}

// The faults a sector-by-sector model of `commands` expects.
std::vector<Fault> ModelFaults(const std::vector<InjectCommand>& commands) {
  std::vector<int> mode(kModelSectors, kNoFault);
  for (const InjectCommand& cmd : commands) {
    if (cmd.action == InjectCommand::Action::kClearAll)
      std::fill(mode.begin(), mode.end(), kNoFault);
    for (const SectorRange& r : cmd.ranges)
      for (uint64_t s = r.first; s <= r.last; ++s)
        mode[s] = cmd.action == InjectCommand::Action::kClear ? kNoFault
                                                              : static_cast<int>(cmd.mode);
  }
  std::vector<Fault> faults;
  for (uint64_t s = 0; s < kModelSectors; ++s) {
    if (mode[s] == kNoFault) continue;
    if (!faults.empty() && faults.back().last + 1 == s &&
        static_cast<int>(faults.back().mode) == mode[s]) {
      faults.back().last = s;
    } else {
      faults.push_back(Fault{s, s, static_cast<FaultMode>(mode[s])});
    }
  }
  return faults;
}

bool SameFaults(const std::vector<Fault>& a, const std::vector<Fault>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const Fault& x, const Fault& y) {
    return x.first == y.first && x.last == y.last && x.mode == y.mode;
  });
}

// "<first> <last> <mode>" lines back into "<mode> <first>-<last>" commands.
void CheckListingRoundTrip(const std::vector<Fault>& faults, uint64_t main_sectors) {
  const std::string listing = FormatFaults(faults);
  if (faults.empty()) {
    FUZZ_CHECK(listing.empty(), "listing of no faults: '{}'", listing);
    return;
  }
  std::string commands;
  for (const Fault& f : faults)
    commands += fmt::format("{} {}-{}\n", CommandWord(f.mode), f.first, f.last);
  std::vector<InjectCommand> parsed;
  const Status st = ParseInjectCommands(commands, main_sectors, &parsed);
  FUZZ_CHECK(st.ok(), "listing '{}' as commands: {}", listing, st.ToString());
  auto device = NewDevice();
  ApplyInjectCommands(parsed, device.get());
  FUZZ_CHECK(FormatFaults(device->Faults()) == listing, "rebuilt '{}', want '{}'",
             FormatFaults(device->Faults()), listing);
}

void CheckOneLimit(std::string_view text, uint64_t main_sectors) {
  std::vector<InjectCommand> commands;
  const Status st = ParseInjectCommands(text, main_sectors, &commands);
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument() && commands.empty(), "{}", st.ToString());
    return;
  }
  FUZZ_CHECK(!commands.empty(), "accepted with no command");
  for (const InjectCommand& cmd : commands) CheckCommand(cmd, main_sectors);
  std::vector<InjectCommand> wider;
  FUZZ_CHECK(ParseInjectCommands(text, kU64Max, &wider).ok() && wider.size() == commands.size(),
             "accepted for {} sectors, not for more", main_sectors);
  auto device = NewDevice();
  ApplyInjectCommands(commands, device.get());
  const std::vector<Fault> faults = device->Faults();
  if (main_sectors <= kModelSectors)
    FUZZ_CHECK(SameFaults(faults, ModelFaults(commands)), "device has '{}', model '{}'",
               FormatFaults(faults), FormatFaults(ModelFaults(commands)));
  std::chrono::milliseconds latency{0};  // the last `latency` command wins
  for (const InjectCommand& cmd : commands)
    if (cmd.action == InjectCommand::Action::kLatency) latency = cmd.latency;
  FUZZ_CHECK(device->error_latency() == latency, "device latency {} ms, want {} ms",
             device->error_latency().count(), latency.count());
  CheckListingRoundTrip(faults, main_sectors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (uint64_t limit : kMainSizes) CheckOneLimit(AsText(data, size), limit);
  return 0;
}
