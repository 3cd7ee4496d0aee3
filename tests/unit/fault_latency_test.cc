// FaultyDevice's per-error latency: a call that hits an injected fault
// waits before its EIO, like a drive retrying a bad sector, and holds no
// lock meanwhile. Timing bounds are generous (a 500 ms sleep against a
// memory read): the figures differ by orders of magnitude.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"

using namespace remapfs;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kSize = 64 * 1024;

template <typename F>
std::chrono::milliseconds TimeOf(F&& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

}  // namespace

TEST_CASE("givenErrorLatency_whenCallHitsFault_thenEioAfterTheLatency", "[device]") {
  FaultyDevice dev(NewMemoryDevice(kSize), 512);
  dev.AddFault(8, 8, FaultMode::kReadWrite);
  dev.SetErrorLatency(200ms);
  REQUIRE(dev.error_latency() == 200ms);
  std::vector<unsigned char> buf(4096);
  Status st;
  REQUIRE(TimeOf([&] { st = dev.Read(4096, buf.data(), buf.size()); }) >= 200ms);
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(TimeOf([&] { st = dev.Write(4096, buf.data(), buf.size()); }) >= 200ms);
  REQUIRE(st.errno_value() == EIO);
  // A weak sector spends the same time on each failed read.
  dev.AddFlakyRead(20, 20, 1);
  REQUIRE(TimeOf([&] { st = dev.Read(20 * 512, buf.data(), 512); }) >= 200ms);
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(dev.Read(20 * 512, buf.data(), 512).ok());
}

TEST_CASE("givenErrorLatency_whenCallSucceeds_thenItDoesNotWait", "[device]") {
  FaultyDevice dev(NewMemoryDevice(kSize), 512);
  dev.AddFault(8, 8, FaultMode::kRead);
  dev.SetErrorLatency(500ms);
  std::vector<unsigned char> buf(4096);
  // A healthy read, and a write over a read-only fault, pay nothing.
  REQUIRE(TimeOf([&] { REQUIRE(dev.Read(0, buf.data(), buf.size()).ok()); }) < 250ms);
  REQUIRE(TimeOf([&] { REQUIRE(dev.Write(4096, buf.data(), buf.size()).ok()); }) < 250ms);
}

TEST_CASE("givenZeroOrNegativeLatency_whenCallHitsFault_thenEioAtOnce", "[device]") {
  FaultyDevice dev(NewMemoryDevice(kSize), 512);
  dev.AddFault(0, 0, FaultMode::kRead);
  dev.SetErrorLatency(500ms);
  dev.SetErrorLatency(0ms);  // "latency 0" turns it off
  unsigned char b = 0;
  Status st;
  REQUIRE(TimeOf([&] { st = dev.Read(0, &b, 1); }) < 250ms);
  REQUIRE(st.errno_value() == EIO);
  dev.SetErrorLatency(-5ms);
  REQUIRE(dev.error_latency() == 0ms);
}

TEST_CASE("givenFaultedReadSleeping_whenOtherThreadsUseTheDevice_thenTheyAreNotDelayed",
          "[device]") {
  FaultyDevice dev(NewMemoryDevice(kSize), 512);
  dev.AddFault(8, 8, FaultMode::kRead);
  dev.SetErrorLatency(500ms);
  std::atomic<bool> slow_done{false};
  Status slow_status;
  std::thread slow([&] {
    std::vector<unsigned char> buf(4096);
    slow_status = dev.Read(4096, buf.data(), buf.size());
    slow_done = true;
  });
  std::this_thread::sleep_for(100ms);  // the slow read is now in its latency
  std::vector<unsigned char> buf(4096);
  const auto healthy = TimeOf([&] {
    REQUIRE(dev.Read(16 * 512, buf.data(), buf.size()).ok());
    REQUIRE(dev.Write(32 * 512, buf.data(), buf.size()).ok());
    dev.AddFault(100, 100, FaultMode::kWrite);  // the fault table's lock is free
    REQUIRE(dev.Faults().size() == 2);
  });
  const bool overlapped = !slow_done;
  slow.join();
  INFO("healthy calls took " << healthy.count() << " ms");
  REQUIRE(overlapped);
  REQUIRE(healthy < 250ms);
  REQUIRE(slow_status.errno_value() == EIO);
}
