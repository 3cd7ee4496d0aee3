// BlockDevice contract, written once and run against every implementation
// (CryFS-style), plus the behaviour specific to FaultyDevice and FileDevice.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/status.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::ScratchDir;

namespace {

constexpr uint64_t kSize = 64 * 1024;

void CreateZeroFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  ::close(fd);
}

std::unique_ptr<BlockDevice> OpenOrFail(const std::string& path,
                                        FileDeviceOptions options = {}) {
  std::unique_ptr<BlockDevice> dev;
  Status st = OpenFileDevice(path, options, &dev);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return dev;
}

// One fixture per implementation; each owns its device (and temp file).
struct MemoryFixture {
  std::unique_ptr<BlockDevice> device = NewMemoryDevice(kSize);
};

struct FileFixture {
  ScratchDir dir;
  std::unique_ptr<BlockDevice> device;
  FileFixture() {
    CreateZeroFile(dir.File("disk.img"), kSize);
    device = OpenOrFail(dir.File("disk.img"));
  }
};

struct FaultyFixture {
  std::unique_ptr<BlockDevice> device =
      std::make_unique<FaultyDevice>(NewMemoryDevice(kSize), 512);
};

std::vector<unsigned char> Pattern(size_t len, unsigned seed) {
  std::vector<unsigned char> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = static_cast<unsigned char>(seed * 131 + i * 7 + 1);
  return out;
}

std::vector<unsigned char> ReadAll(BlockDevice& dev) {
  std::vector<unsigned char> out(dev.Size());
  REQUIRE(dev.Read(0, out.data(), out.size()).ok());
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("givenNewDevice_whenQueried_thenSizeIsFixedAndBytesAreZero", "[device]",
                   MemoryFixture, FileFixture, FaultyFixture) {
  TestType fx;
  REQUIRE(fx.device->Size() == kSize);
  REQUIRE(ReadAll(*fx.device) == std::vector<unsigned char>(kSize, 0));
  REQUIRE(fx.device->Flush().ok());
}

TEMPLATE_TEST_CASE("givenUnalignedWrites_whenReadBack_thenBytesRoundTrip", "[device]",
                   MemoryFixture, FileFixture, FaultyFixture) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  std::vector<unsigned char> model(kSize, 0);
  const std::pair<uint64_t, size_t> writes[] = {
      {0, 1}, {1, 510}, {511, 2}, {513, 4000}, {4095, 8193}, {kSize - 7, 7}, {3, 1}};
  unsigned seed = 1;
  for (auto [offset, len] : writes) {
    auto data = Pattern(len, seed++);
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
                   "[device]", MemoryFixture, FileFixture, FaultyFixture) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  auto before = Pattern(kSize, 9);
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
  }
  REQUIRE(ReadAll(dev) == before);
  // Reaching exactly to the end is in range.
  unsigned char last = 0;
  REQUIRE(dev.Read(kSize - 1, &last, 1).ok());
  REQUIRE(last == before[kSize - 1]);
}

TEMPLATE_TEST_CASE("givenThreadsWritingDisjointRanges_whenReadBack_thenEveryByteIsTheirs",
                   "[device]", MemoryFixture, FileFixture, FaultyFixture) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  constexpr unsigned kThreads = 8;
  constexpr size_t kRegion = kSize / kThreads;
  constexpr size_t kChunk = 100;  // unaligned chunks
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto data = Pattern(kRegion, t + 1);
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
    auto expected = Pattern(kRegion, t + 1);
    REQUIRE(std::equal(expected.begin(), expected.end(), all.begin() + t * kRegion));
  }
}

