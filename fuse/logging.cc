#include "logging.h"

#include <syslog.h>

#include <filesystem>
#include <memory>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

namespace remapfs::cli {
namespace {

constexpr const char* kLoggerName = "remapfs";

void Install(std::shared_ptr<spdlog::logger> logger,
             spdlog::level::level_enum level) {
  logger->set_level(level);
  // Errors must reach the file even if the daemon is killed right after.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace

bool ParseLogLevel(std::string_view name, spdlog::level::level_enum* out) {
  using spdlog::level::level_enum;
  static constexpr std::pair<std::string_view, level_enum> kLevels[] = {
      {"trace", level_enum::trace}, {"debug", level_enum::debug},
      {"info", level_enum::info},   {"warn", level_enum::warn},
      {"error", level_enum::err},
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
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>(
        kLoggerName, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    // spdlog would create missing directories; a typo should fail instead.
    std::filesystem::path parent = std::filesystem::path(file).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      return Status::InvalidArgument("cannot open log file '" + file +
                                     "': no directory '" + parent.string() +
                                     "'");
    }
    try {
      logger = std::make_shared<spdlog::logger>(
          kLoggerName,
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, false));
    } catch (const spdlog::spdlog_ex& e) {
      return Status::InvalidArgument("cannot open log file '" + file +
                                     "': " + e.what());
    }
  }
  Install(std::move(logger), level);
  return Status::Ok();
}

void SwitchLoggingToSyslog() {
  auto level = spdlog::default_logger()->level();
  auto sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(
      kLoggerName, LOG_PID, LOG_DAEMON, /*enable_formatting=*/false);
  Install(std::make_shared<spdlog::logger>(kLoggerName, std::move(sink)),
          level);
}

}  // namespace remapfs::cli
