// Reading one request from /dev/fuse into a buffer of ours. libfuse's
// fuse_session_receive_buf reads with a count of its own (se->bufsize, an
// internal that 3.14 sets to 256 pages + 4 KiB, free to change in another
// version), which a caller-supplied buffer cannot be checked against: the
// worker pool reads itself, with a count that is exactly the room it has,
// so the kernel can never write past it.
#pragma once

#include <sys/types.h>

#include <span>

namespace remapfs::fuse {

// One read(2) of `fd` into `into`, the count being into.size(). Returns the
// request's size, or the negative errno: -EIO for a read shorter than a
// request header; ENOENT (a request interrupted before it was read) is
// retried here, as libfuse does; -EINTR, -ENODEV (unmounted or aborted) and
// the rest are the caller's to handle. Thread safe: each caller brings its
// own buffer.
ssize_t ReadRequest(int fd, std::span<char> into);

// What a worker does after ReadRequest returned `res` < 0.
enum class ReceiveError {
  kRetry,         // EINTR: a signal; read again (or notice the session ended)
  kSessionEnded,  // the kernel ended the connection: a clean end
  kFailed,        // the device failed: the daemon exits 1
};

// ENODEV and ECONNABORTED both mean the kernel ended the connection. The
// kernel returns ECONNABORTED instead of ENODEV when the connection is
// aborted after it handed this read a request (fs/fuse/dev.c,
// fuse_dev_do_read): the last close after `umount -l` queues a RELEASE and
// aborts the connection at once, so a worker picks the RELEASE up and gets
// ECONNABORTED. Nothing acknowledged is lost: the request is failed in the
// kernel, and the daemon's final sync still runs.
ReceiveError ClassifyReceiveError(ssize_t res);

}  // namespace remapfs::fuse
