// The live status page (live_status.h, live_page.h): what the publisher
// writes a reader reads back whole, even under a concurrent writer or a
// writer stopped mid-write; a dead daemon's page counts as absent; the
// segment is readable by all and gone after the publisher.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "live_page.h"
#include "remapfs/live_status.h"

namespace remapfs::testing {
namespace {

// Every counter of the sample set to `v`, so a torn copy shows as a mix.
LiveStats Uniform(uint64_t v) {
  LiveStats s;
  VolumeStats& x = s.volume;
  x.main_sectors = x.spare_sectors = x.metadata_sequence = x.reserved_sectors = v;
  x.spare_capacity = x.spare_used = x.spare_free = x.remapped = x.pending = v;
  x.read_errors = x.write_errors = x.auto_remaps = x.operation_done = x.operation_total = v;
  s.scrub.done = s.scrub.total = s.scrub.found = v;
  s.inject_latency_ms = s.log_write_failures = s.heartbeat_unix_ms = v;
  x.last_error = fmt::format("error {}", v);
  return s;
}

bool IsUniform(const LiveStats& s, uint64_t* v) {
  const VolumeStats& x = s.volume;
  *v = x.main_sectors;
  for (uint64_t f :
       {x.spare_sectors, x.metadata_sequence, x.reserved_sectors, x.spare_capacity, x.spare_used,
        x.spare_free, x.remapped, x.pending, x.read_errors, x.write_errors, x.auto_remaps,
        x.operation_done, x.operation_total, s.scrub.done, s.scrub.total, s.scrub.found,
        s.inject_latency_ms, s.log_write_failures, s.heartbeat_unix_ms}) {
    if (f != *v) return false;
  }
  return x.last_error == fmt::format("error {}", *v);
}

std::string TestVolumeId() { return fmt::format("{:032x}", 0xabc000000ULL + getpid()); }

LiveIdentity TestIdentity(pid_t pid) {
  return {TestVolumeId(), pid, "/mnt/live \"test\"", "/tmp/main", "/tmp/spare"};
}

TEST_CASE("live page: every field round-trips through the words", "[live_status]") {
  LiveStats in = Uniform(7);
  in.volume.strategy = Strategy::kLinear;
  in.volume.metadata_commits_failing = true;
  in.volume.operation = VolumeOperation::kAddBad;
  in.scrub.state = ScrubState::kRunning;
  in.volume.last_error = std::string(300, 'x');  // cut at kLiveLastErrorBytes
  in.error_minutes = {{100, 3}, {101, 4}};
  LivePage page;
  WriteLiveSlots(&page, in);
  LiveStats out;
  REQUIRE(ReadLiveSlots(page, &out));
  CHECK(out.volume.main_sectors == 7);
  CHECK(out.volume.strategy == Strategy::kLinear);
  CHECK(out.volume.metadata_commits_failing);
  CHECK(out.volume.operation == VolumeOperation::kAddBad);
  CHECK(out.scrub.state == ScrubState::kRunning);
  CHECK(out.volume.last_error == std::string(kLiveLastErrorBytes, 'x'));
  CHECK(out.error_minutes == in.error_minutes);
  CHECK(out.ErrorsLastHour(101 * 60000) == 7);
  CHECK(out.ErrorsLastHour(160 * 60000) == 4);  // minute 100 is over an hour old
  CHECK(out.ErrorsLastHour(161 * 60000) == 0);
}

TEST_CASE("live page: a reader never sees a torn copy under a writer", "[live_status]") {
  LivePage page;
  WriteLiveSlots(&page, Uniform(1));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    for (uint64_t i = 2; !stop.load(); ++i) {
      WriteLiveSlots(&page, Uniform(i));
      writes.fetch_add(1);
    }
  });
  // Until both sides have done plenty (the writer may start late on a
  // busy machine), bounded by time.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  uint64_t last = 0, reads = 0;
  while ((reads < 50000 || writes.load() < 50000) && std::chrono::steady_clock::now() < deadline) {
    LiveStats s;
    // A writer with no pause (the daemon publishes every 250 ms) may
    // outrun every attempt of a slow reader (ASan): that is "busy", never a
    // torn copy, and the reader tries again.
    if (!ReadLiveSlots(page, &s)) continue;
    uint64_t v = 0;
    REQUIRE(IsUniform(s, &v));
    REQUIRE(v >= last);  // never an older copy than one seen before
    last = v;
    ++reads;
  }
  stop = true;
  writer.join();
  CHECK(reads >= 50000);
}

TEST_CASE("live page: a writer stopped mid-write leaves the other slot", "[live_status]") {
  LivePage page;
  WriteLiveSlots(&page, Uniform(5));
  WriteLiveSlots(&page, Uniform(6));
  // The writer starts on the older slot (5) and stops half way.
  LiveSlot& older = page.slots[0].seq.load() < page.slots[1].seq.load() ? page.slots[0]
                                                                        : page.slots[1];
  older.seq.store(older.seq.load() + 3);  // odd: being written
  older.words[0].store(999);
  LiveStats s;
  REQUIRE(ReadLiveSlots(page, &s));
  uint64_t v = 0;
  CHECK(IsUniform(s, &v));
  CHECK(v == 6);
}

