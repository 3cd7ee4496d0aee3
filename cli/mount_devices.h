// How `remapfs mount` opens MAIN and SPARE: --direct-io's choice between
// O_DIRECT and buffered I/O, and the log line saying which each device got.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "remapfs/block_device.h"
#include "remapfs/status.h"

namespace remapfs::cli {

// --direct-io: O_DIRECT makes an I/O error belong to the request that
// caused it; buffered I/O reports a failed writeback only at the next fsync.
enum class DirectIoMode { kAuto, kOn, kOff };

// False unless `text` is auto, on or off.
bool ParseDirectIoMode(std::string_view text, DirectIoMode* out);

struct DirectIoChoice {
  DirectIoMode mode;
  bool direct;         // open MAIN and SPARE with O_DIRECT
  std::string reason;  // for the log
};

// auto: O_DIRECT when MAIN is a block device (a real, possibly failing,
// disk), buffered for an image file.
DirectIoChoice ChooseDirectIo(DirectIoMode mode, const std::string& main_path);

// Opens MAIN or SPARE (`role`) as `choice` asks, exclusively locked, and
// logs which I/O mode it got (with O_DIRECT, the alignment). In auto mode a
// file whose filesystem refuses O_DIRECT (tmpfs) is opened buffered, with a
// warning; `--direct-io on` makes that an error.
Status OpenDeviceForMount(std::string_view role, const std::string& path,
                          bool read_only, const DirectIoChoice& choice,
                          std::unique_ptr<BlockDevice>* out);

}  // namespace remapfs::cli
