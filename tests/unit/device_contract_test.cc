// The BlockDevice contract (block_device.h), written once and run over
// every implementation and decorator (CryFS-style): the memory device, a
// file, FaultyDevice with no fault armed, and AlignedDevice at 512 and 4096
// bytes over a base that takes only aligned requests, and over an O_DIRECT
// file. What only one device does is tested in its own file.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "remapfs/aligned_device.h"
#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/status.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::Pattern;
using remapfs::testing::ScratchDir;
using remapfs::testing::StrictAlignmentDevice;

namespace {

constexpr uint64_t kSize = 64 * 1024;

// One fixture per implementation; each owns its device (and temp file).
struct MemoryFixture {
  std::unique_ptr<BlockDevice> device = NewMemoryDevice(kSize);
};

struct FileFixture {
  ScratchDir dir;
  std::unique_ptr<BlockDevice> device;
  FileFixture() {
    testing::CreateZeroFile(dir.File("disk.img"), kSize);
    device = testing::OpenFileDeviceOrFail(dir.File("disk.img"));
  }
};

struct FaultyFixture {
  std::unique_ptr<BlockDevice> device = std::make_unique<FaultyDevice>(NewMemoryDevice(kSize), 512);
};

// AlignedDevice over a base that refuses (and counts) any unaligned request.
template <uint32_t kAlignment>
using AlignedFixture = testing::AlignedOverStrict<kSize, kAlignment>;

// OpenFileDevice(direct_io) on a real file, which wraps it in an
// AlignedDevice; the strict memory base when the filesystem takes no
// O_DIRECT.
struct AlignedDirectFileFixture {
  testing::VarTmpDir dir;
  std::unique_ptr<BlockDevice> device;
  AlignedDirectFileFixture() {
    const std::string path = dir.path() + "/disk.img";
    FileDeviceOptions options;
    options.direct_io = true;
    Status st = Status::InvalidArgument("no directory in /var/tmp");
    if (!dir.path().empty()) {
      testing::CreateZeroFile(path, kSize);
      st = OpenFileDevice(path, options, &device);
    }
    if (!st.ok()) {
      WARN("O_DIRECT file unavailable (" << st.ToString() << "); strict memory base");
      REQUIRE(st.IsInvalidArgument());
      device = testing::WrapAlignedOrFail(std::make_unique<StrictAlignmentDevice>(kSize, 4096),
                                          4096);
    }
    REQUIRE(dynamic_cast<AlignedDevice*>(device.get()) != nullptr);
  }
};

#define DEVICE_FIXTURES                                                                 \
  MemoryFixture, FileFixture, FaultyFixture, AlignedFixture<512>, AlignedFixture<4096>, \
      AlignedDirectFileFixture

std::vector<unsigned char> ReadAll(BlockDevice& dev) { return testing::Snapshot(&dev); }

}  // namespace

TEMPLATE_TEST_CASE("givenNewDevice_whenQueried_thenSizeIsFixedAndBytesAreZero", "[device]",
                   DEVICE_FIXTURES) {
  TestType fx;
  REQUIRE(fx.device->Size() == kSize);
  REQUIRE(ReadAll(*fx.device) == std::vector<unsigned char>(kSize, 0));
  REQUIRE(fx.device->Flush().ok());
}

TEMPLATE_TEST_CASE("givenUnalignedWrites_whenReadBack_thenBytesRoundTrip", "[device]",
                   DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  std::vector<unsigned char> model(kSize, 0);
  const std::pair<uint64_t, size_t> writes[] = {{0, 1},       {1, 510},       {511, 2}, {513, 4000},
                                                {4095, 8193}, {kSize - 7, 7}, {3, 1}};
  unsigned seed = 1;
  for (auto [offset, len] : writes) {
    auto data = Pattern(0, len, seed++);
    REQUIRE(dev.Write(offset, data.data(), len).ok());
    std::memcpy(model.data() + offset, data.data(), len);
    std::vector<unsigned char> back(len);
    REQUIRE(dev.Read(offset, back.data(), len).ok());
    REQUIRE(back == data);
  }
  REQUIRE(dev.Flush().ok());
  REQUIRE(ReadAll(dev) == model);
}

TEMPLATE_TEST_CASE("givenRangePastEnd_whenReadOrWrite_thenInvalidArgumentAndNothingChanges",
                   "[device]", DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  auto before = Pattern(0, kSize, 9);
  REQUIRE(dev.Write(0, before.data(), kSize).ok());

  const std::pair<uint64_t, size_t> bad[] = {
      {kSize - 10, 11}, {kSize, 1}, {kSize + 1, 0}, {UINT64_MAX, 2}, {1, kSize}};
  for (auto [offset, len] : bad) {
    CAPTURE(offset, len);
    std::vector<unsigned char> buf(std::min<size_t>(len, 2 * kSize) + 1, 0xAA);
    Status r = dev.Read(offset, buf.data(), len);
    REQUIRE(r.IsInvalidArgument());
    REQUIRE(r.errno_value() == EINVAL);
    REQUIRE(buf == std::vector<unsigned char>(buf.size(), 0xAA));
    Status w = dev.Write(offset, buf.data(), len);
    REQUIRE(w.IsInvalidArgument());
    REQUIRE(w.errno_value() == EINVAL);
  }
  REQUIRE(ReadAll(dev) == before);
  // Reaching exactly to the end is in range.
  unsigned char last = 0;
  REQUIRE(dev.Read(kSize - 1, &last, 1).ok());
  REQUIRE(last == before[kSize - 1]);
}

