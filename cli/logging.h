// Logging setup for the remapfs binary. The core logs through spdlog's
// default logger; these functions only choose where that logger writes.
//
// A mount logs, until the mount exists, to stderr (warnings and errors only
// unless --log-level was given, so a successful mount prints nothing) and
// then to its log: --log-file; else, in the foreground, stderr (or the
// journal when stderr is systemd's journal stream); else, daemonized, the
// journal, syslog (/dev/log), or a file named on stderr before daemonizing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/common.h>

#include "remapfs/status.h"

namespace remapfs::cli {

// Accepts exactly trace, debug, info, warn, error.
bool ParseLogLevel(std::string_view name, spdlog::level::level_enum* out);

// The offline commands' logger: to `file` (appending) when non-empty, else
// to stderr. InvalidArgument naming the file when it cannot be opened.
Status SetupLogging(spdlog::level::level_enum level, const std::string& file);

struct MountLogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  bool level_given = false;  // --log-level or -o log_level=: show it on stderr
  std::string file;          // --log-file; empty: see above
  bool foreground = false;
  std::string mountpoint;  // absolute; names the fallback file
};

// Installs the mount's logger, before anything is opened. May print one
// line on stderr: where a daemon without journal or syslog will log.
// InvalidArgument naming the log file when it cannot be opened.
Status SetupMountLogging(const MountLogOptions& options);

// Called once the mount exists (in the daemon, after daemonizing): moves
// the logger to the mount's log and hands it the lines logged so far.
void MountLoggingReady();

// SIGHUP: opens the log file again at its path (logrotate has renamed it);
// a no-op for the journal and syslog. Logs a failure, never throws.
void ReopenLogFile();

// How many log lines could not be written since the start (a full disk
// under the log file, a refused journal send). Thread-safe.
uint64_t LogWriteFailures();

}  // namespace remapfs::cli
