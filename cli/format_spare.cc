// remapfs format, the SPARE side: refuse what format must not overwrite,
// then give the spare its real blocks on the host and wipe it.
//
// A refusal changes nothing. Format never shrinks an existing file, with or
// without --force: the bytes past a smaller --spare-size would be lost, and
// resize-spare exists for spares.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "format_plan.h"
#include "progress.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/spare_file.h"

namespace remapfs::cli {
namespace {

std::optional<std::string> CheckExistingSpare(const FormatRequest& req, const struct stat& st,
                                              FormatPlan* plan) {
  if (SameFile(req.main_path, req.spare_path)) {
    return "MAIN and SPARE are the same file";
  }
  Status s = CheckStorageType(req.spare_path, st.st_mode);
  if (s.ok()) s = FileLock::Acquire(req.spare_path, true, &plan->spare_lock);
  if (!s.ok()) return DescribeOpenError("SPARE", req.spare_path, s);
  s = DeviceSize(req.spare_path, &plan->spare_current);
  if (!s.ok()) return DescribeOpenError("SPARE", req.spare_path, s);
  plan->spare_target = req.spare_size.value_or(plan->spare_current);
  if (S_ISBLK(st.st_mode) && plan->spare_target != plan->spare_current) {
    return "--spare-size cannot resize a block device; omit it";
  }
  if (plan->spare_target < plan->spare_current) {
    return fmt::format("SPARE '{}' is {} bytes; format never shrinks a file, "
                       "so --spare-size {} is refused (use a new file, or "
                       "resize-spare once it is formatted)",
                       req.spare_path, plan->spare_current, plan->spare_target);
  }
  return std::nullopt;
}

std::optional<std::string> CheckGeometry(const FormatRequest& req, FormatPlan* plan) {
  const uint32_t ss = req.sector_size;
  if (plan->spare_target % ss != 0) {
    return fmt::format("{} {} bytes is not a multiple of the sector size {}",
                       req.spare_size ? "--spare-size" : "SPARE size", plan->spare_target, ss);
  }
  const uint64_t sectors = plan->spare_target / ss;
  if (sectors < format::kMinSpareSectors) {
    return fmt::format("SPARE is too small: {} sectors, at least {} needed "
                       "({})",
                       sectors, format::kMinSpareSectors,
                       HumanBytes(format::kMinSpareSectors * ss));
  }
  plan->geometry.spare_sectors = sectors;
  Status s = ComputePlacement(ss, sectors, req.strategy, &plan->geometry.placement);
  if (!s.ok()) return "cannot place the metadata: " + s.message();
  return std::nullopt;
}

// Without --force, an existing SPARE must hold nothing: no remapfs spare
// (today's message), no signature libblkid knows, not one non-zero byte.
std::optional<std::string> CheckSpareContent(const FormatRequest& req, FormatPlan* plan) {
  plan->spare_known_zero = plan->spare_current == 0;
  if (plan->spare_known_zero || req.force) return std::nullopt;
  FileDeviceOptions options;
  options.read_only = true;
  options.exclusive_lock = false;  // plan->spare_lock guards it
  std::unique_ptr<BlockDevice> device;
  Status s = OpenFileDevice(req.spare_path, options, &device);
  if (!s.ok()) return DescribeOpenError("SPARE", req.spare_path, s);
  if (MetadataStore::LooksFormatted(device.get())) {
    return "SPARE '" + req.spare_path +
           "' already holds remapfs metadata; use --force to overwrite it";
  }
  std::string found;
  s = FindForeignData(req.spare_path, plan->spare_current, &found);
  if (!s.ok()) return "cannot read SPARE: " + s.message();
  if (!found.empty()) {
    return "SPARE '" + req.spare_path + "' holds " + found +
           "; format would destroy it (use --force to overwrite it)";
  }
  plan->spare_known_zero = true;
  return std::nullopt;
}

}  // namespace

std::optional<std::string> CheckSpare(const FormatRequest& req, FormatPlan* plan) {
  struct stat st {};
  plan->spare_exists = stat(req.spare_path.c_str(), &st) == 0;
  if (plan->spare_exists) {
    if (auto err = CheckExistingSpare(req, st, plan)) return err;
  } else if (errno != ENOENT) {
    return "SPARE '" + req.spare_path + "' cannot be examined: " + strerror(errno);
  } else if (!req.spare_size) {
    return "SPARE '" + req.spare_path + "' does not exist; give --spare-size to create it";
  } else {
    plan->spare_target = *req.spare_size;
  }
  if (auto err = CheckGeometry(req, plan)) return err;
  return CheckSpareContent(req, plan);
}

Status PrepareSpareFile(const FormatRequest& req, FormatPlan* plan) {
  const std::string& path = req.spare_path;
  if (!plan->spare_exists) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "create '" + path + "'");
    close(fd);
    plan->spare_created = true;
    REMAPFS_RETURN_IF_ERROR(FileLock::Acquire(path, true, &plan->spare_lock));
  }
  // Allocation first: refused, it leaves the old content in place. Each
  // bar is erased when its scope ends, before any message is printed.
  {
    ProgressBar bar("allocating spare", ProgressUnit::kBytes);
    REMAPFS_RETURN_IF_ERROR(
        AllocateSpareFile(path, plan->spare_target, &plan->allocation, bar.Fn()));
  }
  if (plan->spare_known_zero) return Status::Ok();
  ProgressBar bar("zeroing spare", ProgressUnit::kBytes);
  return ZeroSpareFile(path, bar.Fn());
}

}  // namespace remapfs::cli
