// The progress bar (progress.h): a pure formatter, and the little state
// that throttles and erases it.
#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

namespace remapfs::cli {
namespace {

// The bar on screen, if any, and the lock for drawing on stderr: a log line
// (from any thread) erases the bar first, so it starts on a clean line.
std::mutex g_draw_mu;
ProgressBar* g_active = nullptr;

class EraseBarSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg&) override {
    std::lock_guard lock(g_draw_mu);
    if (g_active) g_active->EraseLocked();
  }
  void flush_() override {}
};

// Put in front of the default logger's sinks, once per logger.
void InstallEraseSink() {
  static const auto sink = std::make_shared<EraseBarSink>();
  auto& sinks = spdlog::default_logger()->sinks();
  if (std::find(sinks.begin(), sinks.end(), sink) == sinks.end()) sinks.insert(sinks.begin(), sink);
}

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr size_t kMinBarColumns = 10;

std::string Bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && bytes >= 1024) {
    bytes /= 1024;
    ++unit;
  }
  if (unit == 0) return fmt::format("{:.0f} B", bytes);
  return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string Counts(const ProgressSample& s) {
  switch (s.unit) {
    case ProgressUnit::kBytes: return Bytes(double(s.done)) + "/" + Bytes(double(s.total));
    case ProgressUnit::kSectors: return fmt::format("{}/{} sectors", s.done, s.total);
    case ProgressUnit::kItems: break;
  }
  return fmt::format("{}/{}", s.done, s.total);
}

std::string Duration(uint64_t seconds) {
  if (seconds >= 3600)
    return fmt::format("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
  return fmt::format("{}:{:02}", seconds / 60, seconds % 60);
}

// " RATE ETA m:ss" once a second has passed with something done; no ETA
// when finished.
std::string RateAndEta(const ProgressSample& s) {
  if (s.elapsed_seconds < 1.0 || s.done == 0) return "";
  const double rate = double(s.done) / s.elapsed_seconds;
  std::string text = s.unit == ProgressUnit::kBytes ? " " + Bytes(rate) + "/s"
                                                    : fmt::format(" {:.0f}/s", rate);
  if (s.done < s.total)
    text += " ETA " + Duration(static_cast<uint64_t>(double(s.total - s.done) / rate + 0.5));
  return text;
}

std::string Bar(uint64_t done, uint64_t total, size_t columns) {
  const auto filled = static_cast<size_t>(
      total == 0 ? columns : static_cast<unsigned __int128>(done) * columns / total);
  std::string bar(filled, '=');
  if (filled < columns) bar += '>';
  bar.resize(columns, ' ');
  return "[" + bar + "]";
}

}  // namespace

std::string FormatProgressLine(const ProgressSample& s, size_t width) {
  const uint64_t done = std::min(s.done, s.total);
  const auto percent = static_cast<unsigned>(
      s.total == 0 ? 100 : static_cast<unsigned __int128>(done) * 100 / s.total);
  const std::string left = fmt::format("{} {:>3}%", s.label, percent);
  const std::string right = " " + Counts(s) + RateAndEta(s);
  const size_t room = width == 0 ? 0 : width - 1;
  const size_t fixed = left.size() + 1 + 2 + right.size();  // " [" and "]"
  if (room >= fixed + kMinBarColumns) return left + " " + Bar(done, s.total, room - fixed) + right;
  std::string line = left + right;
  if (line.size() > room) line.resize(room);
  return line;
}

size_t TerminalWidth() {
  struct winsize ws {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, ProgressUnit unit, FILE* out)
    : label_(std::move(label)), unit_(unit), out_(out) {
  if (!out_) return;
  InstallEraseSink();
  std::lock_guard lock(g_draw_mu);
  g_active = this;
}

ProgressBar::~ProgressBar() {
  if (!out_) return;
  std::lock_guard lock(g_draw_mu);
  EraseLocked();
  if (g_active == this) g_active = nullptr;
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!out_) return;
  std::lock_guard lock(g_draw_mu);
  const Clock::time_point now = Clock::now();
  if (drawn_ && done < total && now - last_draw_ < kRedrawInterval) return;
  Draw(done, total, now);
}

void ProgressBar::SetLabel(std::string label) {
  std::lock_guard lock(g_draw_mu);
  if (label == label_) return;
  label_ = std::move(label);
  start_ = Clock::now();  // rate and ETA are per phase
  drawn_ = false;         // a new phase is drawn at once
}

ProgressFn ProgressBar::Fn() {
  if (!out_) return {};
  return [this](uint64_t done, uint64_t total) { Update(done, total); };
}

void ProgressBar::Draw(uint64_t done, uint64_t total, Clock::time_point now) {
  const std::chrono::duration<double> elapsed = now - start_;
  const ProgressSample sample{label_, done, total, elapsed.count(), unit_};
  fmt::print(out_, "\r{}\033[K", FormatProgressLine(sample, TerminalWidth()));
  std::fflush(out_);
  last_draw_ = now;
  drawn_ = true;
}

void ProgressBar::Erase() {
  if (!out_) return;
  std::lock_guard lock(g_draw_mu);
  EraseLocked();
}

void ProgressBar::EraseLocked() {
  if (!out_ || !drawn_) return;
  fmt::print(out_, "\r\033[K");
  std::fflush(out_);
  drawn_ = false;
}

Status ProgressBar::WhilePolling(const std::function<std::pair<uint64_t, uint64_t>()>& poll,
                                 const std::function<Status()>& work) {
  if (!out_) return work();
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::thread poller([&] {
    std::unique_lock lock(mu);
    while (!stop) {
      const auto [done, total] = poll();
      // Zero total: the work has not started (or is over); nothing to say.
      if (total != 0) Update(done, total);
      cv.wait_for(lock, kRedrawInterval, [&] { return stop; });
    }
  });
  Status st = work();
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_one();
  poller.join();
  return st;
}

}  // namespace remapfs::cli
