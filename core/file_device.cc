// BlockDevice over a regular file or a block device (pread/pwrite).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "device_range.h"
#include "file_device.h"
#include "remapfs/aligned_device.h"
#include "remapfs/block_device.h"

namespace remapfs {

FileDevice::FileDevice(int fd, std::string path, uint64_t size)
    : fd_(fd), path_(std::move(path)), size_(size) {}

FileDevice::~FileDevice() { ::close(fd_); }

Status FileDevice::CheckRange(const char* op, uint64_t offset, size_t len) const {
  return CheckDeviceRange(op, offset, len, size_, path_);
}

Status FileDevice::ErrnoStatus(bool write, int err, uint64_t offset) const {
  return Status::FromErrno(err, std::string(write ? "write " : "read ") + path_ + " at " +
                                    std::to_string(offset));
}

Status FileDevice::Read(uint64_t offset, void* buf, size_t len) {
  REMAPFS_RETURN_IF_ERROR(CheckRange("read", offset, len));
  return ReadAll(offset, buf, len);
}

Status FileDevice::Write(uint64_t offset, const void* buf, size_t len) {
  REMAPFS_RETURN_IF_ERROR(CheckRange("write", offset, len));
  return WriteAll(offset, buf, len);
}

Status FileDevice::ReadAll(uint64_t offset, void* buf, size_t len) {
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd_, p + done, len - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(false, errno, offset + done);
    // Size() said these bytes exist: a short file is an I/O error.
    if (n == 0) {
      return Status::IoError("read " + path_ + " at " + std::to_string(offset + done) +
                             ": unexpected end of file");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FileDevice::WriteAll(uint64_t offset, const void* buf, size_t len) {
  const auto* p = static_cast<const char*>(buf);
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd_, p + done, len - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(true, errno, offset + done);
    if (n == 0) {
      return Status::IoError("write " + path_ + " at " + std::to_string(offset + done) +
                             ": device accepted no bytes");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status FileDevice::Flush() {
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "fdatasync " + path_);
  }
  return Status::Ok();
}

namespace {

// Size of an open regular file or block device (OpenStorageFile checked
// the type).
Status DeviceSize(int fd, const std::string& path, uint64_t* size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, size) != 0) {
      return Status::FromErrno(errno, "BLKGETSIZE64 " + path);
    }
    return Status::Ok();
  }
  *size = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

const char* FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  return "a special file";
}

Status LockDevice(int fd, const std::string& path, bool shared) {
  while (::flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status::Busy(path + " is in use by another remapfs process");
    }
    return Status::FromErrno(errno, "lock " + path);
  }
  return Status::Ok();
}

// When a filesystem does not report its direct I/O alignment, 4096 is the
// value every common one accepts (it is a multiple of any smaller need).
constexpr uint32_t kDefaultDirectIoAlignment = 4096;

Status FileDirectIoAlignment(int fd, const std::string& path, uint32_t* out) {
  *out = kDefaultDirectIoAlignment;
#ifdef STATX_DIOALIGN
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) != 0) {
    return Status::FromErrno(errno, "statx " + path);
  }
  if ((stx.stx_mask & STATX_DIOALIGN) != 0 && stx.stx_dio_offset_align != 0) {
    *out = std::max<uint32_t>({512, stx.stx_dio_offset_align, stx.stx_dio_mem_align});
  }
#else
  (void)fd;
  (void)path;
#endif
  return Status::Ok();
}

// The O_DIRECT alignment of an open file or block device.
Status DirectIoAlignment(int fd, const std::string& path, uint32_t* out) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "stat " + path);
  if (S_ISBLK(st.st_mode)) {
    int logical = 0;
    if (::ioctl(fd, BLKSSZGET, &logical) != 0 || logical <= 0) {
      return Status::FromErrno(errno, "BLKSSZGET " + path);
    }
    *out = static_cast<uint32_t>(logical);
    return Status::Ok();
  }
  if (S_ISREG(st.st_mode)) return FileDirectIoAlignment(fd, path, out);
  return Status::InvalidArgument(path + " is not a regular file or block device");
}

// Wraps a device opened with O_DIRECT so its users never see alignment rules.
Status WrapForDirectIo(int fd, const std::string& path, std::unique_ptr<BlockDevice>* device) {
  uint32_t alignment = 0;
  REMAPFS_RETURN_IF_ERROR(DirectIoAlignment(fd, path, &alignment));
  std::unique_ptr<AlignedDevice> aligned;
  Status st = AlignedDevice::Wrap(std::move(*device), alignment, &aligned);
  if (!st.ok()) return st.WithContext(path + " (direct I/O)");
  *device = std::move(aligned);
  return Status::Ok();
}

// Opened with O_NONBLOCK so nothing can hang us before the type check;
// the flag is cleared again once the type is known to be good.
Status ClearNonBlock(int fd, const std::string& path) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Status::FromErrno(errno, "fcntl " + path);
  }
  return Status::Ok();
}

}  // namespace

Status CheckStorageType(const std::string& path, mode_t mode) {
  if (S_ISREG(mode) || S_ISBLK(mode)) return Status::Ok();
  return Status::InvalidArgument("'" + path + "' is " + FileTypeName(mode) +
                                 ", not a regular file or block device");
}

Status OpenStorageFile(const std::string& path, int flags, int* fd_out) {
  // stat first: opening a character device can act on it (a tape rewinds),
  // opening a FIFO blocks, and a socket cannot be opened at all.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound("'" + path + "' does not exist");
    return Status::FromErrno(errno, "'" + path + "' cannot be examined");
  }
  REMAPFS_RETURN_IF_ERROR(CheckStorageType(path, st.st_mode));
  // The path may be replaced between stat and open: O_NONBLOCK and
  // O_NOCTTY keep that open harmless, fstat decides.
  int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == EINVAL && (flags & O_DIRECT) != 0) {
      return Status::InvalidArgument("'" + path +
                                     "': its filesystem does not "
                                     "support direct I/O (O_DIRECT)");
    }
    return Status::FromErrno(errno, "'" + path + "' cannot be opened");
  }
  Status status;
  if (::fstat(fd, &st) != 0) status = Status::FromErrno(errno, "stat " + path);
  if (status.ok()) status = CheckStorageType(path, st.st_mode);
  if (status.ok()) status = ClearNonBlock(fd, path);
  if (!status.ok()) {
    ::close(fd);
    return status;
  }
  *fd_out = fd;
  return Status::Ok();
}

Status OpenFileDevice(const std::string& path, const FileDeviceOptions& options,
                      std::unique_ptr<BlockDevice>* out) {
  int flags = options.read_only ? O_RDONLY : O_RDWR;
  if (options.direct_io) flags |= O_DIRECT;
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, flags, &fd));
  uint64_t size = 0;
  Status st = DeviceSize(fd, path, &size);
  // Read-only opens (info, check) share the lock: they coexist with each
  // other but not with a mount or a format holding it exclusively.
  if (st.ok() && options.exclusive_lock) st = LockDevice(fd, path, options.read_only);
  if (!st.ok()) {
    ::close(fd);
    return st;
  }
  std::unique_ptr<BlockDevice> device = std::make_unique<FileDevice>(fd, path, size);
  if (options.direct_io) REMAPFS_RETURN_IF_ERROR(WrapForDirectIo(fd, path, &device));
  *out = std::move(device);
  return Status::Ok();
}

Status QueryLogicalBlockSize(const std::string& path, uint32_t* out) {
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, O_RDONLY, &fd));
  Status st = DirectIoAlignment(fd, path, out);
  ::close(fd);
  return st;
}

}  // namespace remapfs
