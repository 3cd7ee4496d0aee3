// AlignedDevice's partial-block writes in a batch (aligned_device_rmw.cc):
// with a 4096-byte alignment, a batch of writes that cover part of a block
// (512-byte sectors, straddling ones, several in one block) goes to the base
// as one ReadBatch of the blocks covered in part and one WriteBatch of the
// patched blocks; every byte lands. A failure is charged to the lowest-index
// request that fails, with Write's status, and a block whose read failed is
// not written. (Racing writers of the same blocks: rmw_race_test.cc.)
#include <algorithm>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "batch_test_util.h"
#include "remapfs/faulty_device.h"

using namespace remapfs;
using namespace remapfs::testing;

namespace {

constexpr uint64_t kBlock = 4096;
using Ranges = BatchRecordingDevice::Ranges;

// A strict base that records the batches it is handed (single-threaded).
class RecordingBase : public BatchRecordingDevice {
 public:
  RecordingBase(uint64_t size, uint32_t alignment) : BatchRecordingDevice(size, alignment) {}
  // Base calls made by the batches (the rest were lone Read/Write calls).
  uint64_t batched_calls() const {
    uint64_t n = 0;
    for (const auto& b : read_batches) n += b.size();
    for (const auto& b : write_batches) n += b.size();
    return n;
  }
  BlockDevice* memory() { return base(); }
};

// An AlignedDevice of `size` bytes at `alignment` over a RecordingBase (or,
// with `faulty`, over a FaultyDevice of 512-byte sectors over one), filled
// with pattern 4; `model` is what it must hold.
struct Fixture {
  Fixture(uint64_t size, uint32_t alignment, bool faulty = false)
      : base(new RecordingBase(size, alignment)), model(Pattern(0, size, 4)) {
    std::unique_ptr<BlockDevice> below(base);
    if (faulty) {
      faults = new FaultyDevice(std::move(below), 512);
      below.reset(faults);
    }
    dev = WrapAlignedOrFail(std::move(below), alignment);
    REQUIRE_OK(dev->Write(0, model.data(), size));
    base->read_batches.clear();
    base->write_batches.clear();
    base->calls = 0;
  }
  // A request of `len` bytes of pattern 9 at `offset`, from a buffer
  // `misalign` bytes past a 4096-byte boundary.
  WriteRequest Request(uint64_t offset, size_t len, size_t misalign = 0) {
    uint8_t* buf = pool.TakeAligned(len + misalign) + misalign;
    const auto data = Pattern(offset, len, 9);
    std::memcpy(buf, data.data(), len);
    return WriteRequest{offset, buf, len};
  }
  void Landed(const WriteRequest& w) { std::memcpy(model.data() + w.offset, w.buf, w.len); }
  // What the base holds, read past the faults and the alignment rule.
  std::vector<uint8_t> BaseBytes(uint64_t offset, size_t len) {
    return ReadRange(base->memory(), offset, len);
  }

