// The data regions and holes of an open file, as SEEK_DATA and SEEK_HOLE
// report them: a spare scan reads only the data, and allocation by written
// zeros fills only the holes. Internal to core/.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

#include "remapfs/status.h"

namespace remapfs {

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

// Calls fn(begin, end, &stop) for each data region (`data`) or each hole
// of [0, size) of `fd`, in order, until fn fails or sets stop. A filesystem
// without SEEK_DATA support reports the whole file as data (the kernel's
// generic fallback), or fails with EINVAL, taken to mean the same.
template <typename Fn>
Status ForEachRegion(int fd, const std::string& path, uint64_t size, bool data, Fn fn) {
  bool stop = false;
  for (uint64_t pos = 0; pos < size && !stop;) {
    const off_t d = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (d < 0 && errno != ENXIO && errno != EINVAL)
      return Status::FromErrno(errno, "seek in '" + path + "'");
    // ENXIO: only a hole is left; EINVAL: no SEEK_DATA, all data.
    const uint64_t data_at = d < 0 ? (errno == ENXIO ? size : pos) : static_cast<uint64_t>(d);
    const off_t h = data_at >= size ? -1 : ::lseek(fd, static_cast<off_t>(data_at), SEEK_HOLE);
    const uint64_t hole_at = h < 0 ? size : std::min<uint64_t>(size, static_cast<uint64_t>(h));
    if (!data && data_at > pos) REMAPFS_RETURN_IF_ERROR(fn(pos, std::min(data_at, size), &stop));
    if (data && hole_at > data_at && !stop) REMAPFS_RETURN_IF_ERROR(fn(data_at, hole_at, &stop));
    pos = std::max(hole_at, pos + 1);
  }
  return Status::Ok();
}

}  // namespace remapfs
