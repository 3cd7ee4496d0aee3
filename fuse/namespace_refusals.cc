// The callbacks that would change the namespace. The tree is fixed (SPEC
// "The mount"), so each fails with EPERM through the one translation point.
// Left unset, libfuse would answer ENOSYS, which tools report as "function
// not implemented" rather than "operation not permitted".
#include <cerrno>

#include "fuse_callback.h"
#include "remapfs_fs.h"

namespace remapfs::fuse {
namespace {

int RefuseNamespaceChange() { return -EPERM; }

void OpCreate(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  RunFuseCallback(req, "create", RefuseNamespaceChange);
}

void OpMknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
  RunFuseCallback(req, "mknod", RefuseNamespaceChange);
}

void OpMkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) {
  RunFuseCallback(req, "mkdir", RefuseNamespaceChange);
}

void OpUnlink(fuse_req_t req, fuse_ino_t, const char*) {
  RunFuseCallback(req, "unlink", RefuseNamespaceChange);
}

void OpRmdir(fuse_req_t req, fuse_ino_t, const char*) {
  RunFuseCallback(req, "rmdir", RefuseNamespaceChange);
}

void OpSymlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
  RunFuseCallback(req, "symlink", RefuseNamespaceChange);
}

void OpRename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned int) {
  RunFuseCallback(req, "rename", RefuseNamespaceChange);
}

void OpLink(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
  RunFuseCallback(req, "link", RefuseNamespaceChange);
}

}  // namespace

void SetNamespaceRefusals(fuse_lowlevel_ops* ops) {
  ops->create = OpCreate;
  ops->mknod = OpMknod;
  ops->mkdir = OpMkdir;
  ops->unlink = OpUnlink;
  ops->rmdir = OpRmdir;
  ops->symlink = OpSymlink;
  ops->rename = OpRename;
  ops->link = OpLink;
}

}  // namespace remapfs::fuse
