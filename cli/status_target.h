// What `remapfs status TARGET` looks at: the live page of the mount TARGET
// names (a mountpoint, or the SPARE of a mounted volume), or else the
// figures an unmounted SPARE records.
#pragma once

#include <string>

#include "remapfs/health.h"

namespace remapfs::cli {

// The path TARGET names, absolute, without resolving its last component:
// the parent is canonicalized, the basename appended. So a stuck FUSE
// mountpoint is never stat'ed (that could hang).
std::string PathWithoutTouching(const std::string& target);

// Fills `out` for TARGET. On failure `message` says why, in user terms.
Status ResolveStatusTarget(const std::string& target, VolumeStatus* out, std::string* message);

}  // namespace remapfs::cli
