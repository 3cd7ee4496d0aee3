// The health verdict of a volume, smartctl style, and the two machine
// formats of its status: JSON (`status --json`, control/status.json) and
// the node_exporter textfile format (`status --prometheus`). One function
// builds each, so every front end shows the same keys.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "remapfs/live_status.h"

namespace remapfs {

struct HealthThresholds {
  uint32_t spare_warn_pct = 80;   // spare used >= this: WARNING
  uint32_t spare_fail_pct = 95;   // spare used >= this: FAILING
  uint64_t error_rate_warn = 10;  // read+write errors in the last hour: WARNING
  // A mounted daemon whose heartbeat is older than this is not responding.
  uint64_t heartbeat_stale_ms = 3000;
};

enum class Verdict { kPassed = 0, kWarning = 1, kFailing = 2 };
std::string_view VerdictName(Verdict v);  // "PASSED", "WARNING", "FAILING"

// A status to judge: a live page (state "mounted") or the figures an
// offline spare records (state "offline": no counters, no heartbeat).
struct VolumeStatus {
  bool mounted = false;
  LiveReading reading;
  uint64_t now_unix_ms = 0;  // when it was read

  uint64_t ErrorsLastHour() const { return reading.stats.ErrorsLastHour(now_unix_ms); }
  uint64_t HeartbeatAgeMs() const;
};

struct Health {
  Verdict verdict = Verdict::kPassed;
  std::vector<std::string> reasons;  // why not PASSED, worst first
};
Health AssessHealth(const VolumeStatus& status, const HealthThresholds& t);

// The SMART attribute names and our quantity behind each.
//   Reallocated_Sector_Ct   = remapped (active remaps)
//   Current_Pending_Sector  = pending
//   Reallocated_Event_Count = auto_remaps (sectors the daemon remapped on
//                             its own since the mount: failed writes, reads
//                             that needed a retry, scrub findings)
//   Offline_Uncorrectable   = scrub_found (sectors the current or last
//                             scrub made pending or remapped)
struct SmartAttribute {
  const char* name;
  uint64_t value;
};
std::vector<SmartAttribute> SmartAttributes(const VolumeStatus& status);

// One JSON object on one line (keys: docs in the man page, `status`).
std::string StatusJson(const VolumeStatus& status, const Health& health);
// node_exporter textfile format: # HELP / # TYPE and remapfs_* gauges
// labelled volume= and mountpoint=.
std::string StatusPrometheus(const VolumeStatus& status, const Health& health);

}  // namespace remapfs