TEMPLATE_TEST_CASE("givenThreadsWritingDisjointRanges_whenReadBack_thenEveryByteIsTheirs",
                   "[device]", DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  constexpr unsigned kThreads = 8;
  constexpr size_t kRegion = kSize / kThreads;
  constexpr size_t kChunk = 100;  // unaligned chunks
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto data = Pattern(0, kRegion, t + 1);
      for (size_t off = 0; off < kRegion; off += kChunk) {
        size_t len = std::min(kChunk, kRegion - off);
        if (!dev.Write(t * kRegion + off, data.data() + off, len).ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures == std::vector<int>(kThreads, 0));
  auto all = ReadAll(dev);
  for (unsigned t = 0; t < kThreads; ++t) {
    auto expected = Pattern(0, kRegion, t + 1);
    REQUIRE(std::equal(expected.begin(), expected.end(), all.begin() + t * kRegion));
  }
}

// Two writers and a reader on the same unaligned bytes at once, as FUSE
// clients may be: the Volume and AlignedDevice order none of it. Every byte
// must hold, and read as, a value some call wrote. On a plain build this
// holds even for a racy device; under ThreadSanitizer (the tsan stage of
// scripts/test.sh) a device that copies without synchronisation fails here.
TEMPLATE_TEST_CASE("givenOverlappingReadsAndWrites_whenConcurrent_thenEveryByteIsOneThatWasWritten",
                   "[device]", DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  constexpr uint64_t kAt = 1000;
  constexpr size_t kLen = 10000;  // spans three 4 KiB blocks, unaligned at both ends
  constexpr int kRounds = 200;
  auto writer = [&](unsigned char value, int* failures) {
    const std::vector<unsigned char> data(kLen, value);
    for (int i = 0; i < kRounds; ++i) {
      if (!dev.Write(kAt, data.data(), kLen).ok()) ++*failures;
    }
  };
  auto known = [](unsigned char b) { return b == 0 || b == 0x11 || b == 0x22; };
  int write_failures[2] = {0, 0}, read_failures = 0, strange_bytes = 0;
  std::thread a(writer, 0x11, &write_failures[0]), b(writer, 0x22, &write_failures[1]);
  std::vector<unsigned char> back(kLen);
  for (int i = 0; i < kRounds; ++i) {
    if (!dev.Read(kAt, back.data(), kLen).ok()) ++read_failures;
    strange_bytes += static_cast<int>(
        std::count_if(back.begin(), back.end(), [&](unsigned char v) { return !known(v); }));
  }
  a.join();
  b.join();
  REQUIRE(write_failures[0] + write_failures[1] + read_failures == 0);
  REQUIRE(strange_bytes == 0);
  auto all = ReadAll(dev);
  REQUIRE(std::all_of(all.begin() + kAt, all.begin() + kAt + kLen,
                      [](unsigned char v) { return v == 0x11 || v == 0x22; }));
}

TEMPLATE_TEST_CASE("givenRandomUnalignedRequests_whenComparedWithByteArray_thenIdentical",
                   "[device]", DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  std::vector<uint8_t> model(kSize, 0);
  std::mt19937_64 rng(42);
  // Requests from 1 byte to past the 1 MiB bounce size would be too big for
  // kSize; up to 3 blocks of 4096 plus change covers head, body and tail.
  std::uniform_int_distribution<size_t> len_dist(1, 3 * 4096 + 700);
  std::vector<uint8_t> storage(16 * 1024 + 64);
  for (int i = 0; i < 400; ++i) {
    const size_t len = len_dist(rng);
    const uint64_t offset = rng() % (kSize - len + 1);
    uint8_t* buf = storage.data() + rng() % 64;  // any buffer alignment
    CAPTURE(i, offset, len);
    if (rng() % 2 == 0) {
      auto data = Pattern(offset, len, 1000 + i);
      std::memcpy(buf, data.data(), len);
      REQUIRE_OK(dev.Write(offset, buf, len));
      std::memcpy(model.data() + offset, data.data(), len);
    } else {
      REQUIRE_OK(dev.Read(offset, buf, len));
      REQUIRE(std::memcmp(buf, model.data() + offset, len) == 0);
    }
  }
  REQUIRE_OK(dev.Flush());
  REQUIRE(testing::ByteDiff(ReadAll(dev), model) == "");
}

TEMPLATE_TEST_CASE("givenThreadsOwningBytesOfSharedBlocks_whenWritingConcurrently_"
                   "thenNoWriteIsLost",
                   "[device]", DEVICE_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  // Every 512-byte sector is shared by all threads: thread t owns bytes
  // [t*kRun+1, (t+1)*kRun-1) of each, so every write is a partial-block
  // read-modify-write at alignment 512 and 4096 alike.
  constexpr unsigned kThreads = 8;
  constexpr uint64_t kSectors = 64;
  constexpr size_t kRun = 512 / kThreads;
  constexpr int kRounds = 25;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (uint64_t b = 0; b < kSectors; ++b) {
          const uint64_t at = b * 512 + t * kRun + 1;
          auto data = Pattern(at, kRun - 2, round * kThreads + t);
          if (!dev.Write(at, data.data(), data.size()).ok()) ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures == std::vector<int>(kThreads, 0));
  const auto all = ReadAll(dev);
  for (uint64_t b = 0; b < kSectors; ++b) {
    for (unsigned t = 0; t < kThreads; ++t) {
      CAPTURE(b, t);
      const uint64_t at = b * 512 + t * kRun + 1;
      auto want = Pattern(at, kRun - 2, (kRounds - 1) * kThreads + t);
      std::vector<uint8_t> got(all.begin() + at, all.begin() + at + want.size());
      REQUIRE(testing::ByteDiff(got, want) == "");
      REQUIRE(all[at - 1] == 0);  // the unowned bytes around each run stay 0
      REQUIRE(all[at + want.size()] == 0);
    }
  }
}
