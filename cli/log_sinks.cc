#include "log_sinks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "logging.h"

namespace remapfs::cli {
namespace {

std::atomic<uint64_t> g_write_failures{0};

int OpenForAppend(const std::string& path) {
  return open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

Status OpenError(const std::string& path, int err) {
  return Status::InvalidArgument("cannot open log file '" + path + "': " + std::strerror(err));
}

// True when all of `data` was written; a short write ends in failure too (a
// full disk), so a line is never reported written in part.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

uint64_t LogWriteFailures() { return g_write_failures.load(std::memory_order_relaxed); }

void CountLogWriteFailure() { g_write_failures.fetch_add(1, std::memory_order_relaxed); }

Status LogFileSink::Open(const std::string& path, std::shared_ptr<LogFileSink>* out) {
  int fd = OpenForAppend(path);
  if (fd < 0) return OpenError(path, errno);
  out->reset(new LogFileSink(path, fd));
  return Status::Ok();
}

std::shared_ptr<LogFileSink> LogFileSink::Stderr() {
  return std::shared_ptr<LogFileSink>(new LogFileSink("", STDERR_FILENO));
}

LogFileSink::~LogFileSink() {
  if (!path_.empty()) close(fd_);
}

Status LogFileSink::Reopen() {
  if (path_.empty()) return Status::Ok();
  int fd = OpenForAppend(path_);
  if (fd < 0) return OpenError(path_, errno);
  std::lock_guard lock(mutex_);
  close(fd_);
  fd_ = fd;
  return Status::Ok();
}

void LogFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t line;
  formatter_->format(msg, line);
  if (!WriteAll(fd_, line.data(), line.size())) CountLogWriteFailure();
}

void CountingSink::log(const spdlog::details::log_msg& msg) {
  try {
    inner_->log(msg);
  } catch (...) {
    CountLogWriteFailure();
  }
}

void CountingSink::flush() {
  try {
    inner_->flush();
  } catch (...) {
    // Only stdio-buffered sinks can fail here, and ours write each line
    // through at once: their failures were counted in log().
  }
}

void CountingSink::set_pattern(const std::string& pattern) { inner_->set_pattern(pattern); }

void CountingSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
  inner_->set_formatter(std::move(formatter));
}

void BufferSink::Replay(const std::vector<spdlog::sink_ptr>& to) {
  std::lock_guard lock(mutex_);
  for (const Line& line : lines_) {
    spdlog::details::log_msg msg(line.time, spdlog::source_loc{}, line.logger, line.level,
                                 line.text);
    for (const spdlog::sink_ptr& sink : to) {
      if (sink->should_log(line.level)) sink->log(msg);
    }
  }
  lines_.clear();
}

void SwitchSink::SwitchTo(std::vector<spdlog::sink_ptr> sinks, BufferSink* replay) {
  std::lock_guard lock(mutex_);
  if (replay != nullptr) replay->Replay(sinks);
  sinks_ = std::move(sinks);
}

void SwitchSink::sink_it_(const spdlog::details::log_msg& msg) {
  for (const spdlog::sink_ptr& sink : sinks_) {
    if (sink->should_log(msg.level)) sink->log(msg);
  }
}

void SwitchSink::flush_() {
  for (const spdlog::sink_ptr& sink : sinks_) sink->flush();
}

void BufferSink::sink_it_(const spdlog::details::log_msg& msg) {
  lines_.push_back(Line{msg.level, msg.time,
                        std::string(msg.logger_name.data(), msg.logger_name.size()),
                        std::string(msg.payload.data(), msg.payload.size())});
}

}  // namespace remapfs::cli
