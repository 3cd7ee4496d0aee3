// A dying disk must not freeze the volume (issue 7): MAIN here fails chosen
// sectors only after a delay, as a drive without error recovery control
// spends seconds retrying. Recovery of a request over such a sector must not
// hold anything that unrelated requests or the views need; requests over the
// same sectors wait for it and then fail fast; narrowing stops at the I/O
// unit; error_recovery_time bounds the whole.
//
// The delays (hundreds of ms) are orders of magnitude above a memory read,
// so the timing bounds asserted here are generous by design.
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;

// A request touching a bad sector sleeps `delay`, then fails with EIO.
// Counts the requests that reached a bad sector.
class SlowBadSectors : public ForwardingDevice {
 public:
  SlowBadSectors(std::shared_ptr<BlockDevice> base, std::set<uint64_t> bad, milliseconds delay,
                 bool writes_too)
      : ForwardingDevice(std::move(base)),
        bad_(std::move(bad)),
        delay_(delay),
        writes_too_(writes_too) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    if (Hits(offset, len)) return Fail();
    return base()->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    if (writes_too_ && Hits(offset, len)) return Fail();
    return base()->Write(offset, buf, len);
  }

  std::atomic<int> failing{0};  // requests sleeping on a bad sector now
  std::atomic<int> hits{0};     // requests that reached a bad sector

 private:
  bool Hits(uint64_t offset, size_t len) const {
    auto it = bad_.lower_bound(offset / kSector);
    return it != bad_.end() && *it * kSector < offset + len;
  }
  Status Fail() {
    ++hits;
    ++failing;
    std::this_thread::sleep_for(delay_);
    --failing;
    return Status::IoError("slow bad sector");
  }
  const std::set<uint64_t> bad_;
  const milliseconds delay_;
  const bool writes_too_;
};

struct SlowVolume {
  std::shared_ptr<BlockDevice> main_mem = NewMemoryDevice(kMainBytes);
  SlowBadSectors* main = nullptr;
  std::unique_ptr<Volume> v;

  SlowVolume(std::set<uint64_t> bad, milliseconds delay, VolumeOptions options,
             bool writes_too = false) {
    FillPattern(main_mem.get(), 7);
    std::shared_ptr<BlockDevice> spare = NewMemoryDevice(256 << 10);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(
        MetadataStore::Format(spare.get(), MakeGeometry(kSector, kMainBytes, 256 << 10), &s));
    auto dev = std::make_unique<SlowBadSectors>(main_mem, std::move(bad), delay, writes_too);
    main = dev.get();
    REQUIRE_OK(Volume::Open(std::move(dev), std::make_unique<SharedDevice>(spare), options, &v));
  }
  // Waits (bounded) until some request sleeps on a bad sector.
  void WaitForFailingRequest() {
    for (int i = 0; i < 2000 && main->failing == 0; ++i)
      std::this_thread::sleep_for(milliseconds(1));
    REQUIRE(main->failing > 0);
  }
};

// Runs `healthy` over and over until `done` is ready; returns the worst
// time one run took. Sampling the whole recovery, not a moment of it.
template <typename T, typename Fn>
milliseconds WorstWhile(std::future<T>& done, Fn&& healthy) {
  milliseconds worst{0};
  while (done.wait_for(milliseconds(0)) != std::future_status::ready) {
    const auto t = Clock::now();
    healthy();
    worst = std::max(worst, std::chrono::duration_cast<milliseconds>(Clock::now() - t));
    std::this_thread::sleep_for(milliseconds(5));
  }
  return worst;
}

VolumeOptions Options(milliseconds erc, uint32_t io_unit = kSector, uint32_t retries = 2) {
  VolumeOptions o;
  o.error_recovery_time = erc;
  o.main_io_unit = io_unit;
  o.read_retries = retries;
  return o;
}

milliseconds Since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t);
}

TEST_CASE("While a read over a slow bad sector is recovered, healthy requests "
          "and the views answer",
          "[slow_recovery]") {
  SlowVolume sv({5000 % (kMainBytes / kSector)}, milliseconds(400), Options(milliseconds(3000)));
  const uint64_t bad = 5000 % (kMainBytes / kSector);
  auto recovery = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(4096);
    return sv.v->Read(bad / 8 * 4096, buf.data(), buf.size());
  });
  sv.WaitForFailingRequest();
  const milliseconds worst = WorstWhile(recovery, [&] {
    std::vector<uint8_t> buf(4096);
    REQUIRE_OK(sv.v->Read(100 * 4096, buf.data(), buf.size()));
    REQUIRE_OK(sv.v->Write(200 * 4096, buf.data(), buf.size()));
    (void)sv.v->Stats();
    (void)sv.v->Remaps();
  });
  WARN("worst healthy request + views during recovery: " << worst.count() << " ms");
  CHECK(worst < milliseconds(200));  // a bad-sector probe sleeps 400 ms
  CHECK(recovery.get().errno_value() == EIO);
  CHECK(sv.v->Stats().pending == 1);  // one sector, not the 4 KiB
}

