// Concurrent writes that share a device block never lose each other's bytes
// (SPEC invariant 11): AlignedDevice's read-modify-write raced against every
// kind of write of the same block, through the device and through a Volume
// whose sectors are smaller than the device block; and BlockRangeLock alone.
//
// The race needs an RMW's read and its write-back to straddle another write.
// SlowReadMemory holds the data of every read for kHold before returning it,
// so each RMW leaves that window open; each writer waits kCheckDelay after
// its write before reading its bytes back, so a stale write-back in the
// window shows as a lost update. The sleeps only widen windows: every
// assertion is on bytes and counts, over a fixed number of writes.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "remapfs/aligned_device.h"
#include "remapfs/block_range_lock.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::Pattern;

namespace {

constexpr auto kHold = std::chrono::microseconds(200);
constexpr auto kCheckDelay = 3 * kHold;
constexpr int kWrites = 300;  // per writer
constexpr uint64_t kInitialSeed = 7;

// A memory base whose calls are atomic (one mutex, as a disk writes a block
// as a unit) and whose reads return kHold after taking their data.
class SlowReadMemory : public BlockDevice {
 public:
  explicit SlowReadMemory(uint64_t size) : mem_(NewMemoryDevice(size)) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    Status st;
    {
      std::lock_guard<std::mutex> lock(mu_);
      st = mem_->Read(offset, buf, len);
    }
    std::this_thread::sleep_for(kHold);
    return st;
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    return mem_->Write(offset, buf, len);
  }
  Status Flush() override { return Status::Ok(); }
  uint64_t Size() const override { return mem_->Size(); }

 private:
  std::mutex mu_;
  std::unique_ptr<BlockDevice> mem_;
};

// An AlignedDevice over SlowReadMemory filled with stream kInitialSeed.
std::unique_ptr<AlignedDevice> SlowAligned(uint64_t size, uint32_t alignment) {
  auto base = std::make_unique<SlowReadMemory>(size);
  const auto initial = Pattern(0, size, kInitialSeed);
  REQUIRE_OK(base->Write(0, initial.data(), size));
  std::unique_ptr<AlignedDevice> out;
  REQUIRE_OK(AlignedDevice::Wrap(std::move(base), alignment, &out));
  return out;
}

// One racing writer: bytes [offset, offset+len), written from a buffer whose
// address is `misalign` past a 64 KiB boundary (0: the aligned fast path).
struct Writer {
  uint64_t offset = 0;
  size_t len = 0;
  size_t misalign = 0;
  int id = 0;
  bool Covers(uint64_t at) const { return at >= offset && at < offset + len; }
  uint64_t Seed(int version) const { return uint64_t(id) * 1000000 + version; }
};

struct Outcome {
  int errors = 0;  // failed calls
  int lost = 0;    // writes whose own bytes read back as something else
};

// The bytes of `w` that `other` does not also write equal version `v`.
bool OwnBytesAre(const std::vector<uint8_t>& got, const Writer& w, const Writer& other, int v) {
  const auto want = Pattern(w.offset, w.len, w.Seed(v));
  for (size_t i = 0; i < w.len; ++i)
    if (!other.Covers(w.offset + i) && got[i] != want[i]) return false;
  return true;
}

// `Dev` is a BlockDevice or a Volume: both have Read and Write(offset, buf, len).
template <typename Dev>
Outcome RunWriter(Dev& dev, const Writer& w, const Writer& other) {
  constexpr size_t kAlign = 65536;
  std::vector<uint8_t> storage(w.len + 2 * kAlign);
  uint8_t* buf = storage.data() + (kAlign - reinterpret_cast<uintptr_t>(storage.data()) % kAlign) +
                 w.misalign;
  std::vector<uint8_t> got(w.len);
  Outcome out;
  for (int v = 0; v < kWrites; ++v) {
    const auto data = Pattern(w.offset, w.len, w.Seed(v));
    std::memcpy(buf, data.data(), w.len);
    if (!dev.Write(w.offset, buf, w.len).ok()) ++out.errors;
    std::this_thread::sleep_for(kCheckDelay);
    if (!dev.Read(w.offset, got.data(), w.len).ok()) ++out.errors;
    if (!OwnBytesAre(got, w, other, v)) ++out.lost;
  }
  return out;
}

