// AlignedDevice: byte-granular I/O over a base that takes only aligned
// requests. See include/remapfs/aligned_device.h for the contract.
//
// The split of a request, in one place (as nbdkit's cow filter does it):
//
//     offset                                                   offset+len
//       |--- head ---|============ body ============|--- tail ---|
//   block boundary ^                                 ^ block boundary
//
//  - head: the part of the first block when the request starts inside it
//    (or the whole request when it lies within one block);
//  - body: whole blocks, written as they are (through the bounce buffer
//    only when the caller's buffer is misaligned);
//  - tail: the part of the last block when the request ends inside it.
// Each part is written exactly once. Reads need no split: the aligned span
// around the request is read (in bounce-sized chunks) and the wanted bytes
// copied out.
//
// Locking. Read-modify-write of a partial block rewrites bytes of that
// block the request does not own, with the values it read. Any write of
// that block landing between the read and the write-back would be undone:
// another head or tail RMW (disjoint bytes of one block), and just as well a
// whole-block write, which the caller may issue concurrently with a small
// write inside that block (SPEC invariant 11: concurrent writes never lose
// each other's bytes). So every write holds the blocks it touches in a
// BlockRangeLock (block_range_lock.h) for the duration of its base call(s):
//  - head and tail RMW hold their one block exclusively;
//  - the body, and a wholly aligned request, hold their blocks shared.
// Hence an RMW excludes every other write of its block, and whole-block
// writes stay concurrent with each other, overlapping or not (overlapping
// ones leave each byte with one of the written values, the base's own
// guarantee, and the caller orders them). A request holds one range at a
// time (head, then body, then tail), so the range lock's arrival order
// rules out deadlock; it also makes an RMW wait only for earlier writes of
// its block and never be starved by later ones. The aligned path allocates
// nothing: the lock's table has a fixed size.
//
// Reads take no lock. With the RMW excluded from every other write, the
// bytes of the block it does not own hold, while it runs, exactly the
// values it read, and it writes those same values back; a concurrent read
// (a pread of the file) therefore sees each byte either before or after a
// write that covers it, never a reverted value. Locking reads would buy
// nothing and cost the read path a round trip on the lock's mutex.
#include "remapfs/aligned_device.h"
#include "bounce_buffer.h"
#include "device_range.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace remapfs {

namespace {

constexpr uint32_t kMinAlignment = 512;
constexpr uint32_t kMaxAlignment = 65536;
static_assert(kBounceBytes % kMaxAlignment == 0);

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

Status NoBounceBuffer() {
  return Status::IoError("no memory for an aligned bounce buffer", ENOMEM);
}

}  // namespace

uint8_t* ThreadBounceBuffer() {
  thread_local std::unique_ptr<uint8_t, FreeDeleter> buffer;
  if (!buffer) {
    void* p = nullptr;
    if (posix_memalign(&p, kMaxAlignment, kBounceBytes) != 0) return nullptr;
    buffer.reset(static_cast<uint8_t*>(p));
  }
  return buffer.get();
}

Status AlignedDevice::Wrap(std::unique_ptr<BlockDevice> base, uint32_t alignment,
                           std::unique_ptr<AlignedDevice>* out) {
  if (!base) return Status::InvalidArgument("aligned device: no base device");
  if (alignment < kMinAlignment || alignment > kMaxAlignment ||
      (alignment & (alignment - 1)) != 0) {
    return Status::InvalidArgument("aligned device: alignment " + std::to_string(alignment) +
                                   " is not a power of two from 512 to 65536");
  }
  if (base->Size() % alignment != 0) {
    return Status::InvalidArgument("size " + std::to_string(base->Size()) +
                                   " is not a multiple of the " + std::to_string(alignment) +
                                   "-byte block that direct I/O needs");
  }
  out->reset(new AlignedDevice(std::move(base), alignment));
  return Status::Ok();
}

AlignedDevice::AlignedDevice(std::unique_ptr<BlockDevice> base, uint32_t alignment)
    : base_(std::move(base)), alignment_(alignment), size_(base_->Size()) {}

