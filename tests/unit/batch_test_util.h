// Helpers of the batch tests (batch_test.cc, aligned_batch_test.cc,
// aligned_rmw_batch_test.cc, volume_batch_test.cc): test files opened as a mount opens them,
// buffers at chosen alignments, random non-overlapping requests.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace remapfs::testing {

// A private directory on tmpfs (/dev/shm), removed with everything in it;
// path() is empty when it could not be made.
struct ShmDir : TempDirIn {
  ShmDir() : TempDirIn("/dev/shm") {}
};

// DIR/disk.img, `size` zero bytes (made unless !create), opened as a mount
// opens MAIN: with `direct`, O_DIRECT, so an AlignedDevice over the
// FileDevice. When DIR is empty or its filesystem refuses O_DIRECT, it
// WARNs and returns an AlignedDevice over a strict memory device instead.
std::unique_ptr<BlockDevice> OpenTestFile(const std::string& dir, uint64_t size, bool direct,
                                          bool read_only = false, bool create = true);

// The FileDevice of what OpenTestFile returned (REQUIREd to be one).
BlockDevice* FileDeviceOf(BlockDevice* opened);

// Buffers carved from one block of memory, valid until Reset. One thread
// per pool; running out aborts (the test asked for too much).
class BufferPool {
 public:
  explicit BufferPool(size_t bytes);
  void Reset() { used_ = 0; }
  // `len` bytes at a 4096-aligned address half the time, else 1 to 63
  // bytes past one.
  uint8_t* Take(size_t len, std::mt19937_64& rng);
  uint8_t* TakeAligned(size_t len);

 private:
  uint8_t* TakeAt(size_t misalign, size_t len);
  std::vector<uint8_t> storage_;
  uint8_t* base_;
  size_t used_ = 0;
};

// Up to `max_count` disjoint byte ranges {offset, len} in [begin, end), in
// random order: half of them whole 512-byte sectors, the others of any
// offset and length, and about a third right after another one (so a
// device may merge them).
std::vector<std::pair<uint64_t, size_t>> RandomRanges(std::mt19937_64& rng, uint64_t begin,
                                                      uint64_t end, size_t max_count);

// A strict base (StrictAlignmentDevice) that records the ranges of every
// batch it is handed, then runs it request by request. Single-threaded use.
class BatchRecordingDevice : public StrictAlignmentDevice {
 public:
  using Ranges = std::vector<std::pair<uint64_t, size_t>>;
  BatchRecordingDevice(uint64_t size, uint32_t alignment)
      : StrictAlignmentDevice(size, alignment) {}
  Status ReadBatch(std::span<const ReadRequest> r, size_t* failed) override {
    read_batches.emplace_back();
    for (const ReadRequest& q : r) read_batches.back().push_back({q.offset, q.len});
    return BlockDevice::ReadBatch(r, failed);
  }
  Status WriteBatch(std::span<const WriteRequest> r, size_t* failed) override {
    write_batches.emplace_back();
    for (const WriteRequest& q : r) write_batches.back().push_back({q.offset, q.len});
    return BlockDevice::WriteBatch(r, failed);
  }
  std::vector<Ranges> read_batches, write_batches;
};

}  // namespace remapfs::testing