// Races `a` and `b`, kWrites each, then checks every byte of the blocks
// around them: a byte only one writer wrote holds its last version, a byte
// both wrote holds one of their last versions, any other byte is as it was.
template <typename Dev>
void RaceAndCheck(Dev& dev, Writer a, Writer b, uint32_t block) {
  a.id = 1, b.id = 2;
  Outcome out_a, out_b;
  std::thread ta([&] { out_a = RunWriter(dev, a, b); });
  std::thread tb([&] { out_b = RunWriter(dev, b, a); });
  ta.join();
  tb.join();
  CAPTURE(kWrites, out_a.lost, out_b.lost);
  REQUIRE(out_a.errors + out_b.errors == 0);
  CHECK(out_a.lost == 0);
  CHECK(out_b.lost == 0);

  const uint64_t first = std::min(a.offset, b.offset) / block * block;
  const uint64_t end = (std::max(a.offset + a.len, b.offset + b.len) + block - 1) / block * block;
  std::vector<uint8_t> got(end - first);
  REQUIRE_OK(dev.Read(first, got.data(), got.size()));
  const int last = kWrites - 1;
  int wrong = 0;
  for (uint64_t at = first; at < end; ++at) {
    const uint8_t byte = got[at - first];
    const bool by_a = a.Covers(at) && byte == testing::PatternByte(at, a.Seed(last));
    const bool by_b = b.Covers(at) && byte == testing::PatternByte(at, b.Seed(last));
    const bool untouched = !a.Covers(at) && !b.Covers(at) &&
                           byte == testing::PatternByte(at, kInitialSeed);
    if (!by_a && !by_b && !untouched) ++wrong;
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("givenWholeBlockWriteAndSmallWriteInsideIt_whenRacing_thenNeitherLosesBytes", "[rmw]") {
  auto dev = SlowAligned(64 * 1024, 512);
  // A rewrites block 3 whole (aligned request, aligned buffer: no RMW); B
  // writes 16 bytes in its middle (RMW of block 3).
  RaceAndCheck(*dev, Writer{3 * 512, 512}, Writer{3 * 512 + 248, 16}, 512);
}

TEST_CASE("givenTwoSmallWritesInOneBlock_whenRacing_thenNeitherLosesBytes", "[rmw]") {
  auto dev = SlowAligned(64 * 1024, 4096);
  RaceAndCheck(*dev, Writer{4096 + 8, 16, 3}, Writer{4096 + 3000, 700, 1}, 4096);
}

TEST_CASE("givenMultiBlockWriteAndSmallWriteInItsBody_whenRacing_thenNeitherLosesBytes", "[rmw]") {
  auto dev = SlowAligned(64 * 1024, 4096);
  // A: head in block 2, body blocks 3-5, tail in block 6. With its buffer
  // 100 bytes past a boundary the body goes to the base straight from it;
  // 101 sends it through the bounce buffer. B: an RMW inside block 4.
  const Writer b{4 * 4096 + 1000, 16};
  SECTION("body from the caller's buffer") {
    RaceAndCheck(*dev, Writer{2 * 4096 + 100, 4 * 4096 - 50, 100}, b, 4096);
  }
  SECTION("body through the bounce buffer") {
    RaceAndCheck(*dev, Writer{2 * 4096 + 100, 4 * 4096 - 50, 101}, b, 4096);
  }
}

// A Volume of 512-byte sectors whose MAIN and SPARE take only 4096-byte
// blocks: a whole-sector write is an RMW one level down.
TEST_CASE("givenSectorVolumeOverLargerDeviceBlock_whenBlockAndSectorWritesRace_"
          "thenNeitherLosesBytes",
          "[rmw]") {
  constexpr uint64_t kMain = 1 << 20, kSpare = 64 << 10;
  auto spare = SlowAligned(kSpare, 4096);
  std::unique_ptr<MetadataStore> formatted;
  REQUIRE_OK(
      MetadataStore::Format(spare.get(), testing::MakeGeometry(512, kMain, kSpare), &formatted));
  formatted.reset();
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(SlowAligned(kMain, 4096), std::move(spare), &v));
  // A: sectors 16-23, one device block; B: sector 20 whole.
  const Writer a{16 * 512, 8 * 512}, b{20 * 512, 512};
  SECTION("on MAIN") { RaceAndCheck(*v, a, b, 4096); }
  SECTION("remapped to the spare") {
    const auto before = testing::ReadVolume(*v, 16 * 512, 8 * 512);
    REQUIRE_OK(v->AddBad(testing::SectorRun(16, 8)));
    REQUIRE(v->Stats().remapped == 8);
    REQUIRE(testing::ReadVolume(*v, 16 * 512, 8 * 512) == before);
    RaceAndCheck(*v, a, b, 4096);
  }
}

namespace {

// Writes through WriteBatch, one request per device block (so whole blocks
// go to the base as one batch); reads through Read.
class BlockBatches {
 public:
  BlockBatches(AlignedDevice& dev, uint32_t block) : dev_(dev), block_(block) {}
  Status Write(uint64_t offset, const void* buf, size_t len) {
    std::vector<WriteRequest> requests;
    for (size_t pos = 0; pos < len;) {
      const size_t n = std::min<size_t>(len - pos, block_ - (offset + pos) % block_);
      requests.push_back({offset + pos, static_cast<const uint8_t*>(buf) + pos, n});
      pos += n;
    }
    return dev_.WriteBatch(requests, nullptr);
  }
  Status Read(uint64_t offset, void* buf, size_t len) { return dev_.Read(offset, buf, len); }

 private:
  AlignedDevice& dev_;
  const uint32_t block_;
};

}  // namespace

TEST_CASE("givenBatchOfWholeBlocksAndSmallWriteInOne_whenRacing_thenNeitherLosesBytes", "[rmw]") {
  auto dev = SlowAligned(64 * 1024, 4096);
  BlockBatches batches(*dev, 4096);
  // A: blocks 2-4 as three requests of one batch; B: an RMW inside block 3.
  const Writer b{3 * 4096 + 1000, 16};
  SECTION("from the caller's buffer") {
    RaceAndCheck(batches, Writer{2 * 4096, 3 * 4096, 0}, b, 4096);
  }
  SECTION("through the bounce buffer") {
    RaceAndCheck(batches, Writer{2 * 4096, 3 * 4096, 100}, b, 4096);
  }
}

namespace {

// Writes through WriteBatch, one request per 512-byte sector it touches, as
// `remove` writes scattered sectors to MAIN: over a 4096-byte alignment each
// request covers part of a block, so the batch rewrites its blocks by
// read-modify-write in base batches. Reads through Read.
class SectorBatches {
 public:
  explicit SectorBatches(AlignedDevice& dev) : dev_(dev) {}
  Status Write(uint64_t offset, const void* buf, size_t len) {
    std::vector<WriteRequest> requests;
    for (size_t pos = 0; pos < len;) {
      const size_t n = std::min<size_t>(len - pos, 512 - (offset + pos) % 512);
      requests.push_back({offset + pos, static_cast<const uint8_t*>(buf) + pos, n});
      pos += n;
    }
    std::reverse(requests.begin(), requests.end());  // not in device order
    return dev_.WriteBatch(requests, nullptr);
  }
  Status Read(uint64_t offset, void* buf, size_t len) { return dev_.Read(offset, buf, len); }

 private:
  AlignedDevice& dev_;
};

}  // namespace

TEST_CASE("givenBatchesOfPartialBlockWritesToNeighbouringBytes_whenRacing_thenNeitherLosesBytes",
          "[rmw]") {
  auto dev = SlowAligned(64 * 1024, 4096);
  SectorBatches batches(*dev);
  SECTION("two batches of sectors in one block") {
    RaceAndCheck(batches, Writer{4096 + 8, 1500, 3}, Writer{4096 + 2000, 1700, 1}, 4096);
  }
  SECTION("a batch over blocks 1-4 and one inside block 2") {
    RaceAndCheck(batches, Writer{4096 + 100, 3 * 4096, 0}, Writer{2 * 4096 + 1000, 16}, 4096);
  }
  SECTION("a batch beside a lone Write in the same block") {
    // B has one request: a batch of one goes by Write.
    RaceAndCheck(batches, Writer{4096 + 8, 1500, 3}, Writer{4096 + 2100, 100}, 4096);
  }
}

TEST_CASE("givenMoreThreadsThanSlots_whenLockingRandomRanges_thenConflictingHoldersNeverOverlap",
          "[rmw]") {
  constexpr unsigned kThreads = BlockRangeLock::kSlots + 16;
  constexpr int kRounds = 50;
  constexpr uint64_t kBlocks = 32;
  BlockRangeLock lock;
  // Per block: holders in shared mode, and in exclusive mode.
  std::vector<std::atomic<int>> shared(kBlocks), exclusive(kBlocks);
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int r = 0; r < kRounds; ++r) {
        const uint64_t first = rng() % kBlocks;
        const uint64_t last = std::min(kBlocks - 1, first + rng() % 4);
        const bool excl = rng() % 3 == 0;
        auto guard = lock.Lock(
            first, last, excl ? BlockRangeLock::Mode::kExclusive : BlockRangeLock::Mode::kShared);
        for (uint64_t b = first; b <= last; ++b) {
          const int s = (excl ? shared[b] : exclusive[b]).load();
          const int e = (excl ? exclusive[b] : shared[b]).fetch_add(1);
          if (s != 0 || (excl && e != 0)) violations.fetch_add(1);
        }
        std::this_thread::yield();
        for (uint64_t b = first; b <= last; ++b) (excl ? exclusive[b] : shared[b]).fetch_sub(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(violations.load() == 0);
}
