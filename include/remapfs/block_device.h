// BlockDevice: the one small storage interface everything in remapfs sits on.
//
// Implementations: a file or block device (OpenFileDevice), an in-memory
// device for tests and examples (NewMemoryDevice), and FaultyDevice
// (faulty_device.h), a decorator that injects errors and simulated crashes.
// Decorators own the device they wrap.
//
// Contract, for every implementation:
//  - Read/Write transfer exactly `len` bytes at byte `offset` or fail; there
//    are no short transfers. A range reaching past Size() fails with
//    InvalidArgument and transfers nothing.
//  - Read and Write may be called concurrently from many threads. Concurrent
//    calls on disjoint ranges never interfere. Overlapping ones are allowed
//    and defined, as pread/pwrite on a file: each byte a Read returns, and
//    each byte left behind, is a value some call wrote, though a request may
//    tear. Which of two overlapping writes wins is the caller's to order.
//  - Flush returns once every Write that completed before the call is on
//    stable storage (fdatasync for files).
//  - Size() never changes while the device is open.
//  - ReadBatch/WriteBatch issue the requests of one operation together (the
//    runs of a Volume request), so a device may run them concurrently and
//    merge neighbours. The outcome is that of calling Read (Write) on each
//    request in order and stopping at the first failure, except that
//    requests after the failing one may have been performed too: Ok when
//    every request succeeded, else the status Read (Write) gives for the
//    lowest-index request that fails, and its index in *failed (when
//    `failed` is not null). Requests of one write batch must not overlap.
//    The default runs the requests one by one, in order, with Read/Write,
//    so a decorator that does not override them sees every request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <sys/types.h>

#include "remapfs/status.h"

namespace remapfs {

// One request of a batch: `len` bytes at device byte `offset`, into or from
// `buf`, which the caller owns and keeps until the batch returns.
struct ReadRequest {
  uint64_t offset;
  void* buf;
  size_t len;
};
struct WriteRequest {
  uint64_t offset;
  const void* buf;
  size_t len;
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  virtual Status Read(uint64_t offset, void* buf, size_t len) = 0;
  virtual Status Write(uint64_t offset, const void* buf, size_t len) = 0;
  // See the contract above; `failed` may be null.
  virtual Status ReadBatch(std::span<const ReadRequest> requests, size_t* failed);
  virtual Status WriteBatch(std::span<const WriteRequest> requests, size_t* failed);
  virtual Status Flush() = 0;
  virtual uint64_t Size() const = 0;
};

struct FileDeviceOptions {
  bool read_only = false;
  // O_DIRECT, so an I/O error belongs to the request that caused it (no
  // page cache, no deferred writeback). The device returned still takes any
  // offset, length and buffer: it is wrapped in an AlignedDevice
  // (aligned_device.h) using QueryLogicalBlockSize. Fails with
  // InvalidArgument, naming the path, when the filesystem refuses O_DIRECT
  // (tmpfs) or the size is not a multiple of that block size.
  bool direct_io = false;
  // Take an exclusive flock() on the file for as long as the device is open;
  // fails with Busy when another open file description holds it. flock (not
  // fcntl) so the lock survives the daemon's fork.
  bool exclusive_lock = true;
};

// Opens a regular file or block device. Size() is the file size, or the
// block device's size (BLKGETSIZE64). Anything else is refused as
// OpenStorageFile does.
Status OpenFileDevice(const std::string& path, const FileDeviceOptions& options,
                      std::unique_ptr<BlockDevice>* out);

// InvalidArgument "'PATH' is a FIFO, not a regular file or block device"
// (a socket, a directory, a character device, ...) unless `mode` (st_mode)
// is a regular file or a block device: the only things remapfs stores on.
Status CheckStorageType(const std::string& path, mode_t mode);

// The one way remapfs opens MAIN, SPARE and their locks: open(2) with
// `flags` plus O_CLOEXEC, returning a blocking descriptor the caller owns.
// It never blocks and never acts on a special file: the path is refused by
// CheckStorageType before the open (stat) and after it (fstat, the open
// done with O_NONBLOCK | O_NOCTTY). Errors name the path first:
// NotFound "'PATH' does not exist", "'PATH' cannot be opened: <errno>".
Status OpenStorageFile(const std::string& path, int flags, int* fd);

// The alignment O_DIRECT requires for `path`, in bytes: a block device's
// logical block size (ioctl BLKSSZGET); for a regular file, what its
// filesystem reports (statx STATX_DIOALIGN, offset and memory alignment,
// the larger of the two, at least 512), or 4096 when it does not say.
Status QueryLogicalBlockSize(const std::string& path, uint32_t* out);

// A zero-filled device held in memory. Thread-safe per the contract above.
std::unique_ptr<BlockDevice> NewMemoryDevice(uint64_t size);

}  // namespace remapfs
