// remapfs format: bind a spare to MAIN and write fresh metadata.
//
// Every check runs before anything is created, resized or written; a
// refusal leaves MAIN and SPARE as they were. MAIN is only ever read.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_common.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/placement.h"
#include "remapfs/sector_list.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "format";
constexpr const char* kUsage = R"(Usage: remapfs format MAIN SPARE [OPTIONS]

Creates (or takes) SPARE, binds it to MAIN and writes fresh metadata.
MAIN is never written.

Options:
  --spare-size SIZE       size of SPARE (K, M, G, T suffixes, powers of 1024);
                          required when SPARE does not exist; resizes an
                          existing regular file
  --sector-size 512|4096  sector size of the volume (default 512)
  --strategy auto|geometric|linear|minimal
                          metadata placement (default auto)
  --force                 overwrite a SPARE that already holds remapfs metadata
  --help                  show this help
)";

struct FormatRequest {
  std::string main_path;
  std::string spare_path;
  uint32_t sector_size = 512;
  Strategy strategy = Strategy::kAuto;
  std::optional<uint64_t> spare_size;
  bool force = false;
};

// An exit code when the command must stop here (help or usage error).
std::optional<int> ParseRequest(const std::vector<std::string>& args,
                                FormatRequest* req) {
  ParsedArgs parsed;
  std::string error;
  if (!ParseArgs(args, {{"--spare-size", true}, {"--sector-size", true},
                        {"--strategy", true}, {"--force"}},
                 &parsed, &error)) {
    return UsageError(kCmd, error);
  }
  if (parsed.Has("--help")) return PrintHelp(kUsage);
  if (parsed.positionals.size() != 2) {
    return UsageError(kCmd, parsed.positionals.size() < 2
                                ? "MAIN and SPARE are required"
                                : "too many arguments");
  }
  req->main_path = parsed.positionals[0];
  req->spare_path = parsed.positionals[1];
  req->force = parsed.Has("--force");
  if (auto v = parsed.Value("--sector-size")) {
    if (*v != "512" && *v != "4096") {
      return UsageError(kCmd, "--sector-size must be 512 or 4096, not '" + *v + "'");
    }
    req->sector_size = static_cast<uint32_t>(std::stoul(*v));
  }
  if (auto v = parsed.Value("--strategy")) {
    if (!ParseStrategy(*v, &req->strategy)) {
      return UsageError(kCmd, "--strategy must be auto, geometric, linear or "
                              "minimal, not '" + *v + "'");
    }
  }
  if (auto v = parsed.Value("--spare-size")) {
    uint64_t bytes = 0;
    Status st = ParseByteSize(*v, &bytes);
    if (!st.ok()) return UsageError(kCmd, "bad --spare-size: " + st.message());
    req->spare_size = bytes;
  }
  return std::nullopt;
}

// What format found and decided before touching anything.
struct FormatPlan {
  std::unique_ptr<FileLock> main_lock, spare_lock;
  bool spare_exists = false;
  uint64_t spare_current = 0;
  uint64_t spare_target = 0;
  Geometry geometry;
};

// Fails with a user message; nothing has been changed yet.
std::optional<std::string> CheckMain(const FormatRequest& req,
                                     FormatPlan* plan) {
  Status st = FileLock::Acquire(req.main_path, false, &plan->main_lock);
  if (!st.ok()) return DescribeOpenError("MAIN", req.main_path, st);
  uint64_t bytes = 0;
  st = DeviceSize(req.main_path, &bytes);
  if (!st.ok()) return "cannot read the size of MAIN: " + st.message();
  if (bytes == 0) return "MAIN '" + req.main_path + "' is empty";
  if (bytes % req.sector_size != 0) {
    return fmt::format("MAIN size {} bytes is not a multiple of the sector "
                       "size {}", bytes, req.sector_size);
  }
  plan->geometry.sector_size = req.sector_size;
  plan->geometry.main_sectors = bytes / req.sector_size;
  return std::nullopt;
}

std::optional<std::string> CheckExistingSpare(const FormatRequest& req,
                                              const struct stat& st,
                                              FormatPlan* plan) {
  if (SameFile(req.main_path, req.spare_path)) {
    return "MAIN and SPARE are the same file";
  }
  Status s = CheckStorageType(req.spare_path, st.st_mode);
  if (s.ok()) s = FileLock::Acquire(req.spare_path, true, &plan->spare_lock);
  if (!s.ok()) return DescribeOpenError("SPARE", req.spare_path, s);
  s = DeviceSize(req.spare_path, &plan->spare_current);
  if (!s.ok()) return "cannot read the size of SPARE: " + s.message();
  plan->spare_target = req.spare_size.value_or(plan->spare_current);
  if (S_ISBLK(st.st_mode) && plan->spare_target != plan->spare_current) {
    return "--spare-size cannot resize a block device; omit it";
  }
  return std::nullopt;
}

