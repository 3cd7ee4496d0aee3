#include "logging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <memory>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>

namespace remapfs::cli {
namespace {

constexpr const char* kLoggerName = "remapfs";

void Install(std::shared_ptr<spdlog::logger> logger, spdlog::level::level_enum level) {
  logger->set_level(level);
  // Errors must reach the file even if the daemon is killed right after.
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

// spdlog's fopen blocks on a FIFO until a reader opens it. A FIFO with a
// reader (`--log-file /dev/stderr` in a pipeline) is fine; one without is
// refused instead of hanging the mount.
bool IsFifoWithoutReader(const std::string& file) {
  struct stat st {};
  if (stat(file.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return false;
  int fd = open(file.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) close(fd);
  return fd < 0 && errno == ENXIO;
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
  std::shared_ptr<spdlog::logger> logger;
  if (file.empty()) {
    logger = std::make_shared<spdlog::logger>(kLoggerName,
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  } else {
    // spdlog would create missing directories; a typo should fail instead.
    std::filesystem::path parent = std::filesystem::path(file).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      return Status::InvalidArgument("cannot open log file '" + file + "': no directory '" +
                                     parent.string() + "'");
    }
    if (IsFifoWithoutReader(file)) {
      return Status::InvalidArgument("cannot open log file '" + file +
                                     "': a FIFO that nobody reads");
    }
    try {
      logger = std::make_shared<spdlog::logger>(
          kLoggerName, std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, false));
    } catch (const spdlog::spdlog_ex& e) {
      return Status::InvalidArgument("cannot open log file '" + file + "': " + e.what());
    }
  }
  Install(std::move(logger), level);
  return Status::Ok();
}

void SwitchLoggingToSyslog() {
  auto level = spdlog::default_logger()->level();
  auto sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(kLoggerName, LOG_PID, LOG_DAEMON,
                                                              /*enable_formatting=*/false);
  Install(std::make_shared<spdlog::logger>(kLoggerName, std::move(sink)), level);
}

}  // namespace remapfs::cli
