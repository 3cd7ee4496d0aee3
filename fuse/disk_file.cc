// The virtual disk: reads and writes go straight to the Volume.
#include <linux/fuse.h>

#include <algorithm>
#include <memory>
#include <span>

#include "fuse_callback.h"
#include "remapfs_fs.h"
#include "worker_pool.h"

namespace remapfs::fuse {

int RemapFs::DiskOpen(fuse_req_t req, fuse_file_info* fi) {
  // Bypass the page cache: O_DIRECT opens work, and every request reaches
  // the core, which is what gives fsync and failing-sector semantics.
  // The Volume serves writes in parallel, so the kernel need not serialize
  // them per inode; libfuse 3.14's fuse_file_info has no bit for that, so
  // the open reply is sent raw (it is exactly what fuse_reply_open sends).
  fuse_open_out out{};
  out.fh = fi->fh;
  out.open_flags = FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES;
  fuse_reply_buf(req, reinterpret_cast<const char*>(&out), sizeof out);
  return 0;
}

int RemapFs::DiskRead(fuse_req_t req, size_t size, off_t off) {
  uint64_t disk_size = volume_->size_bytes();
  if (off < 0) return -EINVAL;
  // Reads at or past the end are short, like any file, not errors.
  if (static_cast<uint64_t>(off) >= disk_size || size == 0) {
    fuse_reply_buf(req, nullptr, 0);
    return 0;
  }
  size_t len = std::min<uint64_t>(size, disk_size - off);
  // The data is read into the worker's own receive buffer, behind the
  // request (worker_pool.h): page aligned, so O_DIRECT fills it without a
  // bounce copy, and no worker holds a second buffer. The reply copies it
  // out before the worker takes its next request. A thread outside the
  // pool (none today) gets a buffer for this one request.
  std::span<char> area = WorkerReplyArea();
  std::unique_ptr<char[]> own;
  if (area.size() < len) {
    own.reset(new char[len]);
    area = {own.get(), len};
  }
  Status st = volume_->Read(static_cast<uint64_t>(off), area.data(), len);
  if (!st.ok()) return ToFuseErrno(st, "read disk");
  fuse_reply_buf(req, area.data(), len);
  return 0;
}

int RemapFs::DiskWrite(fuse_req_t req, const char* buf, size_t size, off_t off) {
  if (settings_.read_only) return -EROFS;
  if (off < 0) return -EINVAL;
  // The Volume answers NoSpace (ENOSPC) for a write reaching past the end.
  Status st = volume_->Write(static_cast<uint64_t>(off), buf, size);
  if (!st.ok()) return ToFuseErrno(st, "write disk");
  fuse_reply_write(req, size);
  return 0;
}

int RemapFs::DiskSync(fuse_req_t req) {
  Status st = volume_->Sync();
  if (!st.ok()) return ToFuseErrno(st, "fsync disk");
  fuse_reply_err(req, 0);
  return 0;
}

}  // namespace remapfs::fuse
