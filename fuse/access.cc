// Permission checks done by the filesystem itself: without
// -o default_permissions the kernel checks no mode bits at all, and control
// files must accept writes from the mounting user and root only (SPEC).
#include <fcntl.h>

#include "remapfs_fs.h"

namespace remapfs::fuse {

bool RemapFs::IsOwnerOrRoot(fuse_req_t req) const {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return ctx->uid == 0 || ctx->uid == settings_.owner_uid;
}

int RemapFs::CheckOpenAccess(fuse_req_t req, fuse_ino_t ino, int flags) const {
  int access_mode = flags & O_ACCMODE;
  bool wants_read = access_mode != O_WRONLY;
  bool wants_write = access_mode != O_RDONLY;
  if (wants_write && settings_.read_only) return -EROFS;
  struct stat st {};
  if (!Attr(ino, &st)) return -ENOENT;
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (ctx->uid == 0) return 0;
  unsigned bits = st.st_mode & 07;
  if (ctx->uid == settings_.owner_uid) {
    bits = (st.st_mode >> 6) & 07;
  } else if (ctx->gid == settings_.owner_gid) {
    bits = (st.st_mode >> 3) & 07;
  }
  if ((wants_read && !(bits & 04)) || (wants_write && !(bits & 02))) {
    return -EACCES;
  }
  return 0;
}

}  // namespace remapfs::fuse
