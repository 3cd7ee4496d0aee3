// spdlog sinks of the remapfs binary that never throw and never lose count:
// every log line that could not be written adds one to LogWriteFailures()
// (logging.h), which the mount's status shows. spdlog's own file sink
// buffers through stdio (a full disk shows at flush time, for many lines at
// once) and throws; the journal sink throws on a refused send.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>

#include "remapfs/status.h"

namespace remapfs::cli {

// Adds one to the process-wide count of lost log lines. Thread-safe.
void CountLogWriteFailure();

// Appends each line to a file with one write(2), so a line is either written
// whole or counted as lost (ENOSPC, EIO, a short write). Reopen() swaps in a
// fresh descriptor for the same path: after logrotate renames the file, new
// lines land in a new file at the path. Thread-safe (base_sink's mutex).
class LogFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // InvalidArgument naming the file and the errno when it cannot be opened.
  static Status Open(const std::string& path, std::shared_ptr<LogFileSink>* out);
  // Writes to stderr (fd 2, whatever it is at the time; never closed), so a
  // failed write to it (a closed pipe, a full disk) is counted too.
  static std::shared_ptr<LogFileSink> Stderr();
  ~LogFileSink() override;

  // Opens the path again; on failure keeps writing to the old descriptor and
  // returns the reason. A no-op for Stderr().
  Status Reopen();
  const std::string& path() const { return path_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  LogFileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;  // empty for Stderr()
  int fd_;                  // guarded by mutex_
};

class BufferSink;

// The mount's logger writes through one SwitchSink for the whole life of the
// process: moving the log to its final place (after daemonizing) swaps the
// sinks under this sink's lock instead of replacing spdlog's default logger,
// which other threads may be using.
class SwitchSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SwitchSink(std::vector<spdlog::sink_ptr> sinks) : sinks_(std::move(sinks)) {}
  // Sends what `replay` holds to `sinks`, then writes to them alone; no line
  // logged meanwhile is lost or out of order.
  void SwitchTo(std::vector<spdlog::sink_ptr> sinks, BufferSink* replay);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  std::vector<spdlog::sink_ptr> sinks_;  // guarded by mutex_
};

// Forwards to `inner` and turns any exception it throws into one counted
// lost line: a log call never throws into the code that logs.
class CountingSink final : public spdlog::sinks::sink {
 public:
  explicit CountingSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}
  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};

// Keeps the lines logged before daemonizing, formatted, so the daemon's log
// (journal, syslog, file) tells the whole story of the mount. Replay() sends
// them to another sink, in order, with their level and time.
class BufferSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Sends the lines to each of `to` that takes their level, and forgets them.
  void Replay(const std::vector<spdlog::sink_ptr>& to);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  struct Line {
    spdlog::level::level_enum level;
    spdlog::log_clock::time_point time;
    std::string logger;
    std::string text;
  };
  std::vector<Line> lines_;  // guarded by mutex_
};

}  // namespace remapfs::cli
