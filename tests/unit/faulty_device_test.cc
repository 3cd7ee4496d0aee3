// FaultyDevice (faulty_device.h), the decorator that fails chosen sectors:
// read, write and read-write faults, the fault list's splits and merges, an
// armed crash that tears one write, and the per-error latency: a call that
// hits an injected fault waits before its EIO, like a drive retrying a bad
// sector, and holds no lock meanwhile. Timing bounds are generous (a 500 ms
// sleep against a memory read): the figures differ by orders of magnitude.
// Its volatile-cache crash model is in faulty_device_volatile_cache_test.cc; the
// BlockDevice contract, in device_contract_test.cc.
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "test_util.h"

using namespace remapfs;
using namespace std::chrono_literals;
using remapfs::testing::Pattern;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kSize = 64 * 1024;

std::vector<unsigned char> ReadAll(BlockDevice& dev) { return testing::Snapshot(&dev); }

template <typename F>
std::chrono::milliseconds TimeOf(F&& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

struct FaultyOverMemory {
  FaultyDevice dev{NewMemoryDevice(kSize), 512};
  BlockDevice& base = *dev.base();
  std::vector<unsigned char> original = Pattern(0, kSize, 3);
  FaultyOverMemory() { REQUIRE(base.Write(0, original.data(), kSize).ok()); }
};

bool SameFaults(const std::vector<Fault>& got, const std::vector<Fault>& want) {
  if (got.size() != want.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].first != want[i].first || got[i].last != want[i].last ||
        got[i].mode != want[i].mode) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("givenReadFault_whenReadTouchesSector_thenEioAndBufferUntouched", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(2, 3, FaultMode::kRead);
  std::vector<unsigned char> buf(100, 0xAA);
  Status st = fx.dev.Read(3 * 512 + 500, buf.data(), buf.size());  // sectors 3..4
  REQUIRE(st.IsIoError());
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(buf == std::vector<unsigned char>(100, 0xAA));
  // Neighbours read fine; the last byte before the fault is still readable.
  REQUIRE(fx.dev.Read(2 * 512 - 100, buf.data(), 100).ok());
  REQUIRE(fx.dev.Read(4 * 512, buf.data(), 100).ok());
  // A read fault does not stop writes.
  auto data = Pattern(0, 512, 44);
  REQUIRE(fx.dev.Write(2 * 512, data.data(), 512).ok());
  std::vector<unsigned char> back(512);
  REQUIRE(fx.base.Read(2 * 512, back.data(), 512).ok());
  REQUIRE(back == data);
}

TEST_CASE("givenWriteFault_whenWriteTouchesSector_thenEioAndBaseUnchanged", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(5, 5, FaultMode::kWrite);
  auto data = Pattern(0, 1024, 8);
  Status st = fx.dev.Write(4 * 512 + 1, data.data(), 1024);  // sectors 4..6
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(ReadAll(fx.base) == fx.original);
  std::vector<unsigned char> buf(512);
  REQUIRE(fx.dev.Read(5 * 512, buf.data(), 512).ok());
  REQUIRE(fx.dev.Write(6 * 512, data.data(), 512).ok());
}

TEST_CASE("givenRwFault_whenReadOrWrite_thenBothFail", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(7, 7, FaultMode::kReadWrite);
  std::vector<unsigned char> buf(1, 0);
  REQUIRE(fx.dev.Read(7 * 512 + 511, buf.data(), 1).errno_value() == EIO);
  REQUIRE(fx.dev.Write(7 * 512, buf.data(), 1).errno_value() == EIO);
  REQUIRE(ReadAll(fx.base) == fx.original);
  REQUIRE(fx.dev.Read(8 * 512, buf.data(), 1).ok());
}

TEST_CASE("givenFaultRange_whenMiddleCleared_thenRangeSplits", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(10, 20, FaultMode::kReadWrite);
  fx.dev.ClearFaults(14, 15);
  REQUIRE(SameFaults(fx.dev.Faults(),
                     {{10, 13, FaultMode::kReadWrite}, {16, 20, FaultMode::kReadWrite}}));
  unsigned char b = 0;
  REQUIRE(fx.dev.Read(14 * 512, &b, 1).ok());
  REQUIRE(fx.dev.Read(15 * 512 + 511, &b, 1).ok());
  REQUIRE(fx.dev.Read(13 * 512 + 511, &b, 1).errno_value() == EIO);
  REQUIRE(fx.dev.Read(16 * 512, &b, 1).errno_value() == EIO);
  // Clearing across both pieces' edges trims them.
  fx.dev.ClearFaults(0, 10);
  fx.dev.ClearFaults(20, UINT64_MAX);
  REQUIRE(SameFaults(fx.dev.Faults(),
                     {{11, 13, FaultMode::kReadWrite}, {16, 19, FaultMode::kReadWrite}}));
}

TEST_CASE("givenOverlappingFaults_whenListed_thenSortedMergedAndLastModeWins", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(30, 40, FaultMode::kRead);
  fx.dev.AddFault(5, 9, FaultMode::kWrite);
  fx.dev.AddFault(10, 12, FaultMode::kWrite);  // adjacent, same mode: merges
  REQUIRE(SameFaults(fx.dev.Faults(), {{5, 12, FaultMode::kWrite}, {30, 40, FaultMode::kRead}}));
  fx.dev.AddFault(35, 36, FaultMode::kWrite);  // replaces the mode inside
  REQUIRE(SameFaults(fx.dev.Faults(), {{5, 12, FaultMode::kWrite},
                                       {30, 34, FaultMode::kRead},
                                       {35, 36, FaultMode::kWrite},
                                       {37, 40, FaultMode::kRead}}));
  fx.dev.AddFault(35, 36, FaultMode::kRead);  // same mode again: one range
  REQUIRE(SameFaults(fx.dev.Faults(), {{5, 12, FaultMode::kWrite}, {30, 40, FaultMode::kRead}}));
  fx.dev.AddFault(0, 100, FaultMode::kReadWrite);
  REQUIRE(SameFaults(fx.dev.Faults(), {{0, 100, FaultMode::kReadWrite}}));
  fx.dev.ClearAllFaults();
  REQUIRE(fx.dev.Faults().empty());
  REQUIRE(ReadAll(fx.dev) == fx.original);
}

TEST_CASE("givenArmedCrash_whenWritesContinue_thenOneTornWriteAndThenSilence", "[faulty]") {
  FaultyOverMemory fx;
  fx.dev.ArmCrash(/*writes_before=*/2, /*torn_bytes=*/100);
  const uint64_t seen_before = fx.dev.writes_seen();
  auto a = Pattern(0, 512, 21), b = Pattern(0, 512, 22), c = Pattern(0, 512, 23);
  REQUIRE(fx.dev.Write(0, a.data(), 512).ok());
  REQUIRE(fx.dev.Write(512, b.data(), 512).ok());
  REQUIRE_FALSE(fx.dev.crashed());
  Status torn = fx.dev.Write(1024, c.data(), 512);
  REQUIRE(torn.errno_value() == EIO);
  REQUIRE(fx.dev.crashed());
  REQUIRE(fx.dev.writes_seen() == seen_before + 3);

  auto expected = fx.original;
  std::memcpy(expected.data(), a.data(), 512);
  std::memcpy(expected.data() + 512, b.data(), 512);
  std::memcpy(expected.data() + 1024, c.data(), 100);  // exactly torn_bytes
  REQUIRE(ReadAll(fx.base) == expected);

  // After the power cut nothing reaches the base; reads still work.
  REQUIRE(fx.dev.Write(4096, c.data(), 512).errno_value() == EIO);
  REQUIRE(fx.dev.Flush().errno_value() == EIO);
  REQUIRE(fx.dev.writes_seen() == seen_before + 3);
  REQUIRE(ReadAll(fx.dev) == expected);

  fx.dev.DisarmCrash();
  REQUIRE_FALSE(fx.dev.crashed());
  REQUIRE(fx.dev.Write(4096, c.data(), 512).ok());
  REQUIRE(fx.dev.Flush().ok());
}

// ---- Per-error latency ---------------------------------------------------

TEST_CASE("givenErrorLatency_whenCallHitsFault_thenEioAfterTheLatency", "[faulty]") {
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

TEST_CASE("givenErrorLatency_whenCallSucceeds_thenItDoesNotWait", "[faulty]") {
  FaultyDevice dev(NewMemoryDevice(kSize), 512);
  dev.AddFault(8, 8, FaultMode::kRead);
  dev.SetErrorLatency(500ms);
  std::vector<unsigned char> buf(4096);
  // A healthy read, and a write over a read-only fault, pay nothing.
  REQUIRE(TimeOf([&] { REQUIRE(dev.Read(0, buf.data(), buf.size()).ok()); }) < 250ms);
  REQUIRE(TimeOf([&] { REQUIRE(dev.Write(4096, buf.data(), buf.size()).ok()); }) < 250ms);
}

TEST_CASE("givenZeroOrNegativeLatency_whenCallHitsFault_thenEioAtOnce", "[faulty]") {
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
          "[faulty]") {
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