  RecordingBase* base;
  FaultyDevice* faults = nullptr;
  std::unique_ptr<AlignedDevice> dev;
  std::vector<uint8_t> model;
  BufferPool pool{4 << 20};
};

Ranges Sorted(Ranges r) {
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace

TEST_CASE("Partial-block writes of a batch go down as one read batch and one write batch",
          "[aligned_rmw]") {
  Fixture fx(64 * kBlock, kBlock);
  std::vector<WriteRequest> writes = {
      fx.Request(kBlock + 512, 512),                // a sector of block 1
      fx.Request(3 * kBlock, 512, 7),               // the first sector of block 3
      fx.Request(5 * kBlock + 1024, 512),           // two sectors of block 5...
      fx.Request(7 * kBlock + 3584, 512, 100),      // the last sector of block 7
      fx.Request(5 * kBlock + 3072, 700, 1),        // ...and another request in it
      fx.Request(9 * kBlock + 3000, 2000, 3),       // straddles blocks 9 and 10
      fx.Request(10 * kBlock + 2000, 300),          // shares block 10 with it
      fx.Request(12 * kBlock + 100, 3 * kBlock),    // head 12, body 13-14, tail 15
      fx.Request(20 * kBlock, kBlock),              // whole: the aligned batch
      fx.Request(16 * kBlock + 4000, kBlock + 96),  // ends on a boundary: block 16 read
  };
  std::mt19937_64 rng(5);
  std::shuffle(writes.begin(), writes.end(), rng);
  REQUIRE_OK(fx.dev->WriteBatch(writes, nullptr));
  const uint64_t calls = fx.base->calls.load();  // before Snapshot reads
  for (const WriteRequest& w : writes) fx.Landed(w);
  CHECK(ByteDiff(Snapshot(fx.dev.get()), fx.model) == "");
  REQUIRE(fx.base->read_batches.size() == 1);
  CHECK(Sorted(fx.base->read_batches[0]) == Ranges{{1 * kBlock, kBlock},
                                                   {3 * kBlock, kBlock},
                                                   {5 * kBlock, kBlock},
                                                   {7 * kBlock, kBlock},
                                                   {9 * kBlock, 2 * kBlock},
                                                   {12 * kBlock, kBlock},
                                                   {15 * kBlock, kBlock},
                                                   {16 * kBlock, kBlock}});
  REQUIRE(fx.base->write_batches.size() == 2);  // the whole block, then the rest
  CHECK(fx.base->write_batches[0] == Ranges{{20 * kBlock, kBlock}});
  CHECK(Sorted(fx.base->write_batches[1]) == Ranges{{1 * kBlock, kBlock},
                                                    {3 * kBlock, kBlock},
                                                    {5 * kBlock, kBlock},
                                                    {7 * kBlock, kBlock},
                                                    {9 * kBlock, 2 * kBlock},
                                                    {12 * kBlock, 4 * kBlock},
                                                    {16 * kBlock, 2 * kBlock}});
  CHECK(calls == fx.base->batched_calls());  // no lone RMW
}

TEST_CASE("Partial-block writes beyond the bounce buffer go in rounds and all land",
          "[aligned_rmw]") {
  constexpr uint32_t kBig = 65536;  // 17 such blocks fill the bounce buffer
  Fixture fx(200 * uint64_t{kBig}, kBig);
  std::vector<WriteRequest> writes;
  for (uint64_t b = 0; b < 200; b += 2) writes.push_back(fx.Request(b * kBig + b * 100, 512, b));
  // Neighbours sharing blocks across rounds: the same block's other bytes.
  for (uint64_t b = 0; b < 40; b += 2) writes.push_back(fx.Request(b * kBig + 30000, 100));
  REQUIRE_OK(fx.dev->WriteBatch(writes, nullptr));
  const uint64_t calls = fx.base->calls.load();  // before Snapshot reads
  for (const WriteRequest& w : writes) fx.Landed(w);
  CHECK(ByteDiff(Snapshot(fx.dev.get()), fx.model) == "");
  CHECK(fx.base->read_batches.size() > 1);
  CHECK(calls == fx.base->batched_calls());
}

TEST_CASE("A failed read of a covering block writes nothing of it and charges its first request",
          "[aligned_rmw]") {
  Fixture fx(32 * kBlock, kBlock, /*faulty=*/true);
  const std::vector<WriteRequest> writes = {
      fx.Request(10 * kBlock, kBlock),      // whole block, written first
      fx.Request(2 * kBlock + 512, 512),    // lands
      fx.Request(6 * kBlock + 1024, 512),   // its block fails to read
      fx.Request(4 * kBlock, 100, 3),       // a later index: need not land
      fx.Request(6 * kBlock + 2048, 1000),  // shares the failing block
  };
  fx.faults->AddFault(6 * 8 + 7, 6 * 8 + 7, FaultMode::kRead);  // no request's own bytes
  const auto block6 = fx.BaseBytes(6 * kBlock, kBlock);
  size_t failed = 99;
  Status st = fx.dev->WriteBatch(writes, &failed);
  CHECK(failed == 2);
  CHECK(st.ToString() == fx.dev->Write(writes[2].offset, writes[2].buf, 512).ToString());
  CHECK(fx.BaseBytes(6 * kBlock, kBlock) == block6);
  for (size_t i : {0, 1}) {
    const auto& w = writes[i];
    CHECK(fx.BaseBytes(w.offset, w.len) == Pattern(w.offset, w.len, 9));
  }
}

TEST_CASE("A block that failed to read is not read again for the batch", "[aligned_rmw]") {
  // A bad sector can take seconds to fail: one failure is the answer. The
  // sector here would read on a second try, so a second read would show.
  Fixture fx(32 * kBlock, kBlock, /*faulty=*/true);
  const std::vector<WriteRequest> writes = {
      fx.Request(2 * kBlock + 512, 512),     // lands
      fx.Request(5 * kBlock, kBlock + 500),  // block 5 whole; its tail's block fails, once
      fx.Request(6 * kBlock + 2048, 1000),   // shares that block
  };
  fx.faults->AddFlakyRead(6 * 8 + 7, 6 * 8 + 7, 1);
  const auto blocks56 = fx.BaseBytes(5 * kBlock, 2 * kBlock);
  size_t failed = 99;
  Status st = fx.dev->WriteBatch(writes, &failed);
  CHECK(st.IsIoError());
  CHECK(failed == 1);
  CHECK(fx.BaseBytes(5 * kBlock, 2 * kBlock) == blocks56);
  CHECK(fx.BaseBytes(writes[0].offset, 512) == Pattern(writes[0].offset, 512, 9));
}

TEST_CASE("A failed write-back is charged to the lowest request that fails", "[aligned_rmw]") {
  Fixture fx(32 * kBlock, kBlock, /*faulty=*/true);
  std::vector<WriteRequest> writes = {
      fx.Request(10 * kBlock, kBlock),     // whole block
      fx.Request(8 * kBlock + 512, 512),   // lands
      fx.Request(5 * kBlock + 100, 50),    // lands
      fx.Request(3 * kBlock + 1024, 512),  // its block fails to write
      fx.Request(1 * kBlock, 512),         // a later index
  };
  size_t expected = 3;
  uint64_t bad_sector = 3 * 8;
  SECTION("the block serves one request") {}
  SECTION("the block serves two: the lower one is charged") {
    writes.push_back(fx.Request(3 * kBlock + 3000, 10));
    std::swap(writes[3], writes[5]);
  }
  SECTION("a block only a later request of the group writes: that one is charged") {
    writes.push_back(fx.Request(3 * kBlock + 3000, 2000));  // blocks 3 and 4
    bad_sector = 4 * 8;
    expected = 5;
  }
  fx.faults->AddFault(bad_sector, bad_sector, FaultMode::kWrite);
  size_t failed = 99;
  Status st = fx.dev->WriteBatch(writes, &failed);
  CHECK(failed == expected);
  const WriteRequest& bad = writes[expected];
  CHECK(st.ToString() == fx.dev->Write(bad.offset, bad.buf, bad.len).ToString());
  for (size_t i = 0; i < expected; ++i) {
    const auto& w = writes[i];
    CHECK(fx.BaseBytes(w.offset, w.len) == Pattern(w.offset, w.len, 9));
  }
}
