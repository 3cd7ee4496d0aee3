// The verdict of `remapfs status` at each threshold's boundary, and the
// exact text of its machine formats (health.h).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "remapfs/health.h"

namespace remapfs::testing {
namespace {

constexpr uint64_t kNow = 1'000'000'000'000;

// A healthy mounted volume: 5 of 5 copies, 100-sector spare, fresh beat.
VolumeStatus Healthy() {
  VolumeStatus s;
  s.mounted = true;
  s.now_unix_ms = kNow;
  s.reading.identity = {"00112233445566778899aabbccddeeff", 1234, "/mnt/a\"b", "/m", "/s"};
  VolumeStats& v = s.reading.stats.volume;
  v.sector_size = 512;
  v.metadata_copies = 5;
  v.metadata_valid_copies = 5;
  v.spare_capacity = 100;
  v.spare_free = 100;
  v.last_error = "none";
  s.reading.stats.heartbeat_unix_ms = kNow;
  return s;
}

void UseSpare(VolumeStatus* s, uint64_t used) {
  s->reading.stats.volume.spare_used = used;
  s->reading.stats.volume.remapped = used;
  s->reading.stats.volume.spare_free = s->reading.stats.volume.spare_capacity - used;
}

TEST_CASE("verdict: spare thresholds at their boundaries", "[health]") {
  VolumeStatus s = Healthy();
  HealthThresholds t;  // warn 80, fail 95
  UseSpare(&s, 79);
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
  UseSpare(&s, 80);
  Health h = AssessHealth(s, t);
  CHECK(h.verdict == Verdict::kWarning);
  CHECK(h.reasons == std::vector<std::string>{"spare filling: 80 of 100 sectors used (>= 80%)"});
  UseSpare(&s, 94);
  CHECK(AssessHealth(s, t).verdict == Verdict::kWarning);
  UseSpare(&s, 95);
  h = AssessHealth(s, t);
  CHECK(h.verdict == Verdict::kFailing);
  CHECK(h.reasons ==
        std::vector<std::string>{"spare nearly exhausted: 95 of 100 sectors used (>= 95%)"});
  UseSpare(&s, 100);
  CHECK(AssessHealth(s, t).reasons ==
        std::vector<std::string>{"spare exhausted: 100 of 100 sectors used, none free"});
  t.spare_fail_pct = 100;
  t.spare_warn_pct = 100;
  UseSpare(&s, 99);
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
}

TEST_CASE("verdict: pending, errors, copies, metadata writes, heartbeat", "[health]") {
  HealthThresholds t;
  VolumeStatus s = Healthy();
  s.reading.stats.volume.pending = 1;
  CHECK(AssessHealth(s, t).reasons ==
        std::vector<std::string>{"1 pending sector(s): unreadable, not yet rewritten"});

  s = Healthy();
  s.reading.stats.error_minutes = {{kNow / 60000, 9}};
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
  s.reading.stats.error_minutes = {{kNow / 60000, 10}};
  CHECK(AssessHealth(s, t).reasons ==
        std::vector<std::string>{"10 read/write error(s) in the last hour (>= 10)"});
  t.error_rate_warn = 0;  // never
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
  t = {};

  s = Healthy();
  s.reading.stats.volume.metadata_valid_copies = 4;
  CHECK(AssessHealth(s, t).reasons == std::vector<std::string>{"1 of 5 metadata copies not valid"});
  s.reading.stats.volume.metadata_valid_copies = 0;
  CHECK(AssessHealth(s, t).verdict == Verdict::kFailing);
  s = Healthy();
  s.reading.stats.volume.metadata_commits_failing = true;
  CHECK(AssessHealth(s, t).verdict == Verdict::kFailing);

  s = Healthy();
  s.now_unix_ms = kNow + 3000;
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
  s.now_unix_ms = kNow + 3001;
  CHECK(AssessHealth(s, t).reasons ==
        std::vector<std::string>{
            "daemon not responding: pid 1234 last updated its status 3.0 s ago"});
  s.mounted = false;  // offline: no daemon to expect
  CHECK(AssessHealth(s, t).verdict == Verdict::kPassed);
}

TEST_CASE("verdict: FAILING reasons come before WARNING ones", "[health]") {
  VolumeStatus s = Healthy();
  UseSpare(&s, 100);
  s.reading.stats.volume.pending = 2;
  Health h = AssessHealth(s, {});
  CHECK(h.verdict == Verdict::kFailing);
  REQUIRE(h.reasons.size() == 2);
  CHECK(h.reasons[0].starts_with("spare exhausted"));
  CHECK(h.reasons[1].starts_with("2 pending"));
}

TEST_CASE("status JSON: the keys, in order, and the SMART names", "[health]") {
  VolumeStatus s = Healthy();
  s.reading.stats.volume.remapped = 3;
  s.reading.stats.volume.pending = 1;
  s.reading.stats.volume.auto_remaps = 2;
  s.reading.stats.scrub.found = 4;
  auto j = nlohmann::ordered_json::parse(StatusJson(s, AssessHealth(s, {})));
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"state",
                                         "volume_id",
                                         "pid",
                                         "mountpoint",
                                         "main_path",
                                         "spare_path",
                                         "verdict",
                                         "reasons",
                                         "sector_size",
                                         "main_sectors",
                                         "spare_sectors",
                                         "strategy",
                                         "metadata_copies",
                                         "metadata_valid_copies",
                                         "metadata_repaired_copies",
                                         "metadata_sequence",
                                         "metadata_writes",
                                         "reserved_sectors",
                                         "spare_capacity",
                                         "spare_used",
                                         "spare_free",
                                         "remapped",
                                         "pending",
                                         "read_errors",
                                         "write_errors",
                                         "auto_remaps",
                                         "last_error",
                                         "operation",
                                         "operation_done",
                                         "operation_total",
                                         "scrub_state",
                                         "scrub_done",
                                         "scrub_total",
                                         "scrub_found",
                                         "inject_latency_ms",
                                         "log_write_failures",
                                         "errors_last_hour",
                                         "heartbeat_unix_ms",
                                         "heartbeat_age_ms",
                                         "smart"});
  CHECK(j["verdict"] == "WARNING");
  CHECK(j["state"] == "mounted");
  CHECK(j["smart"].dump() == R"({"Reallocated_Sector_Ct":3,"Current_Pending_Sector":1,)"
                             R"("Reallocated_Event_Count":2,"Offline_Uncorrectable":4})");
}

TEST_CASE("status prometheus: exact lines, escaped labels", "[health]") {
  VolumeStatus s = Healthy();
  UseSpare(&s, 96);
  const std::string text = StatusPrometheus(s, AssessHealth(s, {}));
  const std::string labels =
      R"({volume="00112233445566778899aabbccddeeff",mountpoint="/mnt/a\"b"})";
  CHECK(text.starts_with("# HELP remapfs_up 1 when the volume is mounted and its daemon updates "
                         "its status\n# TYPE remapfs_up gauge\nremapfs_up" +
                         labels +
                         " 1\n# HELP remapfs_health Verdict: 0 PASSED, 1 WARNING, 2 "
                         "FAILING\n# TYPE remapfs_health gauge\nremapfs_health" +
                         labels + " 2\n"));
  CHECK(text.find("# TYPE remapfs_read_errors_total counter\n") != std::string::npos);
  CHECK(text.find("remapfs_spare_used_sectors" + labels + " 96\n") != std::string::npos);
  CHECK(text.find("remapfs_remapped_sectors" + labels + " 96\n") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 3 * 23);
}

}  // namespace
}  // namespace remapfs::testing