TEST_CASE("A request over sectors under recovery waits for it, then fails "
          "fast without touching MAIN",
          "[slow_recovery]") {
  const uint64_t bad = 777;
  SlowVolume sv({bad}, milliseconds(300), Options(milliseconds(3000), kSector, 0));
  auto first = std::async(std::launch::async, [&] {
    std::vector<uint8_t> buf(kSector);
    return sv.v->Read(bad * kSector, buf.data(), buf.size());
  });
  sv.WaitForFailingRequest();
  std::vector<uint8_t> buf(2 * kSector);
  const Status second = sv.v->Read((bad - 1) * kSector, buf.data(), buf.size());
  CHECK(first.get().errno_value() == EIO);
  CHECK(second.errno_value() == EIO);
  const int hits = sv.main->hits;
  // The first read: one attempt, one probe of the whole; the second read
  // reached the bad sector once before the recovery's region was taken at
  // most; no recovery of its own.
  INFO("requests that reached the bad sector: " << hits);
  CHECK(hits <= 3);
  CHECK(sv.v->Stats().pending == 1);
}

TEST_CASE("Narrowing stops at the I/O unit", "[slow_recovery]") {
  for (uint32_t unit : {kSector, 4096u}) {
    INFO("unit " << unit);
    SlowVolume sv({4000 % (kMainBytes / kSector)}, milliseconds(1),
                  Options(milliseconds(3000), unit));
    std::vector<uint8_t> buf(8192);
    CHECK(
        sv.v->Read(3996 % (kMainBytes / kSector) * kSector, buf.data(), buf.size()).errno_value() ==
        EIO);
    CHECK(sv.v->Stats().pending == unit / kSector);
  }
}

TEST_CASE("error_recovery_time bounds a read's recovery; what was not tried "
          "becomes pending",
          "[slow_recovery]") {
  // Eight bad sectors 8 KiB apart in one 64 KiB read, 250 ms each, 600 ms
  // to recover: far from enough to narrow them all down.
  std::set<uint64_t> bad;
  for (uint64_t i = 0; i < 8; ++i) bad.insert(1024 + 16 * i);
  SlowVolume sv(bad, milliseconds(250), Options(milliseconds(600)));
  std::vector<uint8_t> buf(64 << 10);
  const auto t = Clock::now();
  CHECK(sv.v->Read(1024 * kSector, buf.data(), buf.size()).errno_value() == EIO);
  const milliseconds took = Since(t);
  WARN("read recovery with 8 slow bad sectors: " << took.count() << " ms");
  // First attempt + recovery time + the probe under way at the deadline.
  CHECK(took < milliseconds(250 + 600 + 250 + 400));
  // Every bad sector is pending; so is what the deadline left untried.
  CHECK(sv.v->Stats().pending >= 8);
  for (uint64_t s : bad) {
    INFO("bad sector " << s);
    CHECK(sv.v->Read(s * kSector, buf.data(), kSector).errno_value() == EIO);
  }
}

TEST_CASE("A write over a slow bad sector is remapped within the recovery "
          "time while healthy writes go on",
          "[slow_recovery]") {
  const uint64_t bad = 1800;
  SlowVolume sv({bad}, milliseconds(300), Options(milliseconds(2000)), /*writes_too=*/true);
  const std::vector<uint8_t> data = Pattern(0, 4096, 99);
  const auto t = Clock::now();
  auto recovery = std::async(std::launch::async,
                             [&] { return sv.v->Write(bad / 8 * 4096, data.data(), data.size()); });
  sv.WaitForFailingRequest();
  const milliseconds worst = WorstWhile(recovery, [&] {
    REQUIRE_OK(sv.v->Write(10 * 4096, data.data(), data.size()));
  });
  WARN("worst healthy write during the recovery: " << worst.count() << " ms");
  CHECK(worst < milliseconds(150));
  REQUIRE_OK(recovery.get());
  CHECK(Since(t) < milliseconds(2000 + 300 + 400));
  CHECK(sv.v->Stats().auto_remaps == 1);
  CHECK(ByteDiff(ReadVolume(*sv.v, bad / 8 * 4096, 4096), data) == "");
}

TEST_CASE("A scrub narrowing a slow failing chunk does not block foreground "
          "I/O elsewhere",
          "[slow_recovery]") {
  const uint64_t bad = 1500;
  SlowVolume sv({bad}, milliseconds(300), Options(milliseconds(3000), kSector, 0));
  auto scrub = std::async(std::launch::async, [&] {
    Volume::ScrubFindings found;
    Status st = sv.v->ScrubRange(1024, 1024, &found);
    return std::make_pair(st, found.pending);
  });
  sv.WaitForFailingRequest();
  const milliseconds worst = WorstWhile(scrub, [&] {
    std::vector<uint8_t> buf(4096);
    REQUIRE_OK(sv.v->Read(0, buf.data(), buf.size()));
  });
  WARN("worst foreground read during the scrub's narrowing: " << worst.count() << " ms");
  CHECK(worst < milliseconds(150));
  const auto [st, pending] = scrub.get();
  CHECK_OK(st);
  CHECK(pending == 1);
}

}  // namespace
}  // namespace remapfs::testing
