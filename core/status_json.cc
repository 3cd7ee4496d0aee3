// The machine formats of a volume's status (health.h). The JSON keys are
// the control/status keys, so a script reads the same names from the
// mount's status file, `status --json`, `info --json` and `check --json`.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "remapfs/health.h"

namespace remapfs {

std::string StatusJson(const VolumeStatus& status, const Health& health) {
  const LiveReading& r = status.reading;
  const VolumeStats& v = r.stats.volume;
  const ScrubProgress& p = r.stats.scrub;
  nlohmann::ordered_json j;
  j["state"] = status.mounted ? "mounted" : "offline";
  j["volume_id"] = r.identity.volume_id;
  j["pid"] = status.mounted ? r.identity.pid : 0;
  j["mountpoint"] = r.identity.mountpoint;
  j["main_path"] = r.identity.main_path;
  j["spare_path"] = r.identity.spare_path;
  j["verdict"] = VerdictName(health.verdict);
  j["reasons"] = health.reasons;
  j["sector_size"] = v.sector_size;
  j["main_sectors"] = v.main_sectors;
  j["spare_sectors"] = v.spare_sectors;
  j["strategy"] = StrategyName(v.strategy);
  j["metadata_copies"] = v.metadata_copies;
  j["metadata_valid_copies"] = v.metadata_valid_copies;
  j["metadata_repaired_copies"] = v.metadata_repaired_copies;
  j["metadata_sequence"] = v.metadata_sequence;
  j["metadata_writes"] = v.metadata_commits_failing ? "refused" : "ok";
  j["reserved_sectors"] = v.reserved_sectors;
  j["spare_capacity"] = v.spare_capacity;
  j["spare_used"] = v.spare_used;
  j["spare_free"] = v.spare_free;
  j["remapped"] = v.remapped;
  j["pending"] = v.pending;
  j["read_errors"] = v.read_errors;
  j["write_errors"] = v.write_errors;
  j["auto_remaps"] = v.auto_remaps;
  j["last_error"] = v.last_error;
  j["operation"] = VolumeOperationName(v.operation);
  j["operation_done"] = v.operation_done;
  j["operation_total"] = v.operation_total;
  j["scrub_state"] = ScrubStateName(p.state);
  j["scrub_done"] = p.done;
  j["scrub_total"] = p.total;
  j["scrub_found"] = p.found;
  j["inject_latency_ms"] = r.stats.inject_latency_ms;
  j["log_write_failures"] = r.stats.log_write_failures;
  j["errors_last_hour"] = status.mounted ? status.ErrorsLastHour() : 0;
  j["heartbeat_unix_ms"] = r.stats.heartbeat_unix_ms;
  j["heartbeat_age_ms"] = status.mounted ? status.HeartbeatAgeMs() : 0;
  nlohmann::ordered_json smart;
  for (const SmartAttribute& a : SmartAttributes(status)) smart[a.name] = a.value;
  j["smart"] = smart;
  // Replace, not throw, on a last_error or path that is not UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// A label value: backslash, double quote and newline escaped.
std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct Metric {
  const char* name;
  const char* type;
  const char* help;
  uint64_t value;
};

}  // namespace

std::string StatusPrometheus(const VolumeStatus& status, const Health& health) {
  const LiveStats& s = status.reading.stats;
  const VolumeStats& v = s.volume;
  const Metric metrics[] = {
      {"up", "gauge", "1 when the volume is mounted and its daemon updates its status",
       status.mounted && status.HeartbeatAgeMs() <= HealthThresholds{}.heartbeat_stale_ms},
      {"health", "gauge", "Verdict: 0 PASSED, 1 WARNING, 2 FAILING",
       static_cast<uint64_t>(health.verdict)},
      {"main_sectors", "gauge", "Sectors of MAIN", v.main_sectors},
      {"sector_size_bytes", "gauge", "Bytes per sector", v.sector_size},
      {"spare_capacity_sectors", "gauge", "Spare sectors that can hold remaps", v.spare_capacity},
      {"spare_used_sectors", "gauge", "Spare sectors holding a remap", v.spare_used},
      {"spare_free_sectors", "gauge", "Spare sectors free for remaps", v.spare_free},
      {"remapped_sectors", "gauge", "Active remaps (SMART Reallocated_Sector_Ct)", v.remapped},
      {"pending_sectors", "gauge", "Pending sectors (SMART Current_Pending_Sector)", v.pending},
      {"read_errors_total", "counter", "MAIN read errors since mount", v.read_errors},
      {"write_errors_total", "counter", "MAIN write errors since mount", v.write_errors},
      {"auto_remaps_total", "counter",
       "Sectors remapped by the daemon since mount (SMART Reallocated_Event_Count)", v.auto_remaps},
      {"errors_last_hour", "gauge", "Read and write errors in the last hour",
       status.mounted ? status.ErrorsLastHour() : 0},
      {"metadata_copies", "gauge", "Metadata copies on the spare", v.metadata_copies},
      {"metadata_valid_copies", "gauge", "Metadata copies that are valid", v.metadata_valid_copies},
      {"metadata_writes_refused", "gauge", "1 when metadata commits fail",
       v.metadata_commits_failing},
      {"operation_done_sectors", "gauge", "Sectors done by the running add_bad/remove",
       v.operation_done},
      {"operation_total_sectors", "gauge", "Sectors of the running add_bad/remove",
       v.operation_total},
      {"scrub_done_sectors", "gauge", "Sectors the scrub scanned", s.scrub.done},
      {"scrub_total_sectors", "gauge", "Sectors the scrub covers", s.scrub.total},
      {"scrub_found_sectors", "gauge", "Sectors the scrub found bad (SMART Offline_Uncorrectable)",
       s.scrub.found},
      {"log_write_failures_total", "counter", "Log lines the daemon could not write",
       s.log_write_failures},
      {"heartbeat_age_seconds", "gauge", "Seconds since the daemon last updated its status",
       status.mounted ? status.HeartbeatAgeMs() / 1000 : 0},
  };
  const std::string labels = fmt::format("{{volume=\"{}\",mountpoint=\"{}\"}}",
                                         LabelValue(status.reading.identity.volume_id),
                                         LabelValue(status.reading.identity.mountpoint));
  std::string out;
  for (const Metric& m : metrics) {
    fmt::format_to(std::back_inserter(out),
                   "# HELP remapfs_{0} {1}\n# TYPE remapfs_{0} {2}\nremapfs_{0}{3} {4}\n", m.name,
                   m.help, m.type, labels, m.value);
  }
  return out;
}

}  // namespace remapfs