// Two writers and a reader on the same unaligned bytes at once, as FUSE
// clients may be: the Volume and AlignedDevice order none of it. Every byte
// must hold, and read as, a value some call wrote. On a plain build this
// holds even for a racy device; under ThreadSanitizer (the tsan stage of
// scripts/test.sh) a device that copies without synchronisation fails here.
TEMPLATE_TEST_CASE("givenOverlappingReadsAndWrites_whenConcurrent_thenEveryByteIsOneThatWasWritten",
                   "[device]", MemoryFixture, FileFixture, FaultyFixture) {
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
    strange_bytes += static_cast<int>(std::count_if(back.begin(), back.end(),
                                                    [&](unsigned char v) { return !known(v); }));
  }
  a.join();
  b.join();
  REQUIRE(write_failures[0] + write_failures[1] + read_failures == 0);
  REQUIRE(strange_bytes == 0);
  auto all = ReadAll(dev);
  REQUIRE(std::all_of(all.begin() + kAt, all.begin() + kAt + kLen,
                      [](unsigned char v) { return v == 0x11 || v == 0x22; }));
}

// ---- FaultyDevice -------------------------------------------------------

namespace {

struct FaultyOverMemory {
  FaultyDevice dev{NewMemoryDevice(kSize), 512};
  BlockDevice& base = *dev.base();
  std::vector<unsigned char> original = Pattern(kSize, 3);
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

TEST_CASE("givenReadFault_whenReadTouchesSector_thenEioAndBufferUntouched", "[device]") {
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
  auto data = Pattern(512, 44);
  REQUIRE(fx.dev.Write(2 * 512, data.data(), 512).ok());
  std::vector<unsigned char> back(512);
  REQUIRE(fx.base.Read(2 * 512, back.data(), 512).ok());
  REQUIRE(back == data);
}

TEST_CASE("givenWriteFault_whenWriteTouchesSector_thenEioAndBaseUnchanged", "[device]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(5, 5, FaultMode::kWrite);
  auto data = Pattern(1024, 8);
  Status st = fx.dev.Write(4 * 512 + 1, data.data(), 1024);  // sectors 4..6
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(ReadAll(fx.base) == fx.original);
  std::vector<unsigned char> buf(512);
  REQUIRE(fx.dev.Read(5 * 512, buf.data(), 512).ok());
  REQUIRE(fx.dev.Write(6 * 512, data.data(), 512).ok());
}

TEST_CASE("givenRwFault_whenReadOrWrite_thenBothFail", "[device]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(7, 7, FaultMode::kReadWrite);
  std::vector<unsigned char> buf(1, 0);
  REQUIRE(fx.dev.Read(7 * 512 + 511, buf.data(), 1).errno_value() == EIO);
  REQUIRE(fx.dev.Write(7 * 512, buf.data(), 1).errno_value() == EIO);
  REQUIRE(ReadAll(fx.base) == fx.original);
  REQUIRE(fx.dev.Read(8 * 512, buf.data(), 1).ok());
}

TEST_CASE("givenFaultRange_whenMiddleCleared_thenRangeSplits", "[device]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(10, 20, FaultMode::kReadWrite);
  fx.dev.ClearFaults(14, 15);
  REQUIRE(SameFaults(fx.dev.Faults(), {{10, 13, FaultMode::kReadWrite},
                                       {16, 20, FaultMode::kReadWrite}}));
  unsigned char b = 0;
  REQUIRE(fx.dev.Read(14 * 512, &b, 1).ok());
  REQUIRE(fx.dev.Read(15 * 512 + 511, &b, 1).ok());
  REQUIRE(fx.dev.Read(13 * 512 + 511, &b, 1).errno_value() == EIO);
  REQUIRE(fx.dev.Read(16 * 512, &b, 1).errno_value() == EIO);
  // Clearing across both pieces' edges trims them.
  fx.dev.ClearFaults(0, 10);
  fx.dev.ClearFaults(20, UINT64_MAX);
  REQUIRE(SameFaults(fx.dev.Faults(), {{11, 13, FaultMode::kReadWrite},
                                       {16, 19, FaultMode::kReadWrite}}));
}

TEST_CASE("givenOverlappingFaults_whenListed_thenSortedMergedAndLastModeWins", "[device]") {
  FaultyOverMemory fx;
  fx.dev.AddFault(30, 40, FaultMode::kRead);
  fx.dev.AddFault(5, 9, FaultMode::kWrite);
  fx.dev.AddFault(10, 12, FaultMode::kWrite);  // adjacent, same mode: merges
  REQUIRE(SameFaults(fx.dev.Faults(),
                     {{5, 12, FaultMode::kWrite}, {30, 40, FaultMode::kRead}}));
  fx.dev.AddFault(35, 36, FaultMode::kWrite);  // replaces the mode inside
  REQUIRE(SameFaults(fx.dev.Faults(), {{5, 12, FaultMode::kWrite},
                                       {30, 34, FaultMode::kRead},
                                       {35, 36, FaultMode::kWrite},
                                       {37, 40, FaultMode::kRead}}));
  fx.dev.AddFault(35, 36, FaultMode::kRead);  // same mode again: one range
  REQUIRE(SameFaults(fx.dev.Faults(),
                     {{5, 12, FaultMode::kWrite}, {30, 40, FaultMode::kRead}}));
  fx.dev.AddFault(0, 100, FaultMode::kReadWrite);
  REQUIRE(SameFaults(fx.dev.Faults(), {{0, 100, FaultMode::kReadWrite}}));
  fx.dev.ClearAllFaults();
  REQUIRE(fx.dev.Faults().empty());
  REQUIRE(ReadAll(fx.dev) == fx.original);
}

TEST_CASE("givenArmedCrash_whenWritesContinue_thenOneTornWriteAndThenSilence", "[device]") {
  FaultyOverMemory fx;
  fx.dev.ArmCrash(/*writes_before=*/2, /*torn_bytes=*/100);
  const uint64_t seen_before = fx.dev.writes_seen();
  auto a = Pattern(512, 21), b = Pattern(512, 22), c = Pattern(512, 23);
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

// ---- FileDevice ---------------------------------------------------------

TEST_CASE("givenExclusiveHolder_whenOpenedAgain_thenBusyUntilClosed", "[device]") {
  ScratchDir dir;
  const std::string path = dir.File("main.img");
  CreateZeroFile(path, 4096);
  auto holder = OpenOrFail(path);

  std::unique_ptr<BlockDevice> second;
  Status st = OpenFileDevice(path, {}, &second);
  REQUIRE(st.code() == Status::Code::kBusy);
  REQUIRE(st.errno_value() == EBUSY);
  REQUIRE(st.message() == path + " is in use by another remapfs process");
  REQUIRE(second == nullptr);

  FileDeviceOptions ro;
  ro.read_only = true;
  REQUIRE(OpenFileDevice(path, ro, &second).code() == Status::Code::kBusy);

  holder.reset();
  REQUIRE(OpenFileDevice(path, {}, &second).ok());
}

TEST_CASE("givenNoExclusiveHolder_whenOpenedReadOnly_thenSharedOpensCoexist", "[device]") {
  ScratchDir dir;
  const std::string path = dir.File("spare.img");
  CreateZeroFile(path, 8192);
  {
    auto writer = OpenOrFail(path);
    auto data = Pattern(8192, 5);
    REQUIRE(writer->Write(0, data.data(), data.size()).ok());
    REQUIRE(writer->Flush().ok());
  }
  FileDeviceOptions ro;
  ro.read_only = true;
  auto first = OpenOrFail(path, ro);
  auto second = OpenOrFail(path, ro);
  REQUIRE(first->Size() == 8192);
  REQUIRE(ReadAll(*second) == Pattern(8192, 5));
  unsigned char byte = 1;
  REQUIRE_FALSE(first->Write(0, &byte, 1).ok());  // opened O_RDONLY
  REQUIRE(ReadAll(*first) == Pattern(8192, 5));

  std::unique_ptr<BlockDevice> writer;
  REQUIRE(OpenFileDevice(path, {}, &writer).code() == Status::Code::kBusy);
}

TEST_CASE("givenPathsThatAreNotDevices_whenOpened_thenClearErrors", "[device]") {
  ScratchDir dir;
  std::unique_ptr<BlockDevice> dev;
  FileDeviceOptions ro;
  ro.read_only = true;
  for (const FileDeviceOptions& opts : {FileDeviceOptions{}, ro}) {
    Status st = OpenFileDevice(dir.path(), opts, &dev);
    REQUIRE(st.IsInvalidArgument());
    REQUIRE(st.message().find(dir.path()) != std::string::npos);

    st = OpenFileDevice(dir.File("missing.img"), opts, &dev);
    REQUIRE(st.code() == Status::Code::kNotFound);
    REQUIRE(st.errno_value() == ENOENT);
    REQUIRE(st.message().find("missing.img") != std::string::npos);
  }
  Status st = OpenFileDevice("/dev/null", ro, &dev);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(dev == nullptr);
}

TEST_CASE("givenWrittenFile_whenReopened_thenBytesPersist", "[device]") {
  ScratchDir dir;
  const std::string path = dir.File("persist.img");
  CreateZeroFile(path, 3 * 512);
  auto data = Pattern(700, 77);
  {
    auto dev = OpenOrFail(path);
    REQUIRE(dev->Write(300, data.data(), data.size()).ok());
    REQUIRE(dev->Flush().ok());
  }
  auto dev = OpenOrFail(path);
  std::vector<unsigned char> back(700);
  REQUIRE(dev->Read(300, back.data(), back.size()).ok());
  REQUIRE(back == data);
}

// ---- Status -------------------------------------------------------------

TEST_CASE("givenErrno_whenConverted_thenKindAndErrnoAreKept", "[device]") {
  struct Case { int err; Status::Code code; int errno_value; };
  const Case cases[] = {
      {ENOSPC, Status::Code::kNoSpace, ENOSPC},
      {EINVAL, Status::Code::kInvalidArgument, EINVAL},
      {EBUSY, Status::Code::kBusy, EBUSY},
      {EWOULDBLOCK, Status::Code::kBusy, EBUSY},
      {EACCES, Status::Code::kPermission, EACCES},
      {EPERM, Status::Code::kPermission, EPERM},
      {ENOENT, Status::Code::kNotFound, ENOENT},
      {EOPNOTSUPP, Status::Code::kNotSupported, EOPNOTSUPP},
      {EIO, Status::Code::kIoError, EIO},
      {EROFS, Status::Code::kIoError, EROFS},
      {0, Status::Code::kIoError, EIO},
  };
  for (const Case& c : cases) {
    CAPTURE(c.err);
    Status st = Status::FromErrno(c.err, "read x at 4096");
    REQUIRE(st.code() == c.code);
    REQUIRE(st.errno_value() == c.errno_value);
    REQUIRE_FALSE(st.ok());
    REQUIRE(st.message().rfind("read x at 4096: ", 0) == 0);
  }
  REQUIRE(Status::FromErrno(EIO, "read x").message() ==
          std::string("read x: ") + std::strerror(EIO));
}

TEST_CASE("givenStatuses_whenFormatted_thenKindPrefixesMessage", "[device]") {
  REQUIRE(Status().ToString() == "ok");
  REQUIRE(Status::Ok().errno_value() == 0);
  REQUIRE(Status::IoError("disk gone").ToString() == "I/O error: disk gone");
  REQUIRE(Status::InvalidArgument("bad").ToString() == "invalid argument: bad");
  REQUIRE(Status::NoSpace("full").ToString() == "no space: full");
  REQUIRE(Status::Corruption("crc").ToString() == "corruption: crc");
  Status wrapped = Status::NoSpace("full").WithContext("add_bad");
  REQUIRE(wrapped.message() == "add_bad: full");
  REQUIRE(wrapped.IsNoSpace());
  REQUIRE(wrapped.errno_value() == ENOSPC);
  REQUIRE(Status::Ok().WithContext("x").ok());
}
