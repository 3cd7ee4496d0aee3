// remapfs mount: open MAIN and SPARE, load the Volume, serve it over FUSE.
//
// Everything that can fail for a user reason (bad options, devices in use,
// wrong spare, mount refused) fails before daemonizing, so the exit status
// of `remapfs mount` tells whether the mount exists.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "command.h"
#include "common.h"
#include "fuse/libfuse.h"
#include "fuse/remapfs_fs.h"
#include "fuse/session.h"
#include "logging.h"
#include "mount_live_status.h"
#include "mount_options.h"
#include "mount_point.h"
#include "remapfs/mount_stack.h"
#include "remapfs/sector_list.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "mount";
constexpr const char* kUsage = R"(Usage: remapfs mount MAIN SPARE MOUNTPOINT [OPTIONS]

Mounts the remapped disk as MOUNTPOINT/NAME, with MOUNTPOINT/control/.
Unmount with 'fusermount3 -u MOUNTPOINT'.

Options:
  -f                    stay in the foreground (default: daemonize)
  -o OPT[,OPT...]       FUSE mount options: allow_other, allow_root, ro,
                        default_permissions, debug, ...; also every option
                        below in the fstab form: error_recovery_time=,
                        read_retries=, scrub_rate=, direct_io=, name=,
                        log_file=, log_level=, rebind, clear_dead_mount
  --name NAME           name of the disk file (default: basename of MAIN)
  --direct-io MODE      auto, on or off: open MAIN and SPARE with O_DIRECT, so
                        an I/O error belongs to the request that caused it
                        (default auto: on when MAIN is a block device)
  --read-retries N      extra attempts at a failed MAIN read before its
                        sectors become pending (default 2, at most 100)
  --error-recovery-time DURATION
                        how long one failing request may spend on retries
                        and narrowing, like a drive's ERC: then its unresolved
                        sectors become pending (a read fails with EIO) or are
                        remapped (a write succeeds); 500ms, 5s, 1.5s, 0 to
                        600s (default 5s; 0: no retries, no narrowing)
  --scrub-rate SIZE     control/scrub scan rate per second, K/M/G suffixes
                        (default 64M; 0: as fast as MAIN reads)
  --log-level LEVEL     trace, debug, info, warn or error (default info);
                        without -f a successful mount prints nothing unless
                        this is given
  --log-file PATH       log to PATH, reopened on SIGHUP (default: with -f
                        stderr, else the journal or syslog)
  --clear-dead-mount    if MOUNTPOINT is a dead remapfs mount (its daemon
                        was killed), detach it first
  --rebind              bind SPARE to this MAIN although it was formatted for
                        another one (after a deliberate move or copy of MAIN;
                        the size must still match)
  --help                show this help
)";

struct MountRequest {
  MountStackRequest stack;  // MAIN, SPARE, --direct-io, the VolumeOptions
  std::string mountpoint;
  bool foreground = false;
  std::vector<std::string> fuse_options;  // each an -o value
  fuse::MountSettings settings;
  MountLogOptions log;
  bool clear_dead_mount = false;
};

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::optional<std::string> CheckDiskName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name == "/" ||
      name.find('/') != std::string::npos || name.size() > 255) {
    return "'" + name + "' is not a valid file name for the disk";
  }
  if (name == fuse::kControlDirName) {
    return "the disk name 'control' clashes with the control directory; "
           "choose another with --name";
  }
  return std::nullopt;
}

// -o ro / -o rw, last one wins, as mount(8) does.
bool WantsReadOnly(const std::vector<std::string>& fuse_options) {
  bool read_only = false;
  for (const std::string& group : fuse_options) {
    size_t begin = 0;
    while (begin <= group.size()) {
      size_t end = std::min(group.find(',', begin), group.size());
      std::string_view opt(group.data() + begin, end - begin);
      if (opt == "ro") read_only = true;
      if (opt == "rw") read_only = false;
      begin = end + 1;
    }
  }
  return read_only;
}

