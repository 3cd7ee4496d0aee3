// remapfs resize-spare: grow or shrink a spare offline (core/spare_resize.cc
// does the work and carries the crash-safety argument). This file owns the
// file-size changes around it: the file grows before the core runs, its
// new blocks allocated on the host (spare_file.h), so the device spans both
// geometries, and shrinks only after the new metadata is complete. Killed
// at any point, the spare mounts with the old or the new geometry.
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "command.h"
#include "common.h"
#include "progress.h"
#include "remapfs/sector_list.h"
#include "remapfs/spare_file.h"
#include "remapfs/spare_resize.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "resize-spare";
constexpr const char* kUsage = R"(Usage: remapfs resize-spare MAIN SPARE NEW_SIZE

Grows or shrinks SPARE (a regular file) to NEW_SIZE bytes (K, M, G, T
suffixes, powers of 1024) offline. Growing allocates the spare's blocks on
the host filesystem first, and is refused when the space is not there. The
metadata placement is recomputed for the new size (strategy auto);
remapped data sitting where a new metadata copy lands is moved first. A shrink that would drop a used spare sector is
refused. No remap and no byte of remapped data is lost, even if the command
is killed part-way. MAIN and SPARE must not be mounted.

Options:
  --help   show this help
)";

const CommandSpec kCommand{
    kCmd, kUsage, {}, {"MAIN", "SPARE", "NEW_SIZE"}, "expected MAIN SPARE NEW_SIZE"};

struct Request {
  std::string main, spare;
  uint64_t new_bytes = 0;
};

// Locks held for the whole command, so no mount can start meanwhile.
struct Locks {
  std::unique_ptr<FileLock> main, spare;
};

Status OpenSpare(const std::string& path, std::unique_ptr<BlockDevice>* out) {
  FileDeviceOptions options;
  options.exclusive_lock = false;  // Locks guards it
  return OpenFileDevice(path, options, out);
}

int Refuse(const Status& st) { return Fail(kCmd, st.message()); }

// The checks that need the metadata: it belongs to MAIN, and the plan works.
int Check(const Request& req, BlockDevice* spare, ResizeResult* plan) {
  uint64_t main_bytes = 0;
  if (Status st = DeviceSize(req.main, &main_bytes); !st.ok()) return Refuse(st);
  MetadataOpenOptions options;
  options.repair = false;
  options.expected_main_bytes = main_bytes;
  if (Status st = BindingOfMain(req.main, &options.expected_main.emplace()); !st.ok())
    return Refuse(st);
  std::unique_ptr<MetadataStore> store;
  if (Status st = MetadataStore::Open(spare, options, &store); !st.ok())
    return Fail(kCmd, DescribeMetadataError(req.spare, spare, st));
  const uint32_t ss = store->geometry().sector_size;
  if (req.new_bytes % ss != 0)
    return Fail(kCmd, fmt::format("NEW_SIZE {} is not a multiple of the sector size {}",
                                  req.new_bytes, ss));
  if (Status st = PlanSpareResize(spare, req.new_bytes / ss, plan); !st.ok()) return Refuse(st);
  return kExitOk;
}

int Resize(const Request& req) {
  Locks locks;
  if (SameFile(req.main, req.spare)) return Fail(kCmd, "MAIN and SPARE are the same file");
  if (Status st = FileLock::Acquire(req.main, false, &locks.main); !st.ok())
    return Fail(kCmd, DescribeOpenError("MAIN", req.main, st));
  if (Status st = FileLock::Acquire(req.spare, true, &locks.spare); !st.ok())
    return Fail(kCmd, DescribeOpenError("SPARE", req.spare, st));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(req.spare, ec))
    return Fail(kCmd,
                "SPARE '" + req.spare + "' is not a regular file (only files can be resized)");
  std::unique_ptr<BlockDevice> spare;
  if (Status st = OpenSpare(req.spare, &spare); !st.ok()) return Refuse(st);
  ResizeResult plan;
  if (int rc = Check(req, spare.get(), &plan); rc != kExitOk) return rc;
  const uint64_t old_bytes = spare->Size();
  std::string allocation;
  if (req.new_bytes > old_bytes) {
    // The grown range gets real blocks before any metadata is rewritten:
    // refused here, the spare keeps its old size and content.
    spare.reset();
    if (Status st = AllocateSpareFile(req.spare, req.new_bytes, &allocation); !st.ok())
      return Fail(kCmd, st.message() + "; nothing was changed");
    if (Status st = OpenSpare(req.spare, &spare); !st.ok()) return Refuse(st);
  }
  ResizeResult done;
  Status resized;
  {
    ProgressBar bar("", ProgressUnit::kItems);
    ResizeProgress progress;
    if (bar.enabled())
      progress = [&](const std::string& phase, uint64_t n, uint64_t total) {
        if (total == 0) return;  // a phase with nothing to do
        bar.SetLabel(phase);
        bar.Update(n, total);
      };
    resized = ResizeSpare(spare.get(), req.new_bytes / plan.old_geometry.sector_size, progress,
                          &done);
  }
  if (Status st = resized; !st.ok())
    return Fail(kCmd,
                "resize failed (the spare keeps a complete old or new geometry): " + st.ToString());
  spare.reset();
  if (req.new_bytes < old_bytes) {
    std::filesystem::resize_file(req.spare, req.new_bytes, ec);
    if (ec) return Fail(kCmd, "metadata resized, but cutting the file failed: " + ec.message());
  }
  // The old size is the one the metadata used, which a file grown by hand
  // before the resize no longer shows.
  const uint64_t old_used = done.old_geometry.spare_sectors * done.old_geometry.sector_size;
  fmt::print("resized spare '{}': {} -> {} ({} -> {}), {} remaps kept, {} moved\n", req.spare,
             HumanBytes(old_used), HumanBytes(req.new_bytes),
             StrategyName(done.old_geometry.placement.strategy),
             StrategyName(done.new_geometry.placement.strategy), done.remaps,
             done.moved_within_old + done.moved_to_new_space);
  if (!allocation.empty())
    fmt::print("host space: {} ({})\n", HumanBytes(req.new_bytes), allocation);
  return kExitOk;
}

}  // namespace

int RunResizeSpare(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return *code;
  Request req{parsed.positionals[0], parsed.positionals[1], 0};
  if (Status st = ParseByteSize(parsed.positionals[2], &req.new_bytes); !st.ok())
    return UsageError(kCmd, "NEW_SIZE: " + st.message());
  return Resize(req);
}

}  // namespace remapfs::cli