Status AlignedDevice::Read(uint64_t offset, void* buf, size_t len) {
  REMAPFS_RETURN_IF_ERROR(CheckDeviceRange("read", offset, len, size_));
  if (len == 0) return Status::Ok();
  if (IsAligned(offset) && IsAligned(len) && IsAligned(buf)) {
    return base_->Read(offset, buf, len);
  }
  uint8_t* bounce = ThreadBounceBuffer();
  if (bounce == nullptr) return NoBounceBuffer();
  auto* out = static_cast<uint8_t*>(buf);
  const uint64_t end = offset + len;
  const uint64_t mask = alignment_ - 1;
  uint64_t pos = offset;
  while (pos < end) {
    const uint64_t span_begin = pos & ~mask;
    // Size() is a multiple of the alignment, so rounding up stays inside.
    const uint64_t span_end = std::min((end + mask) & ~mask, span_begin + kBounceBytes);
    REMAPFS_RETURN_IF_ERROR(base_->Read(span_begin, bounce, span_end - span_begin));
    const uint64_t take_end = std::min(end, span_end);
    std::memcpy(out + (pos - offset), bounce + (pos - span_begin), take_end - pos);
    pos = take_end;
  }
  return Status::Ok();
}

Status AlignedDevice::Write(uint64_t offset, const void* buf, size_t len) {
  REMAPFS_RETURN_IF_ERROR(CheckDeviceRange("write", offset, len, size_));
  if (len == 0) return Status::Ok();
  if (IsAligned(offset) && IsAligned(len) && IsAligned(buf)) {
    auto shared = LockBlocks(offset, len, BlockRangeLock::Mode::kShared);
    return base_->Write(offset, buf, len);
  }
  const auto* in = static_cast<const uint8_t*>(buf);
  const uint64_t end = offset + len;
  const uint64_t mask = alignment_ - 1;
  uint64_t pos = offset;
  if (!IsAligned(pos) || len < alignment_) {  // head
    const uint64_t head_end = std::min(end, (pos & ~mask) + alignment_);
    REMAPFS_RETURN_IF_ERROR(WritePartialBlock(pos, in, head_end - pos));
    pos = head_end;
  }
  const uint64_t body_end = end & ~mask;
  if (pos < body_end) {  // body
    REMAPFS_RETURN_IF_ERROR(WriteWholeBlocks(pos, in + (pos - offset), body_end - pos));
    pos = body_end;
  }
  if (pos < end) {  // tail
    REMAPFS_RETURN_IF_ERROR(WritePartialBlock(pos, in + (pos - offset), end - pos));
  }
  return Status::Ok();
}

Status AlignedDevice::WritePartialBlock(uint64_t offset, const uint8_t* data, size_t len) {
  uint8_t* bounce = ThreadBounceBuffer();
  if (bounce == nullptr) return NoBounceBuffer();
  const uint64_t block_start = offset / alignment_ * alignment_;
  auto exclusive = LockBlocks(block_start, alignment_, BlockRangeLock::Mode::kExclusive);
  REMAPFS_RETURN_IF_ERROR(base_->Read(block_start, bounce, alignment_));
  std::memcpy(bounce + (offset - block_start), data, len);
  return base_->Write(block_start, bounce, alignment_);
}

Status AlignedDevice::WriteWholeBlocks(uint64_t offset, const uint8_t* data, size_t len) {
  if (IsAligned(data)) {
    auto shared = LockBlocks(offset, len, BlockRangeLock::Mode::kShared);
    return base_->Write(offset, data, len);
  }
  uint8_t* bounce = ThreadBounceBuffer();
  if (bounce == nullptr) return NoBounceBuffer();
  auto shared = LockBlocks(offset, len, BlockRangeLock::Mode::kShared);
  for (size_t done = 0; done < len;) {
    const size_t n = std::min(kBounceBytes, len - done);
    std::memcpy(bounce, data + done, n);
    REMAPFS_RETURN_IF_ERROR(base_->Write(offset + done, bounce, n));
    done += n;
  }
  return Status::Ok();
}

}  // namespace remapfs