// --read-retries, --scrub-rate and --error-recovery-time; the reason when
// one is malformed.
std::optional<std::string> ParseTuning(const ParsedArgs& parsed, MountRequest* req) {
  if (auto time = parsed.Value("--error-recovery-time")) {
    if (auto err = ParseErrorRecoveryTime(*time, &req->stack.volume.error_recovery_time))
      return err;
  }
  if (auto retries = parsed.Value("--read-retries")) {
    uint32_t n = 0;
    const char* end = retries->data() + retries->size();
    auto [ptr, ec] = std::from_chars(retries->data(), end, n);
    if (ec != std::errc() || ptr != end || n > 100)
      return "--read-retries must be a number from 0 to 100, not '" + *retries + "'";
    req->stack.volume.read_retries = n;
  }
  if (auto rate = parsed.Value("--scrub-rate")) {
    uint64_t bytes = 0;
    if (*rate != "0" && !ParseByteSize(*rate, &bytes).ok())
      return "--scrub-rate must be a size such as 64M, or 0, not '" + *rate + "'";
    req->settings.scrub.bytes_per_second = bytes;
  }
  return std::nullopt;
}

const CommandSpec kCommand{kCmd,
                           kUsage,
                           {{"-f"},
                            {"-o", true, true},
                            {"--name", true},
                            {"--log-level", true},
                            {"--log-file", true},
                            {"--direct-io", true},
                            {"--read-retries", true},
                            {"--scrub-rate", true},
                            {"--error-recovery-time", true},
                            {"--rebind"},
                            {"--clear-dead-mount"}},
                           {"MAIN", "SPARE", "MOUNTPOINT"}};

// Parses `args`, with remapfs's own options inside -o lists (fstab) turned
// into their `--` forms first, so both forms share validation and messages.
std::optional<int> ParseMountArgs(const std::vector<std::string>& args, ParsedArgs* parsed,
                                  MountRequest* req) {
  std::string error;
  if (!ParseArgs(args, kCommand.options, parsed, &error)) return UsageError(kCmd, error);
  SplitMountOptions split;
  if (auto err = SplitFuseOptions(parsed->Values("-o"), &split)) return UsageError(kCmd, *err);
  req->fuse_options = std::move(split.fuse_options);
  if (split.cli_args.empty()) return std::nullopt;
  // In front, so that a `--` among the arguments cannot make them positional.
  std::vector<std::string> all = std::move(split.cli_args);
  all.insert(all.end(), args.begin(), args.end());
  *parsed = ParsedArgs{};
  if (!ParseArgs(all, kCommand.options, parsed, &error)) {
    return UsageError(kCmd, error + " (an -o option such as error_recovery_time= "
                                    "is the same option as its -- form)");
  }
  return std::nullopt;
}

std::optional<int> ParseRequest(const std::vector<std::string>& args, MountRequest* req) {
  ParsedArgs parsed;
  if (auto code = ParseMountArgs(args, &parsed, req)) return code;
  if (auto code = CheckHelpAndOperands(kCommand, parsed)) return code;
  req->stack.main_path = parsed.positionals[0];
  req->stack.spare_path = parsed.positionals[1];
  req->mountpoint = parsed.positionals[2];
  req->foreground = parsed.Has("-f");
  req->stack.volume.rebind = parsed.Has("--rebind");
  req->clear_dead_mount = parsed.Has("--clear-dead-mount");
  req->log.foreground = req->foreground;
  req->log.file = parsed.Value("--log-file").value_or("");
  if (auto level = parsed.Value("--log-level")) {
    if (!ParseLogLevel(*level, &req->log.level)) {
      return UsageError(kCmd, "--log-level must be trace, debug, info, warn or error, not '" +
                                  *level + "'");
    }
    req->log.level_given = true;
  }
  if (auto mode = parsed.Value("--direct-io");
      mode && !ParseDirectIoMode(*mode, &req->stack.direct_io)) {
    return UsageError(kCmd, "--direct-io must be auto, on or off, not '" + *mode + "'");
  }
  if (auto err = ParseTuning(parsed, req)) return UsageError(kCmd, *err);
  req->settings.disk_name = parsed.Value("--name").value_or(Basename(req->stack.main_path));
  if (auto err = CheckDiskName(req->settings.disk_name)) {
    return UsageError(kCmd, *err);
  }
  req->settings.read_only = WantsReadOnly(req->fuse_options);
  req->stack.read_only = req->settings.read_only;
  req->settings.owner_uid = getuid();
  req->settings.owner_gid = getgid();
  return std::nullopt;
}

