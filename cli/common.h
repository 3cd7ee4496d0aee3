// Helpers shared by the subcommands: advisory locks that cooperate with a
// mounted remapfs, opening a spare or a volume offline, the user-facing
// reasons an open failed, and small formatting utilities.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "args.h"
#include "remapfs/bad_block_lists.h"
#include "remapfs/block_device.h"
#include "remapfs/main_identity.h"  // BindingOfMain, SameFile
#include "remapfs/metadata.h"
#include "remapfs/status.h"
#include "remapfs/volume.h"

namespace remapfs::cli {

// A flock() held on its own open file description for the object's
// lifetime. A mount holds LOCK_EX on MAIN and SPARE, so a shared lock here
// fails while they are mounted, and a mount fails while we hold one.
class FileLock {
 public:
  // Busy when another process holds a conflicting lock; NotFound / IoError
  // naming `path` when it cannot be opened.
  static Status Acquire(const std::string& path, bool exclusive, std::unique_ptr<FileLock>* out);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// A spare opened for offline inspection (info, check): shared lock,
// read-only device, metadata loaded without repair.
struct OfflineSpare {
  std::unique_ptr<FileLock> lock;
  std::unique_ptr<BlockDevice> device;
  std::unique_ptr<MetadataStore> store;
};

// Opens `path` as OfflineSpare. With `repair`, the lock is exclusive, the
// device writable and stale or corrupt copies are rewritten. On failure,
// `message` says what is wrong in user terms (in use, not a remapfs spare,
// no valid copy, ...).
// `progress`: MetadataOpenOptions::progress.
Status OpenOfflineSpare(const std::string& path, bool repair, OfflineSpare* out,
                        std::string* message, const ProgressFn& progress = {});

// MAIN and SPARE opened for an offline change (mark): both writable, each
// under the exclusive lock a mount takes (so neither may be mounted), the
// spare's metadata checked to belong to MAIN. On failure, `message` says
// what is wrong in user terms.
Status OpenOfflineVolume(const std::string& main_path, const std::string& spare_path,
                         std::unique_ptr<Volume>* out, std::string* message);

// --block-size of `mark` and `info --export`: only with the badblocks
// format; a power of two from 512 to 1 MiB (K/M suffixes allowed). Leaves
// `block_size` alone when absent; returns the usage error, if any.
std::optional<std::string> ParseBlockSizeOption(const ParsedArgs& parsed, BadBlockFormat format,
                                                uint32_t* block_size);

// The user-facing reason MetadataStore::Open failed on `device` (at `path`):
// not a remapfs spare, no valid copy, or the core's own message.
std::string DescribeMetadataError(const std::string& path, BlockDevice* device, const Status& st);

// Why MAIN or SPARE (`role`) at `path` could not be opened or locked, in
// user terms: "SPARE 'x' is a FIFO, not a regular file or block device",
// "MAIN 'x' is in use by another remapfs process (unmount it first)".
std::string DescribeOpenError(std::string_view role, const std::string& path, const Status& st);

// The size of a file or block device, opened read-only without a lock.
Status DeviceSize(const std::string& path, uint64_t* bytes);

// "8 MiB", "512 KiB", "1000 B": exact when the size is a whole unit.
std::string HumanBytes(uint64_t bytes);

}  // namespace remapfs::cli
