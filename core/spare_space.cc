// AllocateSpareFile and ZeroSpareFile (spare_file.h): host blocks for a
// spare file, and wiping a file or block device before a format.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "file_regions.h"
#include "remapfs/block_device.h"
#include "remapfs/spare_file.h"

namespace remapfs {
namespace {

constexpr size_t kZeroChunk = 1u << 20;
// fallocate and BLKZEROOUT go this many bytes a call: a progress report
// each, a few calls a GiB, so nothing measurable is added.
constexpr uint64_t kRangeChunk = 64ull << 20;

// Progress is reported as the byte offset reached, out of `total`.
Status WriteZeros(int fd, const std::string& path, uint64_t begin, uint64_t end,
                  const ProgressFn& progress = {}, uint64_t total = 0) {
  static const std::vector<char> zeros(kZeroChunk, 0);
  for (uint64_t off = begin; off < end;) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kZeroChunk, end - off));
    const ssize_t n = ::pwrite(fd, zeros.data(), len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(n < 0 ? errno : EIO, "write zeros to '" + path + "'");
    off += static_cast<uint64_t>(n);
    Report(progress, off, total);
  }
  return Status::Ok();
}

// fallocate(fd, mode) over [0, size) in kRangeChunk calls. -1 and errno
// as fallocate; `*reached` is where the failing call started.
int FallocateChunked(int fd, int mode, uint64_t size, const ProgressFn& progress,
                     uint64_t* reached) {
  for (uint64_t off = 0; off < size;) {
    const uint64_t len = std::min(kRangeChunk, size - off);
    *reached = off;
    if (::fallocate(fd, mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    off += len;
    Report(progress, off, size);
  }
  *reached = size;
  return 0;
}

uint64_t AvailableBytes(int fd) {
  struct statvfs vfs {};
  if (::fstatvfs(fd, &vfs) != 0) return 0;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

Status NoSpace(const std::string& path, uint64_t need, uint64_t available) {
  return Status::NoSpace("not enough space on the filesystem holding SPARE '" + path + "': need " +
                         std::to_string(need) + " bytes, " + std::to_string(available) +
                         " available");
}

// fallocate, or zeros written into the holes where it is unsupported.
Status Allocate(int fd, const std::string& path, uint64_t old_size, uint64_t size, std::string* how,
                const ProgressFn& progress) {
  uint64_t reached = 0;
  if (FallocateChunked(fd, 0, size, progress, &reached) == 0) {
    *how = "allocated with fallocate";
    return Status::Ok();
  }
  // EOPNOTSUPP comes at the first call or not at all.
  if (errno != EOPNOTSUPP || reached != 0)
    return Status::FromErrno(errno, "fallocate '" + path + "'");
  *how = "allocated by writing zeros (the filesystem has no fallocate)";
  REMAPFS_RETURN_IF_ERROR(
      ForEachRegion(fd, path, old_size, /*data=*/false, [&](uint64_t b, uint64_t e, bool*) {
        return WriteZeros(fd, path, b, e, progress, size);
      }));
  REMAPFS_RETURN_IF_ERROR(WriteZeros(fd, path, old_size, size, progress, size));
  Report(progress, size, size);
  return Status::Ok();
}

}  // namespace

Status AllocateSpareFile(const std::string& path, uint64_t size, std::string* how,
                         const ProgressFn& progress) {
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, O_RDWR, &fd));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat '" + path + "'");
  if (S_ISBLK(st.st_mode)) {
    *how = "a block device: its space is there, nothing to allocate";
    return Status::Ok();
  }
  const uint64_t old_size = static_cast<uint64_t>(st.st_size);
  if (size < old_size) return Status::InvalidArgument("AllocateSpareFile never shrinks a file");
  if (size == 0) return Status::Ok();  // fallocate refuses an empty range
  Report(progress, 0, size);
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  const uint64_t need = size > allocated ? size - allocated : 0;
  if (need > AvailableBytes(fd)) return NoSpace(path, need, AvailableBytes(fd));
  Status status = Allocate(fd, path, old_size, size, how, progress);
  if (status.ok()) return status;
  // Back to the old size: what was grown goes, the old bytes were kept.
  const bool full = status.errno_value() == ENOSPC || status.errno_value() == EDQUOT;
  if (::ftruncate(fd, static_cast<off_t>(old_size)) != 0)
    return Status::FromErrno(errno, "restore the size of '" + path + "'");
  return full ? NoSpace(path, need, AvailableBytes(fd)) : status;
}

namespace {

Status ZeroFile(int fd, const std::string& path, uint64_t size, const ProgressFn& progress) {
  if (size == 0) return Status::Ok();  // fallocate refuses an empty range
  Report(progress, 0, size);
  uint64_t reached = 0;
  if (FallocateChunked(fd, FALLOC_FL_ZERO_RANGE, size, progress, &reached) == 0)
    return Status::Ok();
  if (errno != EOPNOTSUPP || reached != 0) return Status::FromErrno(errno, "zero '" + path + "'");
  // tmpfs: no ZERO_RANGE, but a punched hole reads as zeros and mode 0
  // gives the blocks back.
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) ==
      0) {
    if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) == 0 || errno == EOPNOTSUPP) {
      Report(progress, size, size);
      return Status::Ok();
    }
    return Status::FromErrno(errno, "allocate '" + path + "' again after zeroing");
  }
  if (errno != EOPNOTSUPP) return Status::FromErrno(errno, "zero '" + path + "'");
  REMAPFS_RETURN_IF_ERROR(
      ForEachRegion(fd, path, size, /*data=*/true, [&](uint64_t b, uint64_t e, bool*) {
        return WriteZeros(fd, path, b, e, progress, size);
      }));
  Report(progress, size, size);
  return Status::Ok();
}

// BLKZEROOUT a chunk at a time; from the first chunk it refuses on, zeros
// are written.
Status ZeroBlockDevice(int fd, const std::string& path, const ProgressFn& progress) {
  uint64_t size = 0;
  if (::ioctl(fd, BLKGETSIZE64, &size) != 0)
    return Status::FromErrno(errno, "BLKGETSIZE64 " + path);
  Report(progress, 0, size);
  for (uint64_t off = 0; off < size;) {
    uint64_t range[2] = {off, std::min(kRangeChunk, size - off)};
    if (::ioctl(fd, BLKZEROOUT, range) != 0) return WriteZeros(fd, path, off, size, progress, size);
    off += range[1];
    Report(progress, off, size);
  }
  return Status::Ok();
}

}  // namespace

Status ZeroSpareFile(const std::string& path, const ProgressFn& progress) {
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, O_RDWR, &fd));
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat '" + path + "'");
  Status status = S_ISBLK(st.st_mode)
                      ? ZeroBlockDevice(fd, path, progress)
                      : ZeroFile(fd, path, static_cast<uint64_t>(st.st_size), progress);
  if (status.ok() && ::fsync(fd) != 0) status = Status::FromErrno(errno, "fsync '" + path + "'");
  return status;
}

}  // namespace remapfs
