// The verdict rules of `remapfs status` (health.h). FAILING: the spare is
// exhausted or nearly, or the metadata is at risk; WARNING: trouble is
// coming (spare filling, pending sectors, errors, a lost metadata copy, a
// daemon that stopped updating its page).
#include <fmt/format.h>

#include "remapfs/health.h"

namespace remapfs {

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPassed: return "PASSED";
    case Verdict::kWarning: return "WARNING";
    case Verdict::kFailing: return "FAILING";
  }
  return "?";
}

uint64_t VolumeStatus::HeartbeatAgeMs() const {
  const uint64_t beat = reading.stats.heartbeat_unix_ms;
  return now_unix_ms > beat ? now_unix_ms - beat : 0;
}

namespace {

// used/capacity >= pct/100, in integers.
bool AtLeastPercent(uint64_t used, uint64_t capacity, uint32_t pct) {
  return capacity > 0 &&
         static_cast<__uint128_t>(used) * 100 >= static_cast<__uint128_t>(capacity) * pct;
}

std::string UsedText(const VolumeStats& v) {
  return fmt::format("{} of {} sectors", v.spare_used, v.spare_capacity);
}

}  // namespace

Health AssessHealth(const VolumeStatus& status, const HealthThresholds& t) {
  const VolumeStats& v = status.reading.stats.volume;
  std::vector<std::string> failing, warning;
  if (v.spare_free == 0 && v.spare_used > 0) {
    failing.push_back(fmt::format("spare exhausted: {} used, none free", UsedText(v)));
  } else if (AtLeastPercent(v.spare_used, v.spare_capacity, t.spare_fail_pct)) {
    failing.push_back(
        fmt::format("spare nearly exhausted: {} used (>= {}%)", UsedText(v), t.spare_fail_pct));
  } else if (AtLeastPercent(v.spare_used, v.spare_capacity, t.spare_warn_pct)) {
    warning.push_back(
        fmt::format("spare filling: {} used (>= {}%)", UsedText(v), t.spare_warn_pct));
  }
  if (v.metadata_commits_failing) {
    failing.push_back("metadata writes refused: the last commit reached no copy");
  }
  if (v.metadata_valid_copies == 0) {
    failing.push_back(fmt::format("no valid metadata copy (of {})", v.metadata_copies));
  } else if (v.metadata_valid_copies < v.metadata_copies) {
    warning.push_back(fmt::format("{} of {} metadata copies not valid",
                                  v.metadata_copies - v.metadata_valid_copies, v.metadata_copies));
  }
  if (v.pending > 0) {
    warning.push_back(
        fmt::format("{} pending sector(s): unreadable, not yet rewritten", v.pending));
  }
  if (status.mounted) {
    const uint64_t errors = status.ErrorsLastHour();
    if (t.error_rate_warn > 0 && errors >= t.error_rate_warn) {
      warning.push_back(fmt::format("{} read/write error(s) in the last hour (>= {})", errors,
                                    t.error_rate_warn));
    }
    const uint64_t age = status.HeartbeatAgeMs();
    if (age > t.heartbeat_stale_ms) {
      warning.push_back(fmt::format("daemon not responding: pid {} last updated its status {:.1f} "
                                    "s ago",
                                    status.reading.identity.pid, age / 1000.0));
    }
  }
  Health h;
  h.verdict = !failing.empty()   ? Verdict::kFailing
              : !warning.empty() ? Verdict::kWarning
                                 : Verdict::kPassed;
  h.reasons = std::move(failing);
  h.reasons.insert(h.reasons.end(), warning.begin(), warning.end());
  return h;
}

std::vector<SmartAttribute> SmartAttributes(const VolumeStatus& status) {
  const LiveStats& s = status.reading.stats;
  return {{"Reallocated_Sector_Ct", s.volume.remapped},
          {"Current_Pending_Sector", s.volume.pending},
          {"Reallocated_Event_Count", s.volume.auto_remaps},
          {"Offline_Uncorrectable", s.scrub.found}};
}

}  // namespace remapfs
