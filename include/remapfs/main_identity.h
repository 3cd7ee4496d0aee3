// The identity of a MAIN: a short text that stays the same while MAIN is
// the same disk or file, and differs for another one of the same size. A
// spare records it at format (format.h) and refuses any other MAIN, since
// remapped sectors of one disk served inside another are silent corruption.
//
//   regular file   "file:ino=<inode>[,btime=<s>.<ns>]"  the inode and birth
//                  time survive `mv` within a filesystem; a copy is another
//                  file (rebind it deliberately)
//   block device   "disk:<wwid or serial>" from sysfs; a partition adds
//                  ",part-start=<sector>"; a loop device is
//                  "loop:" + its backing file's identity; a device-mapper
//                  device is "dm:<uuid>"
//   anything else  "" (unknown: only MAIN's size is checked)
//
// Thread safety: a pure function of the file system's state.
#pragma once

#include <string>

#include "remapfs/metadata.h"
#include "remapfs/status.h"

namespace remapfs {

// Fails only when `path` cannot be examined at all.
Status MainIdentity(const std::string& path, std::string* identity);

// MAIN's binding (metadata.h): its identity and its absolute path, for
// recording at format and checking at mount and check.
Status BindingOfMain(const std::string& main_path, MainBinding* out);

// True when both paths name one file (same inode, or same real path): MAIN
// and SPARE must not.
bool SameFile(const std::string& a, const std::string& b);

}  // namespace remapfs
