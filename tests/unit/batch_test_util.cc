// Helpers of the batch tests: see batch_test_util.h.
#include "batch_test_util.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "file_device.h"

namespace remapfs::testing {

std::unique_ptr<BlockDevice> OpenTestFile(const std::string& dir, uint64_t size, bool direct,
                                          bool read_only, bool create) {
  Status st = Status::InvalidArgument("no directory");
  std::unique_ptr<BlockDevice> device;
  if (!dir.empty()) {
    if (create) CreateZeroFile(dir + "/disk.img", size);
    FileDeviceOptions options;
    options.direct_io = direct;
    options.read_only = read_only;
    st = OpenFileDevice(dir + "/disk.img", options, &device);
  }
  if (st.ok()) return device;
  WARN("no O_DIRECT file in '" << dir << "' (" << st.ToString() << "): strict memory base");
  REQUIRE(st.IsInvalidArgument());
  return WrapAlignedOrFail(std::make_unique<StrictAlignmentDevice>(size, 4096), 4096);
}

BlockDevice* FileDeviceOf(BlockDevice* opened) {
  if (auto* aligned = dynamic_cast<AlignedDevice*>(opened)) opened = aligned->base();
  REQUIRE(dynamic_cast<FileDevice*>(opened) != nullptr);
  return opened;
}

BufferPool::BufferPool(size_t bytes) : storage_(bytes + 8192) {
  const auto at = reinterpret_cast<uintptr_t>(storage_.data());
  base_ = storage_.data() + (4096 - at % 4096) % 4096;
}

uint8_t* BufferPool::TakeAt(size_t misalign, size_t len) {
  used_ = (used_ + 4095) / 4096 * 4096 + misalign;
  if (used_ + len > storage_.size() - 8192) {  // a test's mistake; no Catch off its thread
    std::fprintf(stderr, "BufferPool: %zu bytes do not fit\n", len);
    std::abort();
  }
  uint8_t* p = base_ + used_;
  used_ += len;
  return p;
}

uint8_t* BufferPool::Take(size_t len, std::mt19937_64& rng) {
  return TakeAt(rng() % 2 == 0 ? 0 : 1 + rng() % 63, len);
}

uint8_t* BufferPool::TakeAligned(size_t len) { return TakeAt(0, len); }

std::vector<std::pair<uint64_t, size_t>> RandomRanges(std::mt19937_64& rng, uint64_t begin,
                                                      uint64_t end, size_t max_count) {
  std::vector<std::pair<uint64_t, size_t>> out;
  uint64_t at = begin + rng() % 4096;
  while (out.size() < max_count) {
    const bool sectors = rng() % 2 == 0;
    if (sectors) at = (at + 511) / 512 * 512;
    const size_t len = sectors ? 512 * (1 + rng() % 16) : 1 + rng() % 9000;
    if (at + len > end) break;
    out.push_back({at, len});
    at += len + (rng() % 3 == 0 ? 0 : rng() % 20000);
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

}  // namespace remapfs::testing