// The user's words for where OpenMountStack stopped. They stay in the CLI:
// they name its commands ("create one with 'remapfs format'") and are
// shared with the offline subcommands (common.h); the core reports the
// step, the Status and, for the metadata, the spare it opened.
std::string DescribeStackFailure(const MountStackRequest& stack, const MountStackFailure& failure) {
  const Status& st = failure.status;
  switch (failure.step) {
    case MountStackStep::kSameFile: return "MAIN and SPARE are the same file";
    case MountStackStep::kOpenMain: return DescribeOpenError("MAIN", stack.main_path, st);
    case MountStackStep::kOpenSpare: return DescribeOpenError("SPARE", stack.spare_path, st);
    case MountStackStep::kIdentifyMain: return "cannot identify MAIN: " + st.message();
    case MountStackStep::kMetadata:
      return DescribeMetadataError(stack.spare_path, failure.spare.get(), st);
    case MountStackStep::kVolume: return "cannot open the volume: " + st.message();
  }
  return st.message();
}

// libfuse's -o syntax treats ',' as a separator and '\' as its escape.
std::string EscapeOptionValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// fsname is "MAIN,SPARE" as given, the source of the fstab form: libmount
// (`mount -a`, findmnt --fstab) takes an fstab entry as mounted when the
// mount's source and target are the entry's.
std::vector<std::string> FuseArgv(const MountRequest& req) {
  std::vector<std::string> argv = {
      "remapfs", "-o",
      fmt::format("fsname={},subtype=remapfs,max_read={}",
                  EscapeOptionValue(req.stack.main_path + "," + req.stack.spare_path),
                  fuse::kMaxRequestBytes)};
  for (const std::string& opt : req.fuse_options) {
    argv.push_back("-o");
    argv.push_back(opt);
  }
  return argv;
}

}  // namespace

int RunMount(const std::vector<std::string>& args) {
  MountRequest req;
  if (auto code = ParseRequest(args, &req)) return *code;
  MountPoint mp = InspectMountPoint(req.mountpoint);
  const bool clear = mp.state == MountPoint::State::kDeadRemapfs && req.clear_dead_mount;
  if (mp.state != MountPoint::State::kDirectory && !clear)
    return Fail(kCmd, DescribeMountPointProblem(req.mountpoint, mp));
  // The daemon runs in /, and fusermount3 -u needs the path it mounted.
  req.mountpoint = mp.absolute;
  req.log.mountpoint = mp.absolute;
  Status log_status = SetupMountLogging(req.log);
  if (!log_status.ok()) return Fail(kCmd, log_status.message());
  if (clear) {
    if (Status st = ClearDeadMount(mp); !st.ok())
      return Fail(kCmd,
                  "cannot clear the dead remapfs mount on '" + mp.absolute + "': " + st.message());
    spdlog::warn("cleared the dead remapfs mount on {} (its daemon was gone)", mp.absolute);
  }

  MountStack opened;
  MountStackFailure failure;
  if (!OpenMountStack(req.stack, &opened, &failure).ok())
    return Fail(kCmd, DescribeStackFailure(req.stack, failure));
  LiveStatusPublisher::Options live_options;
  live_options.log_write_failures = LogWriteFailures;  // status: log_write_failures
  MountLiveStatus live(req.mountpoint, req.stack.main_path, req.stack.spare_path, live_options);
  req.settings.status_json = [&live] { return live.Json(); };
  req.settings.status_changed = [&live] { live.PublishNow(); };
  fuse::RemapFs fs(opened.volume.get(), opened.main_faults, req.settings);
  fuse::ServeOptions serve;
  serve.fuse_argv = FuseArgv(req);
  serve.mountpoint = req.mountpoint;
  serve.foreground = req.foreground;
  serve.on_mounted = [&live, &fs] {
    MountLoggingReady();
    live.Start(&fs);
  };
  serve.on_hangup = ReopenLogFile;
  const int code = fuse::Serve(serve, &fs);
  live.Stop();  // before fs goes: the publisher samples it
  return code;
}

}  // namespace remapfs::cli
