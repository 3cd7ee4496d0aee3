// AlignedDevice's batches (aligned_device_batch.cc): what reaches the base,
// and which request a failure is charged to. Unaligned reads go down as the
// aligned spans covering them, spans that overlap or touch merged into one
// request; whole-block writes go down as one batch, partial-block writes as
// read-modify-write in batches after it (aligned_rmw_batch_test.cc). A failure is the lowest-index
// request's, with the status Read/Write give for it; a span that served one request is not asked
// twice. (The bytes over every stack: batch_test.cc.)
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "batch_test_util.h"

using namespace remapfs;
using namespace remapfs::testing;

namespace {

constexpr uint64_t kSize = 64 * 1024;
constexpr uint64_t kBlock = 4096;

// A base that records the batches it is handed and fails every call
// touching [bad_begin, bad_end) with EIO, naming the call's offset.
class RecordingBase : public BatchRecordingDevice {
 public:
  RecordingBase() : BatchRecordingDevice(kSize, kBlock) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    if (Bad(offset, len)) return BadCall(offset);
    return StrictAlignmentDevice::Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    if (Bad(offset, len)) return BadCall(offset);
    return StrictAlignmentDevice::Write(offset, buf, len);
  }
  uint64_t bad_begin = 0, bad_end = 0;
  int bad_calls = 0;

 private:
  bool Bad(uint64_t offset, size_t len) const {
    return offset < bad_end && bad_begin < offset + len;
  }
  Status BadCall(uint64_t offset) {
    ++bad_calls;
    return Status::IoError("bad block under " + std::to_string(offset));
  }
};

struct Fixture {
  RecordingBase* base = new RecordingBase();
  std::unique_ptr<AlignedDevice> dev = WrapAlignedOrFail(std::unique_ptr<BlockDevice>(base),
                                                         kBlock);
  std::vector<uint8_t> model = Pattern(0, kSize, 4);
  BufferPool pool{1 << 20};
  Fixture() {
    REQUIRE_OK(dev->Write(0, model.data(), kSize));
    base->read_batches.clear();
    base->write_batches.clear();
  }
  // `len` bytes at `misalign` past a 4096-byte boundary.
  uint8_t* Buffer(size_t len, size_t misalign) {
    return pool.TakeAligned(len + misalign) + misalign;
  }
  bool Holds(const ReadRequest& r) const {
    const auto* got = static_cast<const uint8_t*>(r.buf);
    return std::equal(got, got + r.len, model.begin() + r.offset);
  }
  void BlockIsBad(uint64_t block) {
    base->bad_begin = block * kBlock;
    base->bad_end = (block + 1) * kBlock;
  }
};

using Ranges = RecordingBase::Ranges;

