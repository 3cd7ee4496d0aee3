// An in-memory BlockDevice for tests and examples (LevelDB's NewMemEnv).
//
// Locking. Calls on overlapping bytes may run at once: the Volume and
// AlignedDevice order neither a read against a write of the same bytes nor
// two whole-block writes (FUSE clients issue them; a file gives each byte
// its old or its new value). A bare memcpy would make that a data race,
// undefined behaviour that ThreadSanitizer reports from the stress tests.
// So each copy takes, one at a time, the lock of every 4 KiB region it
// touches: a request may tear at a region boundary, as a buffered file's
// may at a page, but no byte is read or written while another call writes
// it. Calls on disjoint regions do not wait for each other (bar the rare
// pair whose regions share one of the kLocks mutexes), and the I/O path
// still allocates nothing.
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "device_range.h"
#include "remapfs/block_device.h"

namespace remapfs {

namespace {

class MemoryDevice : public BlockDevice {
 public:
  explicit MemoryDevice(uint64_t size) : bytes_(size, 0) {}

  Status Read(uint64_t offset, void* buf, size_t len) override {
    REMAPFS_RETURN_IF_ERROR(CheckRange("read", offset, len));
    auto* out = static_cast<unsigned char*>(buf);
    ForEachRegion(offset, len, [&](uint64_t at, size_t pos, size_t n) {
      std::memcpy(out + pos, bytes_.data() + at, n);
    });
    return Status::Ok();
  }

  Status Write(uint64_t offset, const void* buf, size_t len) override {
    REMAPFS_RETURN_IF_ERROR(CheckRange("write", offset, len));
    const auto* in = static_cast<const unsigned char*>(buf);
    ForEachRegion(offset, len, [&](uint64_t at, size_t pos, size_t n) {
      std::memcpy(bytes_.data() + at, in + pos, n);
    });
    return Status::Ok();
  }

  Status Flush() override { return Status::Ok(); }
  uint64_t Size() const override { return bytes_.size(); }

 private:
  static constexpr uint64_t kRegion = 4096;
  static constexpr size_t kLocks = 64;

  Status CheckRange(const char* op, uint64_t offset, size_t len) const {
    return CheckDeviceRange(op, offset, len, bytes_.size(), "memory device");
  }

  // Calls copy(at, pos, n) for the part [at, at+n) of [offset, offset+len)
  // inside each region in turn (pos: its offset in the request), holding
  // that region's lock.
  template <typename Copy>
  void ForEachRegion(uint64_t offset, size_t len, Copy copy) {
    for (size_t pos = 0; pos < len;) {
      const uint64_t at = offset + pos;
      const size_t n = std::min<uint64_t>(len - pos, kRegion - at % kRegion);
      std::lock_guard lock(locks_[at / kRegion % kLocks]);
      copy(at, pos, n);
      pos += n;
    }
  }

  std::vector<unsigned char> bytes_;  // allocated once, never resized
  std::array<std::mutex, kLocks> locks_;
};

}  // namespace

std::unique_ptr<BlockDevice> NewMemoryDevice(uint64_t size) {
  return std::make_unique<MemoryDevice>(size);
}

}  // namespace remapfs
