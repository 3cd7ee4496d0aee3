// A progress bar on stderr for the long offline commands (format, check,
// mark, resize-spare).
//
// Drawn only when stderr is a terminal and the output is not JSON: scripts
// and tests that read stderr see exactly the messages they saw before.
// One line, redrawn in place at most 10 times a second, erased when its
// scope ends, so that whatever is printed next (a summary, an error
// message) starts on a clean line.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "remapfs/progress.h"
#include "remapfs/status.h"

namespace remapfs::cli {

enum class ProgressUnit { kBytes, kSectors, kItems };

// One drawing of the bar: what is done, how far, since when.
struct ProgressSample {
  std::string_view label;  // "zeroing spare"
  uint64_t done = 0;
  uint64_t total = 0;
  double elapsed_seconds = 0;
  ProgressUnit unit = ProgressUnit::kBytes;
};

// Pure: the line for `sample`, at most width - 1 columns (the last column
// is left free, so no terminal wraps the line), e.g.
//   "zeroing spare  45% [=========>           ] 450 MiB/1.0 GiB 90 MiB/s ETA 0:06"
// Percent is rounded down (100% only when done == total); rate and ETA
// appear after one second with something done; the bar itself is dropped
// when fewer than 10 columns are left for it.
std::string FormatProgressLine(const ProgressSample& sample, size_t width);

// Columns of the terminal on stderr (TIOCGWINSZ), 80 when unknown.
size_t TerminalWidth();

// True when progress should be drawn on stderr (it is a terminal).
bool StderrIsTerminal();

class ProgressBar {
 public:
  // Draws on `out` (nullptr: draws nothing, every call is a no-op); the
  // default is stderr when it is a terminal.
  ProgressBar(std::string label, ProgressUnit unit, FILE* out = DefaultOutput());
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  static FILE* DefaultOutput() { return StderrIsTerminal() ? stderr : nullptr; }
  bool enabled() const { return out_ != nullptr; }

  // Draws when 100 ms have passed since the last drawing, and always the
  // first and the last (done == total) call. Drawing and erasing hold one
  // process-wide lock, and a log line erases the bar before it is written.
  void Update(uint64_t done, uint64_t total);
  // Starts a new phase in the same line (resize-spare's phases).
  void SetLabel(std::string label);
  // The core's callback; empty when disabled, so the core skips the calls.
  ProgressFn Fn();
  // Clears the line (once something was drawn).
  void Erase();
  // Erase with the drawing lock held (the log sink's way in).
  void EraseLocked();

  // Runs `work` while a thread polls `poll` (done, total) every 100 ms and
  // draws it; the thread only exists when the bar is enabled. For work that
  // publishes its progress instead of calling back (Volume::Stats()). A
  // short job may end between two polls and the published total vanish
  // with it: the caller, who knows what was done, draws the end.
  Status WhilePolling(const std::function<std::pair<uint64_t, uint64_t>()>& poll,
                      const std::function<Status()>& work);

 private:
  using Clock = std::chrono::steady_clock;
  void Draw(uint64_t done, uint64_t total, Clock::time_point now);

  std::string label_;
  ProgressUnit unit_;
  FILE* out_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace remapfs::cli