std::optional<std::string> CheckSpare(const FormatRequest& req,
                                      FormatPlan* plan) {
  struct stat st {};
  plan->spare_exists = stat(req.spare_path.c_str(), &st) == 0;
  if (plan->spare_exists) {
    if (auto err = CheckExistingSpare(req, st, plan)) return err;
  } else if (!req.spare_size) {
    return "SPARE '" + req.spare_path +
           "' does not exist; give --spare-size to create it";
  } else {
    plan->spare_target = *req.spare_size;
  }
  uint32_t ss = req.sector_size;
  if (plan->spare_target % ss != 0) {
    return fmt::format("{} {} bytes is not a multiple of the sector size {}",
                       req.spare_size ? "--spare-size" : "SPARE size",
                       plan->spare_target, ss);
  }
  uint64_t sectors = plan->spare_target / ss;
  if (sectors < format::kMinSpareSectors) {
    return fmt::format("SPARE is too small: {} sectors, at least {} needed "
                       "({})", sectors, format::kMinSpareSectors,
                       HumanBytes(format::kMinSpareSectors * ss));
  }
  plan->geometry.spare_sectors = sectors;
  Status s = ComputePlacement(ss, sectors, req.strategy,
                              &plan->geometry.placement);
  if (!s.ok()) return "cannot place the metadata: " + s.message();
  return std::nullopt;
}

std::optional<std::string> CheckNotFormatted(const FormatRequest& req,
                                             const FormatPlan& plan) {
  if (!plan.spare_exists || req.force || plan.spare_current == 0) {
    return std::nullopt;
  }
  FileDeviceOptions options;
  options.read_only = true;
  options.exclusive_lock = false;  // plan.spare_lock guards it
  std::unique_ptr<BlockDevice> device;
  Status s = OpenFileDevice(req.spare_path, options, &device);
  if (!s.ok()) return "cannot open SPARE: " + s.message();
  if (MetadataStore::LooksFormatted(device.get())) {
    return "SPARE '" + req.spare_path +
           "' already holds remapfs metadata; use --force to overwrite it";
  }
  return std::nullopt;
}

// Creates or resizes SPARE to the planned size. After this, changes happen.
Status PrepareSpareFile(const FormatRequest& req, FormatPlan* plan) {
  const std::string& path = req.spare_path;
  if (!plan->spare_exists) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(errno, "create '" + path + "'");
    close(fd);
    Status st = FileLock::Acquire(path, true, &plan->spare_lock);
    if (!st.ok()) return st;
  }
  if (plan->spare_target != plan->spare_current &&
      truncate(path.c_str(), static_cast<off_t>(plan->spare_target)) != 0) {
    return Status::FromErrno(errno, "resize '" + path + "'");
  }
  return Status::Ok();
}

Status WriteMetadata(const FormatRequest& req, const FormatPlan& plan) {
  FileDeviceOptions options;
  options.exclusive_lock = false;  // plan.spare_lock guards it
  std::unique_ptr<BlockDevice> device;
  REMAPFS_RETURN_IF_ERROR(OpenFileDevice(req.spare_path, options, &device));
  std::unique_ptr<MetadataStore> store;
  REMAPFS_RETURN_IF_ERROR(MetadataStore::Format(device.get(), plan.geometry, &store));
  return device->Flush();
}

void PrintSummary(const FormatRequest& req, const Geometry& g) {
  const Placement& p = g.placement;
  fmt::print("formatted SPARE '{}' for MAIN '{}'\n", req.spare_path,
             req.main_path);
  fmt::print("  sector size      {}\n", g.sector_size);
  fmt::print("  main             {} sectors ({})\n", g.main_sectors,
             HumanBytes(g.main_bytes()));
  fmt::print("  spare            {} sectors ({})\n", g.spare_sectors,
             HumanBytes(g.spare_sectors * g.sector_size));
  fmt::print("  strategy         {}\n", StrategyName(p.strategy));
  fmt::print("  metadata copies  {} x {} sectors at {}\n", p.copy_starts.size(),
             p.copy_sectors, fmt::join(p.copy_starts, ", "));
  fmt::print("  spare capacity   {} sectors\n", g.spare_capacity());
}

}  // namespace

int RunFormat(const std::vector<std::string>& args) {
  FormatRequest req;
  if (auto code = ParseRequest(args, &req)) return *code;
  FormatPlan plan;
  std::optional<std::string> refusal = CheckMain(req, &plan);
  if (!refusal) refusal = CheckSpare(req, &plan);
  if (!refusal) refusal = CheckNotFormatted(req, plan);
  if (refusal) return Fail(kCmd, *refusal + "; nothing was changed");

  Status st = PrepareSpareFile(req, &plan);
  if (st.ok()) st = WriteMetadata(req, plan);
  if (!st.ok()) {
    if (!plan.spare_exists) unlink(req.spare_path.c_str());
    return Fail(kCmd, "formatting SPARE failed: " + st.ToString());
  }
  PrintSummary(req, plan.geometry);
  return kExitOk;
}

}  // namespace remapfs::cli
