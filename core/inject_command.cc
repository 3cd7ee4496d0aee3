// The control/inject grammar. See include/remapfs/inject_command.h.
#include "remapfs/inject_command.h"

#include <charconv>

#include <fmt/format.h>

namespace remapfs {
namespace {

constexpr std::string_view kBlanks = " \t\r,";

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kBlanks);
  return s.substr(begin, end - begin + 1);
}

bool ParseAction(std::string_view word, InjectCommand* cmd) {
  if (word == "read") {
    cmd->mode = FaultMode::kRead;
  } else if (word == "write") {
    cmd->mode = FaultMode::kWrite;
  } else if (word == "rw") {
    cmd->mode = FaultMode::kReadWrite;
  } else if (word == "clear") {
    cmd->action = InjectCommand::Action::kClear;
  } else if (word == "latency") {
    cmd->action = InjectCommand::Action::kLatency;
  } else {
    return false;
  }
  return true;
}

// `latency MS`: one decimal number of milliseconds, nothing else.
Status ParseLatency(std::string_view rest, InjectCommand* cmd) {
  uint64_t ms = 0;
  const char* end = rest.data() + rest.size();
  auto [ptr, ec] = std::from_chars(rest.data(), end, ms);
  if (rest.empty() || ec != std::errc() || ptr != end || ms > kMaxInjectLatencyMs) {
    return Status::InvalidArgument(
        fmt::format("inject command 'latency' needs milliseconds from 0 to {}, not '{}'",
                    kMaxInjectLatencyMs, rest));
  }
  cmd->latency = std::chrono::milliseconds(ms);
  return Status::Ok();
}

// `line` has its comment stripped and is not blank.
Status ParseLine(std::string_view line, uint64_t main_sectors, InjectCommand* cmd) {
  size_t word_end = line.find_first_of(kBlanks);
  std::string_view word = line.substr(0, word_end);
  std::string_view rest = word_end == std::string_view::npos ? "" : Trim(line.substr(word_end));
  if (!ParseAction(word, cmd)) {
    return Status::InvalidArgument(
        fmt::format("unknown inject command '{}' (want read, write, rw, clear or latency)", word));
  }
  if (cmd->action == InjectCommand::Action::kLatency) return ParseLatency(rest, cmd);
  if (cmd->action == InjectCommand::Action::kClear && rest == "all") {
    cmd->action = InjectCommand::Action::kClearAll;
    return Status::Ok();
  }
  if (rest.empty()) {
    return Status::InvalidArgument(fmt::format("inject command '{}' needs SECTORS", word));
  }
  return ParseSectorList(rest, main_sectors, &cmd->ranges);
}

}  // namespace

Status ParseInjectCommands(std::string_view text, uint64_t main_sectors,
                           std::vector<InjectCommand>* out) {
  std::vector<InjectCommand> commands;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? "" : text.substr(eol + 1);
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    InjectCommand cmd;
    Status st = ParseLine(line, main_sectors, &cmd);
    if (!st.ok()) return st.WithContext(fmt::format("line {}", line_number));
    commands.push_back(std::move(cmd));
  }
  if (commands.empty()) {
    return Status::InvalidArgument("no inject command given");
  }
  *out = std::move(commands);
  return Status::Ok();
}

void ApplyInjectCommands(const std::vector<InjectCommand>& commands, FaultyDevice* device) {
  for (const InjectCommand& cmd : commands) {
    if (cmd.action == InjectCommand::Action::kClearAll) {
      device->ClearAllFaults();
      continue;
    }
    if (cmd.action == InjectCommand::Action::kLatency) {
      device->SetErrorLatency(cmd.latency);
      continue;
    }
    for (const SectorRange& r : cmd.ranges) {
      if (cmd.action == InjectCommand::Action::kClear) {
        device->ClearFaults(r.first, r.last);
      } else {
        device->AddFault(r.first, r.last, cmd.mode);
      }
    }
  }
}

std::string FormatFaults(const std::vector<Fault>& faults) {
  std::string text;
  for (const Fault& f : faults) {
    const char* mode = f.mode == FaultMode::kRead        ? "read"
                       : f.mode == FaultMode::kWrite     ? "write"
                       : f.mode == FaultMode::kReadWrite ? "rw"
                                                         : "flaky";
    text += fmt::format("{} {} {}\n", f.first, f.last, mode);
  }
  return text;
}

}  // namespace remapfs
