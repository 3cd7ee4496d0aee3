// MainIdentity: see include/remapfs/main_identity.h for what it returns and
// why. Block devices are identified through sysfs, as udev does for its
// /dev/disk/by-id links.
#include "remapfs/main_identity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <climits>
#include <cstdlib>

#include <fstream>
#include <string>

namespace remapfs {
namespace {

// The first line of a sysfs attribute, trimmed; empty when absent.
std::string ReadAttribute(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  const auto begin = line.find_first_not_of(" \t");
  const auto end = line.find_last_not_of(" \t\r");
  return begin == std::string::npos ? "" : line.substr(begin, end - begin + 1);
}

Status FileIdentity(const std::string& path, std::string* identity) {
  struct statx sx {};
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_INO | STATX_BTIME, &sx) != 0)
    return Status::FromErrno(errno, "stat '" + path + "'");
  *identity = "file:ino=" + std::to_string(sx.stx_ino);
  if (sx.stx_mask & STATX_BTIME)
    *identity += ",btime=" + std::to_string(sx.stx_btime.tv_sec) + "." +
                 std::to_string(sx.stx_btime.tv_nsec);
  return Status::Ok();
}

// A whole disk's stable id from its sysfs directory, or "".
std::string DiskId(const std::string& dir) {
  for (const char* attr : {"wwid", "device/wwid", "device/serial", "serial"}) {
    const std::string value = ReadAttribute(dir + "/" + attr);
    if (!value.empty()) return "disk:" + value;
  }
  const std::string dm_uuid = ReadAttribute(dir + "/dm/uuid");
  if (!dm_uuid.empty()) return "dm:" + dm_uuid;
  const std::string backing = ReadAttribute(dir + "/loop/backing_file");
  std::string file_id;
  if (!backing.empty() && FileIdentity(backing, &file_id).ok()) return "loop:" + file_id;
  return "";
}

std::string BlockDeviceIdentity(dev_t rdev) {
  const std::string dir = "/sys/dev/block/" + std::to_string(major(rdev)) + ":" +
                          std::to_string(minor(rdev));
  const std::string start = ReadAttribute(dir + "/partition").empty()
                                ? ""
                                : ReadAttribute(dir + "/start");
  if (start.empty()) return DiskId(dir);
  const std::string disk = DiskId(dir + "/..");
  return disk.empty() ? "" : disk + ",part-start=" + start;
}

}  // namespace

Status MainIdentity(const std::string& path, std::string* identity) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat '" + path + "'");
  identity->clear();
  if (S_ISREG(st.st_mode)) return FileIdentity(path, identity);
  if (S_ISBLK(st.st_mode)) *identity = BlockDeviceIdentity(st.st_rdev);
  return Status::Ok();
}

Status BindingOfMain(const std::string& main_path, MainBinding* out) {
  REMAPFS_RETURN_IF_ERROR(MainIdentity(main_path, &out->id));
  char resolved[PATH_MAX];
  out->path = realpath(main_path.c_str(), resolved) ? resolved : main_path;
  return Status::Ok();
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
      sa.st_ino == sb.st_ino) {
    return true;
  }
  char ra[PATH_MAX], rb[PATH_MAX];
  return realpath(a.c_str(), ra) && realpath(b.c_str(), rb) && std::string(ra) == rb;
}

}  // namespace remapfs
