// Logging setup for the remapfs binary. The core logs through spdlog's
// default logger; these functions only choose where that logger writes.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/common.h>

#include "remapfs/status.h"

namespace remapfs::cli {

// Accepts exactly trace, debug, info, warn, error.
bool ParseLogLevel(std::string_view name, spdlog::level::level_enum* out);

// Installs the default logger: to `file` (appending) when non-empty, else to
// stderr. InvalidArgument naming the file when it cannot be opened.
Status SetupLogging(spdlog::level::level_enum level, const std::string& file);

// After daemonizing, stderr is /dev/null: route the default logger to
// syslog (ident "remapfs") instead, keeping its level.
void SwitchLoggingToSyslog();

}  // namespace remapfs::cli
