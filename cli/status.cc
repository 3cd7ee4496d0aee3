// remapfs status: a volume's live counters and a smartctl-style health
// verdict, read from its shared-memory page (never through FUSE, never
// waiting for the daemon), or from an unmounted SPARE.
#include <charconv>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "command.h"
#include "status_target.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "status";
constexpr const char* kUsage = R"(Usage: remapfs status MOUNTPOINT|SPARE [--json | --prometheus]
                      [--spare-warn PCT] [--spare-fail PCT] [--error-rate-warn N]

Shows a volume's status and health verdict (PASSED, WARNING, FAILING) with
its reasons. For a mounted volume the values come from the daemon's live
status page in shared memory (/dev/shm/remapfs-VOLUMEID), so status answers
even when the mount is stuck; an unmounted SPARE shows what it records
(state offline).

FAILING: spare exhausted, or used >= --spare-fail; metadata writes refused;
no valid metadata copy. WARNING: spare used >= --spare-warn; pending
sectors; read/write errors in the last hour >= --error-rate-warn; a
metadata copy not valid; the daemon has not updated its page for 3 s.

Options:
  --json               one JSON object (the keys of control/status.json)
  --prometheus         node_exporter textfile format
  --spare-warn PCT     WARNING at this percentage of the spare used (80)
  --spare-fail PCT     FAILING at this percentage of the spare used (95)
  --error-rate-warn N  WARNING at N read/write errors in the last hour
                       (10; 0: never)
  --help               show this help

Exit status: 0 PASSED, 3 WARNING, 4 FAILING, 1 status could not be read,
2 usage error.
)";

constexpr int kExitWarning = 3;
constexpr int kExitFailing = 4;

const CommandSpec kCommand{kCmd,
                           kUsage,
                           {{"--json"},
                            {"--prometheus"},
                            {"--spare-warn", true},
                            {"--spare-fail", true},
                            {"--error-rate-warn", true}},
                           {"MOUNTPOINT|SPARE"},
                           "MOUNTPOINT or SPARE is required"};

// A whole decimal number <= `max`; the usage error otherwise.
std::optional<std::string> ParseNumber(const ParsedArgs& parsed, std::string_view option,
                                       uint64_t max, uint64_t* out) {
  auto text = parsed.Value(option);
  if (!text) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || text->empty() || v > max) {
    return fmt::format("{}: '{}' is not a whole number from 0 to {}", option, *text, max);
  }
  *out = v;
  return std::nullopt;
}

std::optional<std::string> ParseThresholds(const ParsedArgs& parsed, HealthThresholds* t) {
  uint64_t warn = t->spare_warn_pct, fail = t->spare_fail_pct;
  if (auto e = ParseNumber(parsed, "--spare-warn", 100, &warn)) return e;
  if (auto e = ParseNumber(parsed, "--spare-fail", 100, &fail)) return e;
  if (auto e = ParseNumber(parsed, "--error-rate-warn", UINT64_MAX, &t->error_rate_warn)) return e;
  if (warn > fail) return fmt::format("--spare-warn {} is above --spare-fail {}", warn, fail);
  t->spare_warn_pct = static_cast<uint32_t>(warn);
  t->spare_fail_pct = static_cast<uint32_t>(fail);
  return std::nullopt;
}

// smartctl's layout: the verdict line, the reasons, then `key: value`
// lines with the keys of the JSON, and the SMART names.
void PrintText(const std::string& target, const VolumeStatus& status, const Health& health) {
  const LiveIdentity& id = status.reading.identity;
  if (status.mounted) {
    fmt::print("remapfs status: {} (mounted on {}, daemon pid {})\n", target, id.mountpoint,
               id.pid);
  } else {
    fmt::print("remapfs status: {} (offline: not mounted)\n", target);
  }
  fmt::print("SMART overall-health self-assessment test result: {}\n", VerdictName(health.verdict));
  for (const std::string& r : health.reasons) fmt::print("reason: {}\n", r);
  const auto json = nlohmann::ordered_json::parse(StatusJson(status, health));
  for (const auto& [key, value] : json.items()) {
    if (key == "verdict" || key == "reasons" || key == "smart") continue;
    fmt::print("{}: {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  }
  for (const SmartAttribute& a : SmartAttributes(status)) fmt::print("{}: {}\n", a.name, a.value);
}

}  // namespace

int RunStatus(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return *code;
  if (parsed.Has("--json") && parsed.Has("--prometheus")) {
    return UsageError(kCmd, "--json and --prometheus exclude each other");
  }
  HealthThresholds thresholds;
  if (auto err = ParseThresholds(parsed, &thresholds)) return UsageError(kCmd, *err);
  const std::string& target = parsed.positionals[0];
  VolumeStatus status;
  std::string message;
  if (!ResolveStatusTarget(target, &status, &message).ok()) return Fail(kCmd, message);
  const Health health = AssessHealth(status, thresholds);
  if (parsed.Has("--json")) {
    fmt::print("{}\n", StatusJson(status, health));
  } else if (parsed.Has("--prometheus")) {
    fmt::print("{}", StatusPrometheus(status, health));
  } else {
    PrintText(target, status, health);
  }
  switch (health.verdict) {
    case Verdict::kPassed: return kExitOk;
    case Verdict::kWarning: return kExitWarning;
    case Verdict::kFailing: return kExitFailing;
  }
  return kExitFailed;
}

}  // namespace remapfs::cli
