// The `control/inject` grammar (SPEC "Failing-disk behaviour"):
//   read SECTORS | write SECTORS | rw SECTORS | clear SECTORS | clear all
// one command per line; SECTORS follow the control-file grammar on that
// line ('#' comments allowed). A write is parsed whole before anything is
// applied, so one bad line changes nothing. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/fault_device.h"
#include "remapfs/sector_list.h"
#include "remapfs/status.h"

namespace remapfs::fuse {

struct InjectCommand {
  enum class Action { kAdd, kClear, kClearAll };
  Action action = Action::kAdd;
  FaultMode mode = FaultMode::kReadWrite;  // for kAdd
  std::vector<SectorRange> ranges;         // empty for kClearAll
};

// InvalidArgument naming the line on any error, or when there is no command.
Status ParseInjectCommands(std::string_view text, uint64_t main_sectors,
                           std::vector<InjectCommand>* out);

void ApplyInjectCommands(const std::vector<InjectCommand>& commands,
                         FaultyDevice* device);

// "<first> <last> <read|write|rw>\n" per fault, sorted.
std::string FormatFaults(const std::vector<Fault>& faults);

}  // namespace remapfs::fuse
