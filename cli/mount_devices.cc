#include "mount_devices.h"

#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "remapfs/aligned_device.h"

namespace remapfs::cli {
namespace {

void LogIoMode(std::string_view role, const std::string& path,
               BlockDevice* device, std::string_view reason) {
  if (auto* aligned = dynamic_cast<AlignedDevice*>(device)) {
    spdlog::info("{} {}: direct I/O (O_DIRECT, {}-byte alignment; {})", role, path,
                 aligned->alignment(), reason);
  } else {
    spdlog::info("{} {}: buffered I/O ({})", role, path, reason);
  }
}

Status OpenDevice(const std::string& path, bool read_only, bool direct_io,
                  std::unique_ptr<BlockDevice>* out) {
  FileDeviceOptions options;
  options.read_only = read_only;
  options.direct_io = direct_io;
  options.exclusive_lock = true;  // held by the daemon until unmount
  return OpenFileDevice(path, options, out);
}

}  // namespace

bool ParseDirectIoMode(std::string_view text, DirectIoMode* out) {
  if (text == "auto") *out = DirectIoMode::kAuto;
  else if (text == "on") *out = DirectIoMode::kOn;
  else if (text == "off") *out = DirectIoMode::kOff;
  else return false;
  return true;
}

DirectIoChoice ChooseDirectIo(DirectIoMode mode, const std::string& main_path) {
  if (mode == DirectIoMode::kOn) return {mode, true, "--direct-io on"};
  if (mode == DirectIoMode::kOff) return {mode, false, "--direct-io off"};
  struct stat st {};
  bool block = stat(main_path.c_str(), &st) == 0 && S_ISBLK(st.st_mode);
  return {mode, block,
          block ? "--direct-io auto, MAIN is a block device"
                : "--direct-io auto, MAIN is not a block device"};
}

Status OpenDeviceForMount(std::string_view role, const std::string& path,
                          bool read_only, const DirectIoChoice& choice,
                          std::unique_ptr<BlockDevice>* out) {
  Status st = OpenDevice(path, read_only, choice.direct, out);
  if (!st.ok() && choice.direct && choice.mode == DirectIoMode::kAuto &&
      st.IsInvalidArgument()) {
    spdlog::warn("{} {}: {}; using buffered I/O", role, path, st.message());
    st = OpenDevice(path, read_only, false, out);
    if (st.ok()) LogIoMode(role, path, out->get(), "--direct-io auto, O_DIRECT refused");
    return st;
  }
  if (st.ok()) LogIoMode(role, path, out->get(), choice.reason);
  return st;
}

}  // namespace remapfs::cli
