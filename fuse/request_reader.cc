#include "request_reader.h"

#include <linux/fuse.h>
#include <unistd.h>

#include <cerrno>

namespace remapfs::fuse {

ssize_t ReadRequest(int fd, std::span<char> into) {
  for (;;) {
    ssize_t n = read(fd, into.data(), into.size());
    if (n < 0 && errno == ENOENT) continue;
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) < sizeof(fuse_in_header)) return -EIO;
    return n;
  }
}

ReceiveError ClassifyReceiveError(ssize_t res) {
  if (res == -EINTR) return ReceiveError::kRetry;
  if (res == -ENODEV || res == -ECONNABORTED) return ReceiveError::kSessionEnded;
  return ReceiveError::kFailed;
}

}  // namespace remapfs::fuse
