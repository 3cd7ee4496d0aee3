// RemapFs: the FUSE low-level adapter over a Volume.
//
// The mount holds a fixed tree of inodes:
//   1  /                  directory
//   2  /NAME              the virtual disk (Volume)
//   3  /control/          directory
//   4+ /control/<file>    control files (control_files.cc)
// Nothing is ever created or removed, so lookup/forget need no reference
// counts. Every callback is a few lines that go through RunFuseCallback
// (fuse_callback.h), the only place a core Status becomes -errno.
//
// Ownership: RemapFs borrows the Volume and the FaultyDevice wrapping MAIN;
// the caller keeps both alive until the RemapFs is destroyed. It owns the
// Scrubber of control/scrub, whose thread it stops and joins on destruction.
// Thread safety: callbacks run concurrently on the multithreaded loop; all
// state here is immutable after construction except per-open handles, which
// carry their own lock, and the Scrubber, which is thread-safe.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <span>
#include <string>

#include "libfuse.h"
#include "remapfs/faulty_device.h"
#include "remapfs/live_status.h"
#include "remapfs/scrubber.h"
#include "remapfs/volume.h"

namespace remapfs::fuse {

inline constexpr fuse_ino_t kRootIno = 1;
inline constexpr fuse_ino_t kDiskIno = 2;
inline constexpr fuse_ino_t kControlDirIno = 3;
inline constexpr fuse_ino_t kFirstControlIno = 4;
inline constexpr const char* kControlDirName = "control";

// Largest single FUSE read/write request (conn->max_write, -o max_read).
inline constexpr size_t kMaxRequestBytes = 1 << 20;
// Background (asynchronous) requests the kernel may have in flight at once.
inline constexpr unsigned kMaxBackgroundRequests = 64;

enum class ControlKind {
  kAddBad,
  kRemove,
  kRemaps,
  kReservations,
  kStatus,
  kInject,
  kScrub,
  kStatusJson
};

struct ControlFile {
  const char* name;
  ControlKind kind;
  mode_t mode;  // permission bits only
};

// The control files in directory order; file i has inode kFirstControlIno+i.
std::span<const ControlFile> ControlFiles();
// nullptr when `ino` is not a control file.
const ControlFile* ControlFileByIno(fuse_ino_t ino);

// Sets create, mknod, mkdir, unlink, rmdir, symlink, rename and link, each
// failing with EPERM: nothing is ever created or removed (namespace_refusals.cc).
void SetNamespaceRefusals(fuse_lowlevel_ops* ops);

struct MountSettings {
  std::string disk_name;  // one path component, not "control"
  uid_t owner_uid = 0;    // the mounting user: owns every inode
  gid_t owner_gid = 0;
  bool read_only = false;  // -o ro: every write fails with EROFS
  ScrubOptions scrub;      // rate and chunk of control/scrub scans
  // The text of control/status.json (the JSON of `remapfs status --json`,
  // health.h); unset: built from Sample() alone, without the live page's
  // identity and error history.
  std::function<std::string()> status_json;
  // Called after every write to a control file (add_bad, remove, inject,
  // scrub), done or failed: the live page shows its effect at once rather
  // than at the next periodic publish. Unset: nothing.
  std::function<void()> status_changed;
};

class RemapFs {
 public:
  RemapFs(Volume* volume, FaultyDevice* main_faults, MountSettings settings);

  // The callback table for fuse_session_new; userdata must be a RemapFs*.
  static const fuse_lowlevel_ops& Operations();

  Volume& volume() const { return *volume_; }
  // Unmount: stops a running scrub so that the final sync comes last.
  void StopScrub() { scrubber_.Stop(); }
  FaultyDevice& main_faults() const { return *main_faults_; }
  const MountSettings& settings() const { return settings_; }
  // What the live status page shows now: the Volume's Stats (which never
  // wait for the table lock), the scrub's progress and the inject latency.
  LiveStats Sample() const;

  // Attributes of a fixed inode; false when `ino` does not exist. A
  // readable control file reports the length of its current text.
  bool Attr(fuse_ino_t ino, struct stat* st) const;
  // 0 when the caller may open `ino` with `flags`, else -EACCES / -EROFS.
  // Needed because without -o default_permissions the kernel checks
  // nothing.
  int CheckOpenAccess(fuse_req_t req, fuse_ino_t ino, int flags) const;
  // True for root and the mounting user.
  bool IsOwnerOrRoot(fuse_req_t req) const;

  // Disk file operations (disk_file.cc). Each returns 0 after replying or
  // a negative errno for RunFuseCallback to send.
  int DiskOpen(fuse_req_t req, fuse_file_info* fi);
  int DiskRead(fuse_req_t req, size_t size, off_t off);
  int DiskWrite(fuse_req_t req, const char* buf, size_t size, off_t off);
  int DiskSync(fuse_req_t req);

  // Control file operations (control_files.cc), same convention.
  int ControlOpen(fuse_req_t req, const ControlFile& file, fuse_file_info* fi);
  int ControlRead(fuse_req_t req, const ControlFile& file, size_t size, off_t off,
                  fuse_file_info* fi);
  int ControlWrite(fuse_req_t req, const ControlFile& file, const char* buf, size_t size);
  void ControlRelease(fuse_file_info* fi);

 private:
  // The current text of a readable control file.
  std::string ControlText(ControlKind kind) const;
  Status ApplyControlWrite(ControlKind kind, std::string_view text);
  Status ApplyScrubCommand(std::string_view text);
  std::string ScrubText() const;             // control/scrub
  std::string ScrubStatusLines() const;      // the scrub_* lines of status
  std::string StatusJsonFromSample() const;  // control/status.json without a page

  Volume* volume_;
  FaultyDevice* main_faults_;
  MountSettings settings_;
  timespec mount_time_{};
  // Declared after volume_ and settings_, which it is built from.
  Scrubber scrubber_{volume_, settings_.scrub};
};

}  // namespace remapfs::fuse
