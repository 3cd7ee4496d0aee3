// The `control/inject` grammar (SPEC "Failing-disk behaviour"):
//   read SECTORS | write SECTORS | rw SECTORS | clear SECTORS | clear all
//   | latency MS
// one command per line; SECTORS follow the control-file grammar on that
// line ('#' comments allowed). `latency MS` (decimal milliseconds, 0 to
// kMaxInjectLatencyMs; 0 turns it off) makes every injected failure wait
// that long before its EIO, as a drive retrying a bad sector does. A write
// is parsed whole before anything is applied, so one bad line changes
// nothing. The parser and formatter are pure functions, thread-safe; it
// lives in the core (no FUSE) so unit tests and fuzzers reach it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/faulty_device.h"
#include "remapfs/sector_list.h"
#include "remapfs/status.h"

namespace remapfs {

// Ten minutes: far beyond a real drive's retries (about 30 s without ERC),
// short enough that a typo cannot park a request for hours.
constexpr uint64_t kMaxInjectLatencyMs = 600'000;

struct InjectCommand {
  enum class Action { kAdd, kClear, kClearAll, kLatency };
  Action action = Action::kAdd;
  FaultMode mode = FaultMode::kReadWrite;  // for kAdd
  std::vector<SectorRange> ranges;         // empty for kClearAll, kLatency
  std::chrono::milliseconds latency{0};    // for kLatency
};

// InvalidArgument naming the line on any error, or when there is no command.
Status ParseInjectCommands(std::string_view text, uint64_t main_sectors,
                           std::vector<InjectCommand>* out);

void ApplyInjectCommands(const std::vector<InjectCommand>& commands, FaultyDevice* device);

// "<first> <last> <read|write|rw>\n" per fault, sorted. The latency is not
// listed here (scripts parse these lines): status shows it as
// `inject_latency_ms`.
std::string FormatFaults(const std::vector<Fault>& faults);

}  // namespace remapfs