TEST_CASE("live segment: published, read, readable by all, removed", "[live_status]") {
  const std::string name = LiveSegmentName(TestVolumeId());
  const std::string path = "/dev/shm/" + name;
  uint64_t clock = 10 * 60000;
  uint64_t errors = 0;
  LiveStatusPublisher::Options options;
  options.now_unix_ms = [&] { return clock; };
  options.log_write_failures = [] { return uint64_t{42}; };
  std::unique_ptr<LiveStatusPublisher> pub;
  REQUIRE(LiveStatusPublisher::Create(
              TestIdentity(getpid()),
              [&] {
                LiveStats s = Uniform(3);
                s.volume.read_errors = errors;
                s.volume.write_errors = 0;
                return s;
              },
              options, &pub)
              .ok());
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);
  LiveReading r;
  REQUIRE(ReadLivePage(name, &r).ok());
  CHECK(r.identity.pid == getpid());
  CHECK(r.identity.mountpoint == "/mnt/live \"test\"");
  CHECK(r.identity.volume_id == TestVolumeId());
  CHECK(r.stats.volume.main_sectors == 3);
  CHECK(r.stats.log_write_failures == 42);
  CHECK(r.stats.heartbeat_unix_ms == clock);
  // Errors counted per minute: 5 now, 2 a minute later, and an hour on
  // only the later ones are within the last hour.
  errors = 5;
  pub->PublishNow();
  clock += 60000;
  errors = 7;
  pub->PublishNow();
  REQUIRE(ReadLivePage(name, &r).ok());
  CHECK(r.stats.ErrorsLastHour(clock) == 7);
  clock += 59 * 60000;
  pub->PublishNow();
  REQUIRE(ReadLivePage(name, &r).ok());
  CHECK(r.stats.ErrorsLastHour(clock) == 2);
  pub.reset();
  CHECK(stat(path.c_str(), &st) != 0);
  CHECK(ReadLivePage(name, &r).code() == Status::Code::kNotFound);
}

TEST_CASE("live segment: a dead daemon's page is stale, the next replaces it", "[live_status]") {
  const std::string name = LiveSegmentName(TestVolumeId());
  // A daemon that publishes and dies without cleaning up (a crash).
  LiveIdentity identity = TestIdentity(0);  // the parent's volume id
  pid_t child = fork();
  if (child == 0) {
    std::unique_ptr<LiveStatusPublisher> pub;
    identity.pid = getpid();
    Status st = LiveStatusPublisher::Create(
        identity, [] { return Uniform(1); }, {}, &pub);
    _exit(st.ok() ? 0 : 1);
  }
  REQUIRE(child > 0);
  int wstatus = 0;
  REQUIRE(waitpid(child, &wstatus, 0) == child);
  REQUIRE(wstatus == 0);
  LiveReading r;
  Status st = ReadLivePage(name, &r);
  CHECK(st.code() == Status::Code::kNotFound);
  INFO(st.message());
  CHECK(st.message().find("stale") != std::string::npos);
  struct stat sb {};
  REQUIRE(stat(("/dev/shm/" + name).c_str(), &sb) == 0);
  SECTION("the next mount of the volume replaces it") {
    std::unique_ptr<LiveStatusPublisher> next;
    REQUIRE(LiveStatusPublisher::Create(
                TestIdentity(getpid()), [] { return Uniform(2); }, {}, &next)
                .ok());
    REQUIRE(ReadLivePage(name, &r).ok());
    CHECK(r.stats.volume.main_sectors == 2);
  }
  SECTION("the mount of another volume removes it") {
    LiveIdentity other = TestIdentity(getpid());
    other.volume_id = fmt::format("{:032x}", 0xdef000000ULL + getpid());
    std::unique_ptr<LiveStatusPublisher> next;
    REQUIRE(LiveStatusPublisher::Create(
                other, [] { return Uniform(2); }, {}, &next)
                .ok());
    CHECK(stat(("/dev/shm/" + name).c_str(), &sb) != 0);
  }
}

TEST_CASE("live segment: a page another user could have written is not read", "[live_status]") {
  if (geteuid() != 0) return;  // chown needs root; the CI runs as root
  const std::string name = LiveSegmentName(TestVolumeId());
  const std::string path = "/dev/shm/" + name;
  std::unique_ptr<LiveStatusPublisher> pub;
  REQUIRE(LiveStatusPublisher::Create(
              TestIdentity(getpid()), [] { return Uniform(3); }, {}, &pub)
              .ok());
  LiveReading r;
  REQUIRE(ReadLivePage(name, &r).ok());
  // Planted by another user (any user may create files in /dev/shm).
  REQUIRE(chown(path.c_str(), 65534, 65534) == 0);
  CHECK(ReadLivePage(name, &r).code() == Status::Code::kNotFound);
  REQUIRE(chown(path.c_str(), 0, 0) == 0);
  REQUIRE(ReadLivePage(name, &r).ok());
  // Ours, but writable by others.
  REQUIRE(chmod(path.c_str(), 0666) == 0);
  CHECK(ReadLivePage(name, &r).code() == Status::Code::kNotFound);
  REQUIRE(chmod(path.c_str(), 0644) == 0);
  CHECK(ReadLivePage(name, &r).ok());
}

}  // namespace
}  // namespace remapfs::testing
