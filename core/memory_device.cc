// An in-memory BlockDevice for tests and examples (LevelDB's NewMemEnv).
//
// The buffer is allocated once and never resized, so concurrent Read/Write
// on disjoint ranges touch disjoint bytes and need no lock.
#include <cstring>
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
    if (len > 0) std::memcpy(buf, bytes_.data() + offset, len);
    return Status::Ok();
  }

  Status Write(uint64_t offset, const void* buf, size_t len) override {
    REMAPFS_RETURN_IF_ERROR(CheckRange("write", offset, len));
    if (len > 0) std::memcpy(bytes_.data() + offset, buf, len);
    return Status::Ok();
  }

  Status Flush() override { return Status::Ok(); }
  uint64_t Size() const override { return bytes_.size(); }

 private:
  Status CheckRange(const char* op, uint64_t offset, size_t len) const {
    return CheckDeviceRange(op, offset, len, bytes_.size(), "memory device");
  }

  std::vector<unsigned char> bytes_;
};

}  // namespace

std::unique_ptr<BlockDevice> NewMemoryDevice(uint64_t size) {
  return std::make_unique<MemoryDevice>(size);
}

}  // namespace remapfs
