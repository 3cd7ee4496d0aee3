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

#include "command.h"
#include "common.h"
#include "format_plan.h"
#include "progress.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/placement.h"
#include "remapfs/sector_list.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "format";
constexpr const char* kUsage = R"(Usage: remapfs format MAIN SPARE [OPTIONS]

Creates (or takes) SPARE, binds it to MAIN and writes fresh metadata.
MAIN is never written. The spare's blocks are allocated on the host
filesystem (refused when the space is not there); an existing SPARE is
zeroed whole first, and without --force it must be empty or all zeros.

Options:
  --spare-size SIZE       size of SPARE (K, M, G, T suffixes, powers of 1024);
                          required when SPARE does not exist; grows an
                          existing regular file (never shrinks it)
  --sector-size 512|4096  sector size of the volume (default 512)
  --strategy auto|geometric|linear|minimal
                          metadata placement (default auto)
  --force                 overwrite a SPARE that holds data: remapfs metadata,
                          a filesystem, partition table or RAID signature,
                          or any non-zero byte
  --help                  show this help
)";

const CommandSpec kCommand{
    kCmd,
    kUsage,
    {{"--spare-size", true}, {"--sector-size", true}, {"--strategy", true}, {"--force"}},
    {"MAIN", "SPARE"}};

// An exit code when the command must stop here (help or usage error).
std::optional<int> ParseRequest(const std::vector<std::string>& args, FormatRequest* req) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return code;
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
                              "minimal, not '" +
                                  *v + "'");
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

// Fails with a user message; nothing has been changed yet.
std::optional<std::string> CheckMain(const FormatRequest& req, FormatPlan* plan) {
  Status st = FileLock::Acquire(req.main_path, false, &plan->main_lock);
  if (!st.ok()) return DescribeOpenError("MAIN", req.main_path, st);
  uint64_t bytes = 0;
  st = DeviceSize(req.main_path, &bytes);
  if (!st.ok()) return "cannot read the size of MAIN: " + st.message();
  if (bytes == 0) return "MAIN '" + req.main_path + "' is empty";
  if (bytes % req.sector_size != 0) {
    return fmt::format("MAIN size {} bytes is not a multiple of the sector "
                       "size {}",
                       bytes, req.sector_size);
  }
  plan->geometry.sector_size = req.sector_size;
  plan->geometry.main_sectors = bytes / req.sector_size;
  return std::nullopt;
}

Status WriteMetadata(const FormatRequest& req, const FormatPlan& plan) {
  FileDeviceOptions options;
  options.exclusive_lock = false;  // plan.spare_lock guards it
  std::unique_ptr<BlockDevice> device;
  REMAPFS_RETURN_IF_ERROR(OpenFileDevice(req.spare_path, options, &device));
  MainBinding main;
  REMAPFS_RETURN_IF_ERROR(BindingOfMain(req.main_path, &main));
  std::unique_ptr<MetadataStore> store;
  // PrepareSpareFile left every byte zero (created, scanned, or zeroed): no
  // header of an earlier format can be found, so none is searched for.
  ProgressBar bar("writing metadata copies", ProgressUnit::kItems);
  REMAPFS_RETURN_IF_ERROR(MetadataStore::Format(device.get(), plan.geometry, main,
                                                /*spare_is_zero=*/true, &store, bar.Fn()));
  return device->Flush();
}

void PrintSummary(const FormatRequest& req, const FormatPlan& plan) {
  const Geometry& g = plan.geometry;
  const Placement& p = g.placement;
  fmt::print("formatted SPARE '{}' for MAIN '{}'\n", req.spare_path, req.main_path);
  fmt::print("  sector size      {}\n", g.sector_size);
  fmt::print("  main             {} sectors ({})\n", g.main_sectors, HumanBytes(g.main_bytes()));
  fmt::print("  spare            {} sectors ({})\n", g.spare_sectors,
             HumanBytes(g.spare_sectors * g.sector_size));
  fmt::print("  strategy         {}\n", StrategyName(p.strategy));
  fmt::print("  metadata copies  {} x {} sectors at {}\n", p.copy_starts.size(), p.copy_sectors,
             fmt::join(p.copy_starts, ", "));
  fmt::print("  spare capacity   {} sectors\n", g.spare_capacity());
  fmt::print("  host space       {} ({})\n", HumanBytes(plan.spare_target), plan.allocation);
  if (plan.spare_exists && !plan.spare_known_zero) {
    fmt::print("  earlier content  zeroed (--force)\n");
  }
}

}  // namespace

int RunFormat(const std::vector<std::string>& args) {
  FormatRequest req;
  if (auto code = ParseRequest(args, &req)) return *code;
  FormatPlan plan;
  std::optional<std::string> refusal = CheckMain(req, &plan);
  if (!refusal) refusal = CheckSpare(req, &plan);
  if (refusal) return Fail(kCmd, *refusal + "; nothing was changed");

  Status st = PrepareSpareFile(req, &plan);
  if (st.ok()) st = WriteMetadata(req, plan);
  if (!st.ok()) {
    if (plan.spare_created) unlink(req.spare_path.c_str());
    // A refused allocation comes before any write: nothing was changed.
    if (st.IsNoSpace()) return Fail(kCmd, st.message() + "; nothing was changed");
    return Fail(kCmd, "formatting SPARE failed: " + st.ToString());
  }
  PrintSummary(req, plan);
  return kExitOk;
}

}  // namespace remapfs::cli
