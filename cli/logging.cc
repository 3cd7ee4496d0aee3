#include "logging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>

#include "log_sinks.h"

namespace remapfs::cli {
namespace {

constexpr const char* kLoggerName = "remapfs";
constexpr const char* kJournalSocket = "/run/systemd/journal/socket";
constexpr const char* kSyslogSocket = "/dev/log";

enum class DaemonLog { kJournal, kSyslog, kFile, kLost };

// The mount's logging, set up once before serving and read-only after
// MountLoggingReady (the SIGHUP thread reads `file`).
struct MountLogState {
  MountLogOptions options;
  DaemonLog daemon_log = DaemonLog::kLost;
  std::shared_ptr<LogFileSink> file;     // --log-file or the fallback file
  std::shared_ptr<BufferSink> buffer;    // lines before daemonizing
  std::shared_ptr<SwitchSink> switcher;  // the logger's one sink
};
MountLogState g_mount;

void Install(std::vector<spdlog::sink_ptr> sinks, spdlog::level::level_enum level) {
  auto logger = std::make_shared<spdlog::logger>(kLoggerName, sinks.begin(), sinks.end());
  logger->set_level(level);
  // Errors must reach the log even if the daemon is killed right after.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

spdlog::sink_ptr WithLevel(spdlog::sink_ptr sink, spdlog::level::level_enum level) {
  sink->set_level(level);
  return sink;
}

spdlog::sink_ptr Stderr() { return LogFileSink::Stderr(); }

spdlog::sink_ptr Journal() {
  return std::make_shared<CountingSink>(
      std::make_shared<spdlog::sinks::systemd_sink_mt>(kLoggerName, false));
}

// A sink for a daemon whose log has nowhere to go: every line is counted
// as lost, so the status shows it.
class LostSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg&) override { CountLogWriteFailure(); }
  void flush_() override {}
};

// spdlog would block opening a FIFO that nobody reads; refuse it instead of
// hanging the mount. One with a reader (`--log-file /dev/stderr` in a
// pipeline) is fine.
bool IsFifoWithoutReader(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  int fd = open(file.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) close(fd);
  return fd < 0 && errno == ENXIO;
}

Status OpenLogFile(const std::string& file, std::shared_ptr<LogFileSink>* out) {
  // A typo in the directory should fail, not create directories.
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return Status::InvalidArgument("cannot open log file '" + file + "': no directory '" +
                                   parent.string() + "'");
  }
  if (IsFifoWithoutReader(file)) {
    return Status::InvalidArgument("cannot open log file '" + file + "': a FIFO that nobody reads");
  }
  return LogFileSink::Open(file, out);
}

// systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
// stderr; a shell started from the unit inherits the variable but maybe
// not the stream, hence the comparison.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (stream == nullptr || fstat(STDERR_FILENO, &st) != 0) return false;
  return fmt::format("{}:{}", st.st_dev, st.st_ino) == stream;
}

