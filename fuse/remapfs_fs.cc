// The inode tree, attributes and the callback table. File contents are in
// disk_file.cc and control_files.cc.
#include "remapfs_fs.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cstring>
#include <vector>

#include "fuse_callback.h"

namespace remapfs::fuse {
namespace {

// The tree never changes, so the kernel may cache names and attributes,
// except the sizes of control files, which follow their text.
constexpr double kCacheSeconds = 3600.0;

double AttrTimeout(fuse_ino_t ino) {
  return ControlFileByIno(ino) != nullptr ? 0.0 : kCacheSeconds;
}

RemapFs& Fs(fuse_req_t req) { return *static_cast<RemapFs*>(fuse_req_userdata(req)); }

struct DirEntry {
  std::string name;
  fuse_ino_t ino;
};

std::vector<DirEntry> DirEntries(const RemapFs& fs, fuse_ino_t dir) {
  std::vector<DirEntry> entries;
  if (dir == kRootIno) {
    entries = {{".", kRootIno},
               {"..", kRootIno},
               {fs.settings().disk_name, kDiskIno},
               {kControlDirName, kControlDirIno}};
  } else {
    entries = {{".", kControlDirIno}, {"..", kRootIno}};
    for (size_t i = 0; i < ControlFiles().size(); ++i) {
      entries.push_back({ControlFiles()[i].name, kFirstControlIno + i});
    }
  }
  return entries;
}

bool IsDir(fuse_ino_t ino) { return ino == kRootIno || ino == kControlDirIno; }

int ReplyEntry(fuse_req_t req, fuse_ino_t ino) {
  fuse_entry_param entry{};
  if (!Fs(req).Attr(ino, &entry.attr)) return -ENOENT;
  entry.ino = ino;
  entry.generation = 1;
  entry.attr_timeout = AttrTimeout(ino);
  entry.entry_timeout = kCacheSeconds;
  fuse_reply_entry(req, &entry);
  return 0;
}

int Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!IsDir(parent)) return Fs(req).Attr(parent, nullptr) ? -ENOTDIR : -ENOENT;
  for (const DirEntry& e : DirEntries(Fs(req), parent)) {
    if (e.name == name && e.name != "." && e.name != "..") {
      return ReplyEntry(req, e.ino);
    }
  }
  return -ENOENT;
}

int Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off) {
  if (!IsDir(ino)) return -ENOTDIR;
  std::vector<DirEntry> entries = DirEntries(Fs(req), ino);
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = off < 0 ? 0 : static_cast<size_t>(off); i < entries.size(); ++i) {
    // Only st_ino and the type bits of st_mode matter here.
    struct stat st {};
    st.st_ino = entries[i].ino;
    st.st_mode = IsDir(entries[i].ino) ? S_IFDIR : S_IFREG;
    // The offset stored with an entry is where the next readdir resumes.
    size_t need = fuse_add_direntry(req, buf.data() + used, size - used, entries[i].name.c_str(),
                                    &st, i + 1);
    if (need > size - used) break;
    used += need;
  }
  fuse_reply_buf(req, buf.data(), used);
  return 0;
}

// Only no-op changes succeed: the disk's size is fixed; owners, modes and
// timestamps are the mount's and nothing stores another (every inode shows
// the mount time), so chmod, chown and utime/touch fail with EPERM rather
// than pretend. A shell's `>` truncates a control file to 0: allowed, and
// the mtime a truncate implies is not a request to store a time.
int Setattr(fuse_req_t req, fuse_ino_t ino, const struct stat* attr, int to_set) {
  constexpr int kTimes = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                         FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  struct stat st {};
  if (!Fs(req).Attr(ino, &st)) return -ENOENT;
  if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    return -EPERM;
  }
  if ((to_set & kTimes) && !(to_set & FUSE_SET_ATTR_SIZE)) return -EPERM;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (IsDir(ino)) return -EISDIR;
    bool control_truncate = ino != kDiskIno && attr->st_size == 0;
    if (attr->st_size != st.st_size && !control_truncate) return -EPERM;
  }
  fuse_reply_attr(req, &st, AttrTimeout(ino));  // timestamps are not stored
  return 0;
}

int Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (IsDir(ino)) return -EISDIR;
  RemapFs& fs = Fs(req);
  if (int err = fs.CheckOpenAccess(req, ino, fi->flags)) return err;
  // With atomic_o_trunc (libfuse's default) O_TRUNC arrives here instead of
  // as a setattr; the disk's size is fixed, a control file has none.
  if (ino == kDiskIno && (fi->flags & O_TRUNC)) return -EPERM;
  if (ino == kDiskIno) return fs.DiskOpen(req, fi);
  const ControlFile* file = ControlFileByIno(ino);
  if (file == nullptr) return -ENOENT;
  return fs.ControlOpen(req, *file, fi);
}

int Statfs(fuse_req_t req) {
  const Geometry& g = Fs(req).volume().geometry();
  struct statvfs st {};
  st.f_bsize = g.sector_size;
  st.f_frsize = g.sector_size;
  st.f_blocks = g.main_sectors;
  st.f_files = kFirstControlIno + ControlFiles().size() - 1;
  st.f_namemax = 255;
  fuse_reply_statfs(req, &st);
  return 0;
}

