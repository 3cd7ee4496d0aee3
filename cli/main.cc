// remapfs: command dispatch. Each subcommand lives in <name>.cc (mount: mount.cc, resize-spare:
// resize_spare.cc).
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "command.h"
#include "fuse/libfuse.h"
#include "logging.h"
#include "subcommands.h"
#include "suggest.h"

#ifndef REMAPFS_VERSION
#define REMAPFS_VERSION "unknown"
#endif

namespace remapfs::cli {
namespace {

constexpr const char* kUsage = R"(Usage: remapfs COMMAND [ARGS...]

Keeps a failing disk image in service: a FUSE mount shows one virtual disk
whose bad sectors live on a separate spare.

Commands:
  format MAIN SPARE [--spare-size SIZE] [--sector-size 512|4096]
         [--strategy auto|geometric|linear|minimal] [--force]
  mount  MAIN SPARE MOUNTPOINT [-f] [-o OPT[,OPT...]] [--name NAME]
         [--log-level trace|debug|info|warn|error] [--log-file PATH]
  check  SPARE [--main MAIN] [--repair] [--json]
  info   SPARE [--json] [--export badblocks|md|ddrescue [--block-size N]]
  resize-spare MAIN SPARE NEW_SIZE
  mark   MAIN SPARE --format badblocks|md|ddrescue [--block-size N]
         [--bad-sector-only] FILE
  status MOUNTPOINT|SPARE [--json | --prometheus] [--spare-warn PCT]
         [--spare-fail PCT] [--error-rate-warn N]

Also accepted, for fstab type fuse.remapfs (mount.fuse3):
  remapfs MAIN,SPARE MOUNTPOINT [-o OPTS]

Run 'remapfs COMMAND --help' for the options of one command.
Unmount with 'fusermount3 -u MOUNTPOINT'.
)";

// mount.fuse3 runs `remapfs SOURCE MOUNTPOINT -o OPTS` with SOURCE the
// fstab device field, here "MAIN,SPARE" (split at the first comma).
bool IsMountHelperForm(const std::vector<std::string>& args) {
  return args.size() >= 2 && args[0].find(',') != std::string::npos && args[0].find(',') > 0;
}

std::vector<std::string> MountHelperArgs(std::vector<std::string> args) {
  std::string source = args[0];
  size_t comma = source.find(',');
  args[0] = source.substr(comma + 1);
  args.insert(args.begin(), source.substr(0, comma));
  return args;
}

// A usage error: "did you mean" when `cmd` is one typo away from a command,
// else the pointer to --help.
int UnknownCommand(const std::string& cmd) {
  static const std::vector<std::string_view> kKnown = {
      "format", "mount", "check", "info", "resize-spare", "mark", "status", "--help", "--version"};
  if (auto match = ClosestMatch(cmd, kKnown)) {
    fmt::print(stderr, "remapfs: unknown command '{}'; did you mean '{}'?\n", cmd, *match);
  } else {
    fmt::print(stderr, "remapfs: unknown command '{}'\nTry 'remapfs --help'.\n", cmd);
  }
  return kExitUsage;
}

int Dispatch(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    fmt::print(stderr, "{}", kUsage);
    return kExitUsage;
  }
  const std::string& cmd = argv[0];
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    fmt::print("{}", kUsage);
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "-V") {
    fmt::print("remapfs {} (libfuse {})\n", REMAPFS_VERSION, fuse_pkgversion());
    return kExitOk;
  }
  // Offline commands: core warnings (a copy rewritten, ...) on stderr, so
  // stdout keeps only results (and stays valid JSON with --json). `mount`
  // installs its own logger from --log-level/--log-file.
  SetupLogging(spdlog::level::warn, "");
  if (cmd == "format") return RunFormat(rest);
  if (cmd == "mount") return RunMount(rest);
  if (cmd == "check") return RunCheck(rest);
  if (cmd == "info") return RunInfo(rest);
  if (cmd == "resize-spare") return RunResizeSpare(rest);
  if (cmd == "mark") return RunMark(rest);
  if (cmd == "status") return RunStatus(rest);
  if (IsMountHelperForm(argv)) return RunMount(MountHelperArgs(argv));
  return UnknownCommand(cmd);
}

}  // namespace
}  // namespace remapfs::cli

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return remapfs::cli::Dispatch(args);
  } catch (const std::exception& e) {
    fmt::print(stderr, "remapfs: unexpected error: {}\n", e.what());
    return remapfs::cli::kExitFailed;
  }
}
