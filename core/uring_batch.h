// The calling thread's io_uring, which FileDevice's batches run on
// (file_device_batch.cc). Internal to core/.
//
// One ring per thread, made on the thread's first batch and closed when the
// thread ends, so threads never share or lock one. A ring made before a
// fork() is left to the parent: the child makes its own. When the kernel
// refuses io_uring (a seccomp filter, kernel.io_uring_disabled, an old
// kernel) or has no room for a ring (ENOMEM, EMFILE), RunOnThreadRing says
// so and the caller does its I/O itself.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace remapfs {

// One vectored read or write of a batch.
struct UringOp {
  int fd;
  bool write;
  uint64_t offset;
  const iovec* iov;  // kept alive by the caller until RunOnThreadRing returns
  unsigned iovcnt;
  // Out: bytes transferred (possibly fewer than asked), or -errno;
  // -ECANCELED when the op was never submitted.
  int64_t result;
};

// The most ops RunOnThreadRing takes in one call: its ring's size.
inline constexpr size_t kUringMaxOps = 128;

// Runs `ops` (at most kUringMaxOps) concurrently and returns once every op
// the kernel took has completed: nothing of theirs is in flight after it.
// False, with nothing run, when the calling thread has no ring: the process
// has no io_uring (a refusal, logged once, which holds for good), or a ring
// could not be made for want of memory or descriptors (logged once; a later
// call tries again).
bool RunOnThreadRing(std::span<UringOp> ops);

}  // namespace remapfs
