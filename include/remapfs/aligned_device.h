// AlignedDevice: a BlockDevice decorator that serves byte-granular requests
// on top of a base that only accepts aligned ones (a file or block device
// opened with O_DIRECT).
//
// The base must accept any request whose offset, length and buffer address
// are all multiples of `alignment`; it may reject anything else (O_DIRECT
// answers EINVAL). Callers of the AlignedDevice see the plain BlockDevice
// contract: any offset, any length, any buffer.
//
// Cost: a request that is already aligned goes straight to the base with
// the caller's buffer (no copy, no allocation; a write first takes its
// blocks shared in a range lock, one mutex round trip). Anything else moves through
// a per-thread bounce buffer aligned for O_DIRECT, allocated on a thread's
// first unaligned request and reused after that. A write that covers only
// part of a block does read-modify-write of that block (at most two such
// blocks per request: its head and its tail).
//
// Batches (ReadBatch, WriteBatch) go to the base as one batch where they
// can, so a base that runs a batch concurrently runs them so: aligned
// requests as they are; a read's other requests as the aligned spans that
// cover them, read into the bounce buffer, spans that overlap or touch read
// once (the same blocks Read would read, in fewer calls); a write's
// whole-block requests with a misaligned buffer copied into the bounce
// buffer, all under one shared lock of the blocks from the first to the
// last. The writes that cover part of a block follow, as read-modify-write
// in base batches: under one exclusive lock of the blocks from the first
// to the last of a round (as many requests as the bounce buffer holds), the
// blocks they cover in part are read in one base ReadBatch, patched, and
// written back in one base WriteBatch; requests that share a block both
// land. Whatever does not fit the bounce buffer takes Write's path, after
// the batch.
//
// Thread safety: every method may be called concurrently, as the
// BlockDevice contract says. Concurrent writes never lose each other's
// bytes, at any offset and length (SPEC invariant 11): once both are done,
// a byte only one of them covers holds that write's value, and a byte both
// cover holds one of the two values; no byte reverts to what it held
// before. See the locking note in aligned_device.cc. The device owns its
// base.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "remapfs/block_device.h"
#include "remapfs/block_range_lock.h"

namespace remapfs {

class AlignedDevice : public BlockDevice {
 public:
  // InvalidArgument when `alignment` is not a power of two in [512, 65536],
  // or when the base's size is not a multiple of it (its last, partial
  // block could not be written without growing the file).
  static Status Wrap(std::unique_ptr<BlockDevice> base, uint32_t alignment,
                     std::unique_ptr<AlignedDevice>* out);

  Status Read(uint64_t offset, void* buf, size_t len) override;
  Status Write(uint64_t offset, const void* buf, size_t len) override;
  Status ReadBatch(std::span<const ReadRequest> requests, size_t* failed) override;
  Status WriteBatch(std::span<const WriteRequest> requests, size_t* failed) override;
  Status Flush() override { return base_->Flush(); }
  uint64_t Size() const override { return size_; }

  uint32_t alignment() const { return alignment_; }
  BlockDevice* base() { return base_.get(); }

 private:
  AlignedDevice(std::unique_ptr<BlockDevice> base, uint32_t alignment);

  bool IsAligned(uint64_t value) const { return (value & (alignment_ - 1)) == 0; }
  bool IsAligned(const void* p) const { return IsAligned(reinterpret_cast<uintptr_t>(p)); }
  // Writes `len` bytes at `offset` into the one block that holds them,
  // reading the rest of that block first.
  Status WritePartialBlock(uint64_t offset, const uint8_t* data, size_t len);
  // Writes whole blocks [offset, offset+len) from a buffer of any alignment.
  Status WriteWholeBlocks(uint64_t offset, const uint8_t* data, size_t len);
  // The batches, kBatchSlice requests at a time (aligned_device_batch.cc).
  static constexpr size_t kBatchSlice = 128;
  template <typename Request>
  Status RunBatch(std::span<const Request> requests, size_t* failed);
  Status ReadSlice(std::span<const ReadRequest> requests, size_t* failed);
  Status WriteSlice(std::span<const WriteRequest> requests, size_t* failed);
  // The partial-block writes of a slice: requests[i] for each i in `which`
  // below *lowest, stopping at the first failure, which becomes *lowest
  // with its *status (aligned_device_rmw.cc). RmwRound does the requests
  // `round` (ascending indices whose spans fit the bounce buffer together).
  void WritePartialBlocks(std::span<const WriteRequest> requests, const bool* which, size_t* lowest,
                          Status* status);
  Status RmwRound(std::span<const WriteRequest> requests, std::span<const uint16_t> round,
                  size_t* failed);
  // The blocks that bytes [offset, offset+len) touch, len > 0.
  BlockRangeLock::Guard LockBlocks(uint64_t offset, uint64_t len, BlockRangeLock::Mode mode) {
    return block_locks_.Lock(offset / alignment_, (offset + len - 1) / alignment_, mode);
  }

  std::unique_ptr<BlockDevice> base_;
  const uint32_t alignment_;
  const uint64_t size_;
  // Read-modify-write holds its block exclusively, whole-block writes hold
  // their blocks shared: see aligned_device.cc.
  BlockRangeLock block_locks_;
};

}  // namespace remapfs
