#include "mount_point.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace remapfs::cli {
namespace {

constexpr std::string_view kOurFsType = "fuse.remapfs";

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountInfo(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out += static_cast<char>(std::strtol(field.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The fstype of the topmost mount at `absolute`, or "" when none.
std::string MountedFsType(const std::string& absolute) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, found;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point, word;
    fields >> id >> parent >> devno >> root >> point;
    if (UnescapeMountInfo(point) != absolute) continue;
    while (fields >> word && word != "-") {
    }
    std::string fstype;
    fields >> fstype;
    found = fstype;  // later lines are mounted on top of earlier ones
  }
  return found;
}

// realpath() of a dead mount fails at its last component: resolve the
// parent and append the name.
std::string AbsoluteOfDead(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  char resolved[PATH_MAX];
  if (name == "." || name == ".." || realpath(parent.c_str(), resolved) == nullptr) return "";
  std::string abs = resolved;
  return abs == "/" ? "/" + name : abs + "/" + name;
}

}  // namespace

MountPoint InspectMountPoint(const std::string& path) {
  MountPoint mp;
  struct stat st {};
  char resolved[PATH_MAX];
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode) && realpath(path.c_str(), resolved) != nullptr) {
      mp.state = MountPoint::State::kDirectory;
      mp.absolute = resolved;
    }
    return mp;
  }
  mp.error = errno;
  if (mp.error != ENOTCONN) return mp;
  mp.absolute = AbsoluteOfDead(path);
  mp.fstype = mp.absolute.empty() ? "" : MountedFsType(mp.absolute);
  if (mp.fstype == kOurFsType) {
    mp.state = MountPoint::State::kDeadRemapfs;
  } else if (mp.fstype.rfind("fuse", 0) == 0) {
    mp.state = MountPoint::State::kDeadOther;
  }
  return mp;
}

std::string DescribeMountPointProblem(const std::string& path, const MountPoint& mp) {
  switch (mp.state) {
    case MountPoint::State::kDeadRemapfs:
      return fmt::format(
          "MOUNTPOINT '{}' is a dead remapfs mount (its daemon is gone: {}); clear it with "
          "'fusermount3 -u {}', or mount with --clear-dead-mount",
          path, std::strerror(ENOTCONN), mp.absolute);
    case MountPoint::State::kDeadOther:
      return fmt::format(
          "MOUNTPOINT '{}' is a dead {} mount, not remapfs's ({}); remapfs does not clear it: "
          "'fusermount3 -u {}' does, if nothing else uses it",
          path, mp.fstype, std::strerror(ENOTCONN), mp.absolute);
    case MountPoint::State::kDirectory: return "";
    case MountPoint::State::kMissing: break;
  }
  if (mp.error != 0) {
    return fmt::format("MOUNTPOINT '{}' is not an existing directory ({})", path,
                       std::strerror(mp.error));
  }
  return fmt::format("MOUNTPOINT '{}' is not an existing directory", path);
}

Status ClearDeadMount(const MountPoint& mp) {
  if (mp.state != MountPoint::State::kDeadRemapfs) {
    return Status::InvalidArgument("not a dead remapfs mount: " + mp.absolute);
  }
  if (getuid() == 0) {
    if (umount2(mp.absolute.c_str(), MNT_DETACH) != 0) {
      return Status::FromErrno(errno, "umount2 " + mp.absolute);
    }
  } else {
    pid_t pid = fork();
    if (pid == 0) {
      execlp("fusermount3", "fusermount3", "-u", "-z", mp.absolute.c_str(), nullptr);
      _exit(127);
    }
    int wstatus = 0;
    if (pid < 0 || waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
        WEXITSTATUS(wstatus) != 0) {
      return Status::InvalidArgument("'fusermount3 -u -z " + mp.absolute + "' failed");
    }
  }
  if (InspectMountPoint(mp.absolute).state != MountPoint::State::kDirectory) {
    return Status::InvalidArgument("no directory left at " + mp.absolute + " after detaching");
  }
  return Status::Ok();
}

}  // namespace remapfs::cli
