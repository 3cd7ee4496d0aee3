// AlignedDevice (byte-granular I/O over an O_DIRECT base) and error
// attribution: the BlockDevice contract over the decorator, a differential
// test against a plain byte array, concurrent read-modify-write of shared
// blocks, and flush (writeback) errors reaching the Volume::Sync caller.
//
// The O_DIRECT file fixture needs a filesystem that takes O_DIRECT; where
// there is none it falls back to the strict in-memory base below, so the
// head/body/tail and RMW logic is tested on every machine.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "remapfs/aligned_device.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::Pattern;
using remapfs::testing::StrictAlignmentDevice;

namespace {

constexpr uint64_t kSize = 256 * 1024;

std::unique_ptr<AlignedDevice> WrapOrFail(std::unique_ptr<BlockDevice> base,
                                          uint32_t alignment) {
  std::unique_ptr<AlignedDevice> out;
  REQUIRE_OK(AlignedDevice::Wrap(std::move(base), alignment, &out));
  return out;
}

template <uint32_t kAlignment>
struct StrictFixture {
  StrictAlignmentDevice* strict = new StrictAlignmentDevice(kSize, kAlignment);
  std::unique_ptr<AlignedDevice> device =
      WrapOrFail(std::unique_ptr<BlockDevice>(strict), kAlignment);
  ~StrictFixture() { CHECK(strict->rejected.load() == 0); }
};

// A directory on a disk filesystem (tmpfs may refuse O_DIRECT).
class VarTmpDir {
 public:
  VarTmpDir() {
    std::string tmpl = "/var/tmp/remapfs-aligned-XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~VarTmpDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool CreateZeroFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  ::close(fd);
  return ok;
}

// OpenFileDevice(direct_io) on a real file; the strict memory base when the
// filesystem takes no O_DIRECT.
struct DirectFileFixture {
  VarTmpDir dir;
  std::unique_ptr<BlockDevice> device;
  DirectFileFixture() {
    const std::string path = dir.path() + "/disk.img";
    FileDeviceOptions options;
    options.direct_io = true;
    Status st = dir.path().empty() || !CreateZeroFile(path, kSize)
                    ? Status::InvalidArgument("no directory in /var/tmp")
                    : OpenFileDevice(path, options, &device);
    if (!st.ok()) {
      WARN("O_DIRECT file unavailable (" << st.ToString() << "); strict memory base");
      REQUIRE(st.IsInvalidArgument());
      device = WrapOrFail(std::make_unique<StrictAlignmentDevice>(kSize, 4096), 4096);
    }
    REQUIRE(dynamic_cast<AlignedDevice*>(device.get()) != nullptr);
  }
};

std::vector<uint8_t> ReadAll(BlockDevice& dev) {
  std::vector<uint8_t> out(dev.Size());
  REQUIRE_OK(dev.Read(0, out.data(), out.size()));
  return out;
}

}  // namespace

// ---- The BlockDevice contract over AlignedDevice -------------------------

#define ALIGNED_FIXTURES StrictFixture<512>, StrictFixture<4096>, DirectFileFixture

TEMPLATE_TEST_CASE("givenAlignedDevice_whenNew_thenSizeIsFixedAndBytesAreZero",
                   "[aligned]", ALIGNED_FIXTURES) {
  TestType fx;
  REQUIRE(fx.device->Size() == kSize);
  REQUIRE(ReadAll(*fx.device) == std::vector<uint8_t>(kSize, 0));
  REQUIRE_OK(fx.device->Flush());
}

TEMPLATE_TEST_CASE("givenAlignedDevice_whenRangePastEnd_thenInvalidArgumentAndNothingChanges",
                   "[aligned]", ALIGNED_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  const auto before = Pattern(0, kSize, 9);
  REQUIRE_OK(dev.Write(0, before.data(), kSize));
  const std::pair<uint64_t, size_t> bad[] = {
      {kSize - 10, 11}, {kSize, 1}, {kSize + 1, 0}, {UINT64_MAX, 2}, {1, kSize}};
  for (auto [offset, len] : bad) {
    CAPTURE(offset, len);
    std::vector<uint8_t> buf(std::min<size_t>(len, 2 * kSize) + 1, 0xAA);
    Status r = dev.Read(offset, buf.data(), len);
    REQUIRE(r.errno_value() == EINVAL);
    REQUIRE(buf == std::vector<uint8_t>(buf.size(), 0xAA));
    REQUIRE(dev.Write(offset, buf.data(), len).errno_value() == EINVAL);
  }
  REQUIRE(ReadAll(dev) == before);
  uint8_t last = 0;
  REQUIRE_OK(dev.Read(kSize - 1, &last, 1));
  REQUIRE(last == before[kSize - 1]);
}

TEMPLATE_TEST_CASE("givenRandomUnalignedRequests_whenComparedWithByteArray_thenIdentical",
                   "[aligned]", ALIGNED_FIXTURES) {
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

TEMPLATE_TEST_CASE("givenThreadsOwningBytesOfSharedBlocks_whenWritingConcurrently_thenNoWriteIsLost",
                   "[aligned]", ALIGNED_FIXTURES) {
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

// ---- AlignedDevice specifics ---------------------------------------------

TEST_CASE("givenAlignedRequest_whenServed_thenCallerBufferGoesStraightToBase",
          "[aligned]") {
  StrictFixture<512> fx;
  alignas(4096) static uint8_t buf[8192];
  std::memset(buf, 0x5A, sizeof buf);
  REQUIRE_OK(fx.device->Write(4096, buf, sizeof buf));
  REQUIRE(fx.strict->calls.load() == 1);
  REQUIRE(fx.strict->last_buffer.load() == buf);
  REQUIRE_OK(fx.device->Read(512, buf, 1024));
  REQUIRE(fx.strict->calls.load() == 2);
  REQUIRE(fx.strict->last_buffer.load() == buf);
}

TEST_CASE("givenUnalignedWriteWithinOneBlock_whenServed_thenOneReadAndOneWriteOfThatBlock",
          "[aligned]") {
  StrictFixture<4096> fx;
  const auto data = Pattern(0, 10, 3);
  REQUIRE_OK(fx.device->Write(4096 + 100, data.data(), data.size()));
  REQUIRE(fx.strict->calls.load() == 2);  // read the block, write it back
  auto back = testing::ReadRange(fx.device.get(), 4096, 4096);
  std::vector<uint8_t> want(4096, 0);
  std::memcpy(want.data() + 100, data.data(), data.size());
  REQUIRE(testing::ByteDiff(back, want) == "");
}

TEST_CASE("givenUnreadableBlock_whenPartiallyWritten_thenEioAndBlockUnchanged",
          "[aligned]") {
  auto* faulty = new FaultyDevice(std::make_unique<StrictAlignmentDevice>(kSize, 512), 512);
  auto dev = WrapOrFail(std::unique_ptr<BlockDevice>(faulty), 512);
  const auto before = Pattern(0, kSize, 5);
  REQUIRE_OK(dev->Write(0, before.data(), kSize));
  faulty->AddFault(3, 3, FaultMode::kRead);
  const auto data = Pattern(0, 100, 6);
  // Head of this write is sector 3: its RMW cannot read the old bytes.
  Status st = dev->Write(3 * 512 + 200, data.data(), data.size());
  REQUIRE(st.errno_value() == EIO);
  faulty->ClearAllFaults();
  REQUIRE(testing::ByteDiff(ReadAll(*dev), before) == "");
  // A whole-sector write needs no read and goes through.
  const auto sector = Pattern(0, 512, 7);
  faulty->AddFault(3, 3, FaultMode::kRead);
  REQUIRE_OK(dev->Write(3 * 512, sector.data(), sector.size()));
}

TEST_CASE("givenBadAlignmentOrSize_whenWrapped_thenInvalidArgument", "[aligned]") {
  for (uint32_t alignment : {0u, 1u, 256u, 1000u, 3072u, 131072u}) {
    CAPTURE(alignment);
    std::unique_ptr<AlignedDevice> out;
    Status st = AlignedDevice::Wrap(NewMemoryDevice(kSize), alignment, &out);
    REQUIRE(st.errno_value() == EINVAL);
    REQUIRE(out == nullptr);
  }
  std::unique_ptr<AlignedDevice> out;
  Status st = AlignedDevice::Wrap(NewMemoryDevice(4096 + 512), 4096, &out);
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(st.message().find("4608") != std::string::npos);
  REQUIRE_OK(AlignedDevice::Wrap(NewMemoryDevice(4096 + 512), 512, &out));
}

TEST_CASE("givenDirectIoFile_whenOpened_thenAlignmentIsWhatTheFilesystemReports",
          "[aligned]") {
  VarTmpDir dir;
  REQUIRE_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/main.img";
  REQUIRE(CreateZeroFile(path, 64 * 1024));
  uint32_t logical = 0;
  REQUIRE_OK(QueryLogicalBlockSize(path, &logical));
  REQUIRE(logical >= 512);
  REQUIRE((logical & (logical - 1)) == 0);
  FileDeviceOptions options;
  options.direct_io = true;
  std::unique_ptr<BlockDevice> dev;
  Status st = OpenFileDevice(path, options, &dev);
  if (st.ok()) {
    auto* aligned = dynamic_cast<AlignedDevice*>(dev.get());
    REQUIRE(aligned != nullptr);
    REQUIRE(aligned->alignment() == logical);
  } else {
    REQUIRE(st.IsInvalidArgument());  // the filesystem refuses O_DIRECT
    REQUIRE(st.message().find(path) != std::string::npos);
  }
  // A size that is no multiple of 512 can never take O_DIRECT.
  dev.reset();
  const std::string odd = dir.path() + "/odd.img";
  REQUIRE(CreateZeroFile(odd, 1000));
  st = OpenFileDevice(odd, options, &dev);
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(st.message().find(odd) != std::string::npos);
  REQUIRE(dev == nullptr);
  REQUIRE(QueryLogicalBlockSize(dir.path() + "/missing", &logical).errno_value() == ENOENT);
}

// ---- Error attribution: writeback errors surface at Sync -----------------

TEST_CASE("givenMainFlushFails_whenSynced_thenEioIsReturnedAndRecorded", "[aligned]") {
  testing::MemVolume mv({});
  const uint64_t errors_before = mv->Stats().write_errors;
  const auto data = Pattern(0, 4096, 11);
  REQUIRE_OK(mv->Write(0, data.data(), data.size()));
  mv.main_fault()->FailNextFlush();
  Status st = mv->Sync();
  REQUIRE(st.IsIoError());
  REQUIRE(st.errno_value() == EIO);
  VolumeStats stats = mv->Stats();
  REQUIRE(stats.write_errors == errors_before + 1);
  REQUIRE(stats.last_error.find("flush main") != std::string::npos);
  REQUIRE(stats.last_error.find("injected writeback error") != std::string::npos);
  // fdatasync reports a writeback error once; the next Sync is clean.
  REQUIRE_OK(mv->Sync());
  REQUIRE(mv->Stats().write_errors == errors_before + 1);
}

TEST_CASE("givenSpareFlushFails_whenSynced_thenEioIsReturnedAndRecorded", "[aligned]") {
  testing::MemVolume mv({});
  mv.spare_fault()->FailNextFlush();
  Status st = mv->Sync();
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(mv->Stats().write_errors == 1);
  REQUIRE(mv->Stats().last_error.find("flush spare") != std::string::npos);
}
