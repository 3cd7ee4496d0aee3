// OpenMountStack and the --direct-io choice: see include/remapfs/mount_stack.h.
#include "remapfs/mount_stack.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "remapfs/aligned_device.h"
#include "remapfs/main_identity.h"
#include "remapfs/metadata.h"

namespace remapfs {
namespace {

Status OpenDevice(const DeviceOpener& open, const std::string& path, bool read_only, bool direct_io,
                  std::unique_ptr<BlockDevice>* out) {
  FileDeviceOptions options;
  options.read_only = read_only;
  options.direct_io = direct_io;
  options.exclusive_lock = true;  // held until the stack is destroyed
  return open ? open(path, options, out) : OpenFileDevice(path, options, out);
}

void LogIoMode(std::string_view role, const std::string& path, const DeviceIo& io) {
  if (io.direct) {
    spdlog::info("{} {}: direct I/O (O_DIRECT, {}-byte alignment; {})", role, path, io.alignment,
                 io.reason);
  } else {
    spdlog::info("{} {}: buffered I/O ({})", role, path, io.reason);
  }
}

// Records where OpenMountStack stopped; returns `st`.
Status Stop(MountStackFailure* failure, MountStackStep step, Status st,
            std::unique_ptr<BlockDevice> spare = nullptr) {
  if (failure != nullptr) {
    failure->step = step;
    failure->status = st;
    failure->spare = std::move(spare);
  }
  return st;
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

Status OpenDeviceForMount(std::string_view role, const std::string& path, bool read_only,
                          const DirectIoChoice& choice, const DeviceOpener& open,
                          std::unique_ptr<BlockDevice>* out, DeviceIo* io) {
  bool direct = choice.direct;
  std::string reason = choice.reason;
  Status st = OpenDevice(open, path, read_only, direct, out);
  if (!st.ok() && direct && choice.mode == DirectIoMode::kAuto && st.IsInvalidArgument()) {
    spdlog::warn("{} {}: {}; using buffered I/O", role, path, st.message());
    direct = false;
    reason = "--direct-io auto, O_DIRECT refused";
    st = OpenDevice(open, path, read_only, direct, out);
  }
  if (!st.ok()) return st;
  auto* aligned = dynamic_cast<AlignedDevice*>(out->get());
  DeviceIo got{direct, aligned != nullptr ? aligned->alignment() : 0, std::move(reason)};
  LogIoMode(role, path, got);
  if (io != nullptr) *io = std::move(got);
  return st;
}

Status OpenMountStack(const MountStackRequest& request, MountStack* out,
                      MountStackFailure* failure) {
  using Step = MountStackStep;
  if (SameFile(request.main_path, request.spare_path)) {
    return Stop(failure, Step::kSameFile,
                Status::InvalidArgument("MAIN and SPARE are the same file"));
  }
  const DirectIoChoice choice = ChooseDirectIo(request.direct_io, request.main_path);
  MountStack stack;
  std::unique_ptr<BlockDevice> main, spare;
  Status st = OpenDeviceForMount("MAIN", request.main_path, request.read_only, choice,
                                 request.open_device, &main, &stack.main_io);
  if (!st.ok()) return Stop(failure, Step::kOpenMain, st);
  st = OpenDeviceForMount("SPARE", request.spare_path, false, choice, request.open_device, &spare,
                          &stack.spare_io);
  if (!st.ok()) return Stop(failure, Step::kOpenSpare, st);

  VolumeOptions options = request.volume;
  // Narrowing a failing request stops at the smallest request MAIN serves
  // on its own: with O_DIRECT, its alignment (buffered I/O: the sector).
  if (stack.main_io.alignment != 0) options.main_io_unit = stack.main_io.alignment;
  st = BindingOfMain(request.main_path, &options.main.emplace());
  if (!st.ok()) return Stop(failure, Step::kIdentifyMain, st);

  // Read once: the fault layer below the Volume needs the sector size
  // before the Volume exists, and the Volume takes the store as loaded.
  std::unique_ptr<MetadataStore> metadata;
  st = MetadataStore::Open(spare.get(), Volume::MetadataOptionsFor(options, main->Size()),
                           &metadata);
  if (!st.ok()) return Stop(failure, Step::kMetadata, st, std::move(spare));
  const uint32_t sector_size = metadata->geometry().sector_size;
  auto faulty = std::make_unique<FaultyDevice>(std::move(main), sector_size);
  stack.main_faults = faulty.get();
  st = Volume::Open(std::move(faulty), std::move(spare), std::move(metadata), options,
                    &stack.volume);
  if (!st.ok()) return Stop(failure, Step::kVolume, st);
  spdlog::info("error recovery: at most {} ms per failing request, {} read retries, "
               "narrowed down to {}-byte units of MAIN",
               options.error_recovery_time.count(), options.read_retries,
               std::max(options.main_io_unit, sector_size));
  *out = std::move(stack);
  return Status::Ok();
}

}  // namespace remapfs
