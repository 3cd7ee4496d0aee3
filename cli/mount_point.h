// MOUNTPOINT of `remapfs mount`: an existing directory, or the dead FUSE
// mount a killed daemon left behind (every access fails with ENOTCONN
// until it is unmounted), which only --clear-dead-mount may detach, and
// only when it is remapfs's own (fstype fuse.remapfs).
#pragma once

#include <string>

#include "remapfs/status.h"

namespace remapfs::cli {

struct MountPoint {
  enum class State { kDirectory, kDeadRemapfs, kDeadOther, kMissing };
  State state = State::kMissing;
  std::string absolute;  // the path without symlinks, as mountinfo has it
  std::string fstype;    // of a dead mount, from /proc/self/mountinfo
  int error = 0;         // errno of stat when kMissing (0: not a directory)
};

// Looks at `path`; never changes anything.
MountPoint InspectMountPoint(const std::string& path);

// The refusal for anything but kDirectory, naming `path` as the user gave
// it and, for a dead mount, how to clear it.
std::string DescribeMountPointProblem(const std::string& path, const MountPoint& mp);

// Detaches the dead remapfs mount at `mp.absolute` (umount2 MNT_DETACH as
// root, `fusermount3 -u -z` otherwise), then checks that a directory is
// left. Only for kDeadRemapfs; the reason when it could not.
Status ClearDeadMount(const MountPoint& mp);

}  // namespace remapfs::cli