// --- Trampolines: one line each through the single translation point. ---

void OpInit(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  // max_read must equal the -o max_read given at mount (cli/mount.cc).
  conn->max_read = kMaxRequestBytes;
  conn->max_write = kMaxRequestBytes;
  // Every write must reach the core before write() returns: no page cache.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Requests arrive in the worker's buffer, never in a pipe: the layout
  // worker_pool.h gives WRITE data and READ replies depends on it.
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  // Asynchronous direct I/O (a VM's or fio's queue of reads) travels as
  // background requests, of which the kernel keeps at most max_background
  // in flight (libfuse's default: 12). Let a queue of 32-64 reach the
  // worker threads.
  conn->max_background = kMaxBackgroundRequests;
  conn->congestion_threshold = kMaxBackgroundRequests * 3 / 4;
}

void OpDestroy(void* userdata) {
  auto* fs = static_cast<RemapFs*>(userdata);
  fs->StopScrub();
  Status st = fs->volume().Sync();
  if (!st.ok()) spdlog::error("final sync at unmount: {}", st.ToString());
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  RunFuseCallback(req, "lookup", [&] { return Lookup(req, parent, name); });
}

void OpForget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  RunFuseCallback(req, "getattr", [&] {
    struct stat st {};
    if (!Fs(req).Attr(ino, &st)) return -ENOENT;
    fuse_reply_attr(req, &st, AttrTimeout(ino));
    return 0;
  });
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  RunFuseCallback(req, "setattr", [&] { return Setattr(req, ino, attr, to_set); });
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  RunFuseCallback(req, "readdir", [&] { return Readdir(req, ino, size, off); });
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  RunFuseCallback(req, "open", [&] { return Open(req, ino, fi); });
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  RunFuseCallback(req, "read", [&] {
    if (ino == kDiskIno) return Fs(req).DiskRead(req, size, off);
    const ControlFile* file = ControlFileByIno(ino);
    if (file == nullptr) return -EISDIR;
    return Fs(req).ControlRead(req, *file, size, off, fi);
  });
}

void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info*) {
  RunFuseCallback(req, "write", [&] {
    if (ino == kDiskIno) return Fs(req).DiskWrite(req, buf, size, off);
    const ControlFile* file = ControlFileByIno(ino);
    if (file == nullptr) return -EISDIR;
    return Fs(req).ControlWrite(req, *file, buf, size);
  });
}

// Closing a file promises nothing about durability; fsync does.
void OpFlush(fuse_req_t req, fuse_ino_t, fuse_file_info*) { fuse_reply_err(req, 0); }

void OpFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  RunFuseCallback(req, "fsync", [&] {
    if (ino == kDiskIno) return Fs(req).DiskSync(req);
    // Control writes are committed before write() returns.
    fuse_reply_err(req, 0);
    return 0;
  });
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kDiskIno) Fs(req).ControlRelease(fi);
  fuse_reply_err(req, 0);
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  RunFuseCallback(req, "statfs", [&] { return Statfs(req); });
}

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.destroy = OpDestroy;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.readdir = OpReaddir;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.fsync = OpFsync;
  ops.release = OpRelease;
  ops.statfs = OpStatfs;
  SetNamespaceRefusals(&ops);
  return ops;
}

}  // namespace

RemapFs::RemapFs(Volume* volume, FaultyDevice* main_faults, MountSettings settings)
    : volume_(volume), main_faults_(main_faults), settings_(std::move(settings)) {
  clock_gettime(CLOCK_REALTIME, &mount_time_);
}

const fuse_lowlevel_ops& RemapFs::Operations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

bool RemapFs::Attr(fuse_ino_t ino, struct stat* st) const {
  struct stat attr {};
  attr.st_ino = ino;
  attr.st_uid = settings_.owner_uid;
  attr.st_gid = settings_.owner_gid;
  attr.st_atim = attr.st_mtim = attr.st_ctim = mount_time_;
  attr.st_blksize = volume_->geometry().sector_size;
  if (IsDir(ino)) {
    attr.st_mode = S_IFDIR | 0755;
    attr.st_nlink = ino == kRootIno ? 3 : 2;
  } else if (ino == kDiskIno) {
    attr.st_mode = S_IFREG | 0644;
    attr.st_nlink = 1;
    attr.st_size = static_cast<off_t>(volume_->size_bytes());
    attr.st_blocks = attr.st_size / 512;
  } else if (const ControlFile* file = ControlFileByIno(ino)) {
    // The current text length: tools such as `cmp -s` trust st_size. Reads
    // use direct_io and go to EOF whatever it says; write-only files are 0.
    attr.st_mode = S_IFREG | file->mode;
    attr.st_nlink = 1;
    if (file->mode & 0444) {
      attr.st_size = static_cast<off_t>(ControlText(file->kind).size());
    }
  } else {
    return false;
  }
  if (st != nullptr) *st = attr;
  return true;
}

}  // namespace remapfs::fuse