// Where a daemon without journal and syslog logs: /run/remapfs for root,
// else $XDG_RUNTIME_DIR/remapfs, one file per mountpoint.
std::string FallbackLogPath(const std::string& mountpoint) {
  std::string dir = "/run/remapfs";
  if (getuid() != 0) {
    const char* runtime = std::getenv("XDG_RUNTIME_DIR");
    if (runtime == nullptr || *runtime == '\0') return "";
    dir = std::string(runtime) + "/remapfs";
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return "";
  // "/srv/remap/vm1" -> "srv-remap-vm1"; "/" -> "root".
  std::string name;
  for (char c : mountpoint) {
    if (c != '/') {
      name += c;
    } else if (!name.empty()) {
      name += '-';
    }
  }
  return dir + "/" + (name.empty() ? "root" : name) + ".log";
}

// Decides, before daemonizing, where the daemon will log, and says so on
// stderr when it is neither the journal nor syslog.
void ChooseDaemonLog() {
  if (access(kJournalSocket, F_OK) == 0) {
    g_mount.daemon_log = DaemonLog::kJournal;
  } else if (access(kSyslogSocket, F_OK) == 0) {
    g_mount.daemon_log = DaemonLog::kSyslog;
  } else if (std::string path = FallbackLogPath(g_mount.options.mountpoint);
             !path.empty() && LogFileSink::Open(path, &g_mount.file).ok()) {
    g_mount.daemon_log = DaemonLog::kFile;
    fmt::print(stderr, "remapfs mount: no journal ({}) and no syslog ({}): the daemon logs to {}\n",
               kJournalSocket, kSyslogSocket, path);
  } else {
    g_mount.daemon_log = DaemonLog::kLost;
    fmt::print(stderr,
               "remapfs mount: warning: no journal ({}), no syslog ({}) and no log file "
               "possible (/run/remapfs, $XDG_RUNTIME_DIR): the daemon's log is lost; use "
               "--log-file PATH or -f\n",
               kJournalSocket, kSyslogSocket);
  }
}

spdlog::sink_ptr DaemonSink() {
  switch (g_mount.daemon_log) {
    case DaemonLog::kJournal: return Journal();
    case DaemonLog::kSyslog:
      return std::make_shared<spdlog::sinks::syslog_sink_mt>(kLoggerName, LOG_PID, LOG_DAEMON,
                                                             /*enable_formatting=*/false);
    case DaemonLog::kFile: return g_mount.file;
    case DaemonLog::kLost: break;
  }
  return std::make_shared<LostSink>();
}

}  // namespace

bool ParseLogLevel(std::string_view name, spdlog::level::level_enum* out) {
  using spdlog::level::level_enum;
  static constexpr std::pair<std::string_view, level_enum> kLevels[] = {
      {"trace", level_enum::trace}, {"debug", level_enum::debug}, {"info", level_enum::info},
      {"warn", level_enum::warn},   {"error", level_enum::err},
  };
  for (const auto& [level_name, level] : kLevels) {
    if (name == level_name) {
      *out = level;
      return true;
    }
  }
  return false;
}

Status SetupLogging(spdlog::level::level_enum level, const std::string& file) {
  if (file.empty()) {
    Install({Stderr()}, level);
    return Status::Ok();
  }
  std::shared_ptr<LogFileSink> sink;
  if (Status st = OpenLogFile(file, &sink); !st.ok()) return st;
  Install({sink}, level);
  return Status::Ok();
}

Status SetupMountLogging(const MountLogOptions& options) {
  g_mount = MountLogState{};
  g_mount.options = options;
  const auto level = options.level;
  // Until the mount exists, stderr shows what went wrong (or, asked for,
  // everything) wherever the log goes.
  const auto stderr_level = options.level_given ? level : spdlog::level::warn;
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.file.empty()) {
    if (Status st = OpenLogFile(options.file, &g_mount.file); !st.ok()) return st;
    sinks = {g_mount.file, WithLevel(Stderr(), spdlog::level::warn)};
  } else if (options.foreground) {
    // In the foreground stderr is the log, at the level (default info).
    sinks = {StderrIsJournal() ? Journal() : Stderr()};
  } else {
    ChooseDaemonLog();
    g_mount.buffer = std::make_shared<BufferSink>();
    sinks = {g_mount.buffer, WithLevel(Stderr(), stderr_level)};
  }
  g_mount.switcher = std::make_shared<SwitchSink>(std::move(sinks));
  Install({g_mount.switcher}, level);
  return Status::Ok();
}

void MountLoggingReady() {
  if (g_mount.switcher == nullptr) return;
  if (!g_mount.options.file.empty()) {
    g_mount.switcher->SwitchTo({g_mount.file}, nullptr);
  } else if (g_mount.buffer != nullptr) {
    g_mount.switcher->SwitchTo({DaemonSink()}, g_mount.buffer.get());
  }
}

void ReopenLogFile() {
  std::shared_ptr<LogFileSink> file = g_mount.file;
  if (file == nullptr) return;
  if (Status st = file->Reopen(); !st.ok()) {
    spdlog::error("SIGHUP: {}; still writing to the file opened before", st.message());
  } else {
    spdlog::info("SIGHUP: reopened the log file {}", file->path());
  }
}

}  // namespace remapfs::cli