Ranges Sorted(Ranges r) {
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace

TEST_CASE("Unaligned reads go to the base as the spans covering them, merged where they meet",
          "[aligned_batch]") {
  Fixture fx;
  std::vector<ReadRequest> reads;
  for (uint64_t k = 0; k < 8; ++k)  // every sector of block 3
    reads.push_back({3 * kBlock + k * 512, fx.Buffer(512, 16), 512});
  reads.push_back({8 * kBlock, fx.Buffer(kBlock, 0), kBlock});  // aligned: as it is
  reads.push_back({10 * kBlock + 50, fx.Buffer(100, 1), 100});
  reads.push_back({12 * kBlock + 7, fx.Buffer(100, 0), 100});
  reads.push_back({13 * kBlock - 100, fx.Buffer(200, 0), 200});  // shares a block with it
  reads.push_back({14 * kBlock + 10, fx.Buffer(100, 0), 100});   // starts where it ends
  std::mt19937_64 rng(3);
  std::shuffle(reads.begin(), reads.end(), rng);
  REQUIRE_OK(fx.dev->ReadBatch(reads, nullptr));
  for (const ReadRequest& r : reads) CHECK(fx.Holds(r));
  REQUIRE(fx.base->read_batches.size() == 1);
  CHECK(Sorted(fx.base->read_batches[0]) == Ranges{{3 * kBlock, kBlock},
                                                   {8 * kBlock, kBlock},
                                                   {10 * kBlock, kBlock},
                                                   {12 * kBlock, 3 * kBlock}});
}

TEST_CASE("A failed span of several reads is told apart by Read; a lone one is asked once",
          "[aligned_batch]") {
  Fixture fx;
  SECTION("several: the failing request is the one whose own span fails") {
    fx.BlockIsBad(6);
    // 1 and 2 share the span [5, 7) blocks; block 6 fails, so 2 fails.
    const std::vector<ReadRequest> reads = {{2 * kBlock + 10, fx.Buffer(100, 0), 100},
                                            {5 * kBlock + 100, fx.Buffer(50, 0), 50},
                                            {6 * kBlock, fx.Buffer(512, 8), 512},
                                            {8 * kBlock, fx.Buffer(kBlock, 0), kBlock}};
    size_t failed = 99;
    Status st = fx.dev->ReadBatch(reads, &failed);
    CHECK(failed == 2);
    CHECK(st.ToString() == fx.dev->Read(reads[2].offset, reads[2].buf, 512).ToString());
    CHECK(fx.Holds(reads[0]));
    CHECK(fx.Holds(reads[1]));
  }
  SECTION("lone: its span's status as it stands") {
    fx.BlockIsBad(5);
    const std::vector<ReadRequest> reads = {{2 * kBlock + 10, fx.Buffer(100, 0), 100},
                                            {5 * kBlock + 100, fx.Buffer(50, 0), 50},
                                            {8 * kBlock, fx.Buffer(kBlock, 0), kBlock}};
    size_t failed = 99;
    Status st = fx.dev->ReadBatch(reads, &failed);
    CHECK(failed == 1);
    CHECK(fx.base->bad_calls == 1);
    CHECK(st.ToString() == fx.dev->Read(reads[1].offset, reads[1].buf, 50).ToString());
    CHECK(fx.Holds(reads[0]));
  }
}

TEST_CASE("Whole-block writes go to the base as one batch, partial ones in batches after it",
          "[aligned_batch]") {
  Fixture fx;
  const auto data = Pattern(0, kSize, 9);
  auto request = [&](uint64_t offset, size_t len, size_t misalign) {
    uint8_t* buf = fx.Buffer(len, misalign);
    std::memcpy(buf, data.data() + offset, len);
    return WriteRequest{offset, buf, len};
  };
  const std::vector<WriteRequest> writes = {request(kBlock, kBlock, 0),
                                            request(3 * kBlock, 2 * kBlock, 24),
                                            request(6 * kBlock + 10, 100, 0),
                                            request(8 * kBlock, kBlock, 512)};
  SECTION("all succeed") {
    REQUIRE_OK(fx.dev->WriteBatch(writes, nullptr));
    REQUIRE(fx.base->write_batches.size() == 2);
    CHECK(fx.base->write_batches[0] ==
          Ranges{{kBlock, kBlock}, {3 * kBlock, 2 * kBlock}, {8 * kBlock, kBlock}});
    CHECK(fx.base->write_batches[1] == Ranges{{6 * kBlock, kBlock}});  // read-modify-write
    for (const WriteRequest& w : writes)
      std::memcpy(fx.model.data() + w.offset, data.data() + w.offset, w.len);
    CHECK(ByteDiff(Snapshot(fx.dev.get()), fx.model) == "");
  }
  SECTION("one of the batch fails: it is charged, and the partial write before it ran") {
    fx.BlockIsBad(8);
    size_t failed = 99;
    Status st = fx.dev->WriteBatch(writes, &failed);
    CHECK(failed == 3);
    CHECK(st.ToString() == fx.dev->Write(8 * kBlock, writes[3].buf, kBlock).ToString());
    CHECK(ReadRange(fx.dev.get(), 6 * kBlock + 10, 100) ==
          std::vector<uint8_t>(data.begin() + 6 * kBlock + 10, data.begin() + 6 * kBlock + 110));
  }
  SECTION("the partial write fails: it is charged, not the batch's later requests") {
    fx.BlockIsBad(6);
    size_t failed = 99;
    Status st = fx.dev->WriteBatch(writes, &failed);
    CHECK(failed == 2);
    CHECK(st.ToString() == fx.dev->Write(6 * kBlock + 10, writes[2].buf, 100).ToString());
  }
}
