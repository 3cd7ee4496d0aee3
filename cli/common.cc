#include "common.h"

#include "remapfs/main_identity.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "remapfs/sector_list.h"

namespace remapfs::cli {

Status FileLock::Acquire(const std::string& path, bool exclusive, std::unique_ptr<FileLock>* out) {
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, O_RDONLY, &fd));
  if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Busy("'" + path + "' is in use by another remapfs process");
    }
    return Status::FromErrno(err, "lock '" + path + "'");
  }
  out->reset(new FileLock(fd));
  return Status::Ok();
}

FileLock::~FileLock() { close(fd_); }

std::string DescribeOpenError(std::string_view role, const std::string& path, const Status& st) {
  if (st.code() == Status::Code::kBusy) {
    return fmt::format("{} '{}' is in use by another remapfs process "
                       "(unmount it first)",
                       role, path);
  }
  // OpenStorageFile's messages start with the quoted path.
  if (st.message().rfind("'" + path + "'", 0) == 0) {
    return fmt::format("{} {}", role, st.message());
  }
  return fmt::format("cannot open {} '{}': {}", role, path, st.message());
}

Status DeviceSize(const std::string& path, uint64_t* bytes) {
  FileDeviceOptions options;
  options.read_only = true;
  options.exclusive_lock = false;
  std::unique_ptr<BlockDevice> device;
  REMAPFS_RETURN_IF_ERROR(OpenFileDevice(path, options, &device));
  *bytes = device->Size();
  return Status::Ok();
}

std::string DescribeMetadataError(const std::string& path, BlockDevice* device, const Status& st) {
  if (!MetadataStore::LooksFormatted(device)) {
    return fmt::format("'{}' is not a remapfs spare (no metadata copy found; "
                       "create one with 'remapfs format')",
                       path);
  }
  if (st.IsCorruption()) {
    return fmt::format("'{}' has no valid metadata copy: {}", path, st.message());
  }
  return fmt::format("cannot load the metadata of '{}': {}", path, st.message());
}

Status OpenOfflineSpare(const std::string& path, bool repair, OfflineSpare* out,
                        std::string* message, const ProgressFn& progress) {
  Status st = FileLock::Acquire(path, /*exclusive=*/repair, &out->lock);
  if (!st.ok()) {
    *message = DescribeOpenError("SPARE", path, st);
    return st;
  }
  FileDeviceOptions options;
  options.read_only = !repair;
  options.exclusive_lock = false;  // our FileLock already guards it
  st = OpenFileDevice(path, options, &out->device);
  if (!st.ok()) {
    *message = DescribeOpenError("SPARE", path, st);
    return st;
  }
  MetadataOpenOptions open_options;
  open_options.repair = repair;
  open_options.verify_table = false;  // check reports broken entries itself
  open_options.progress = progress;
  st = MetadataStore::Open(out->device.get(), open_options, &out->store);
  if (!st.ok()) *message = DescribeMetadataError(path, out->device.get(), st);
  return st;
}

namespace {

Status OpenLockedDevice(std::string_view role, const std::string& path,
                        std::unique_ptr<BlockDevice>* out, std::string* message) {
  FileDeviceOptions options;
  options.exclusive_lock = true;  // what a mount holds: fails while mounted
  Status st = OpenFileDevice(path, options, out);
  if (!st.ok()) *message = DescribeOpenError(role, path, st);
  return st;
}

}  // namespace

Status OpenOfflineVolume(const std::string& main_path, const std::string& spare_path,
                         std::unique_ptr<Volume>* out, std::string* message) {
  if (SameFile(main_path, spare_path)) {
    *message = "MAIN and SPARE are the same file";
    return Status::InvalidArgument(*message);
  }
  std::unique_ptr<BlockDevice> main, spare;
  REMAPFS_RETURN_IF_ERROR(OpenLockedDevice("MAIN", main_path, &main, message));
  REMAPFS_RETURN_IF_ERROR(OpenLockedDevice("SPARE", spare_path, &spare, message));
  VolumeOptions volume_options;
  Status st = BindingOfMain(main_path, &volume_options.main.emplace());
  if (!st.ok()) {
    *message = "cannot identify MAIN: " + st.message();
    return st;
  }
  // Read once, as a mount does (OpenMountStack): the checks of a wrong
  // spare come before any repair, so a refused spare is left unwritten.
  std::unique_ptr<MetadataStore> metadata;
  st = MetadataStore::Open(spare.get(), Volume::MetadataOptionsFor(volume_options, main->Size()),
                           &metadata);
  if (!st.ok()) {
    *message = DescribeMetadataError(spare_path, spare.get(), st);
    return st;
  }
  st = Volume::Open(std::move(main), std::move(spare), std::move(metadata), volume_options, out);
  if (!st.ok()) *message = "cannot open the volume: " + st.message();
  return st;
}

std::optional<std::string> ParseBlockSizeOption(const ParsedArgs& parsed, BadBlockFormat format,
                                                uint32_t* block_size) {
  auto value = parsed.Value("--block-size");
  if (!value) return std::nullopt;
  if (format != BadBlockFormat::kBadblocks) {
    return "--block-size applies to the badblocks format only";
  }
  uint64_t bytes = 0;
  Status st = ParseByteSize(*value, &bytes);
  if (st.ok()) st = CheckBadBlocksBlockSize(bytes);
  if (!st.ok()) return "--block-size: " + st.message();
  *block_size = static_cast<uint32_t>(bytes);
  return std::nullopt;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  size_t unit = 0;
  uint64_t value = bytes;
  while (unit + 1 < std::size(kUnits) && value >= 1024 && value % 1024 == 0) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{} {}", value, kUnits[unit]);
}

}  // namespace remapfs::cli
