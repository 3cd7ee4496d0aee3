// The CLI's progress bar (cli/progress.h): the exact line for given
// numbers, throttling and erasing, the polled variant, and log lines that
// erase the bar first. Output goes to a memory stream, never a terminal.
#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/progress.h"
#include "test_util.h"

namespace remapfs::cli {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

std::string Line(std::string_view label, uint64_t done, uint64_t total, double elapsed,
                 size_t width, ProgressUnit unit = ProgressUnit::kBytes) {
  return FormatProgressLine({label, done, total, elapsed, unit}, width);
}

// Captures what a bar writes.
class MemoryOut {
 public:
  MemoryOut() : file_(open_memstream(&data_, &size_)) { REQUIRE(file_ != nullptr); }
  ~MemoryOut() {
    fclose(file_);
    free(data_);
  }
  FILE* file() { return file_; }
  std::string Text() {
    fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  FILE* file_;
};

TEST_CASE("givenStart_whenFormatted_thenEmptyBarZeroPercentNoRate", "[progress_bar]") {
  CHECK(Line("zeroing spare", 0, kGiB, 0, 60) ==
        "zeroing spare   0% [>" + std::string(25, ' ') + "] 0 B/1.0 GiB");
  CHECK(Line("zeroing spare", 0, kGiB, 0, 60).size() == 59);
}

TEST_CASE("givenHalfAfterTwoSeconds_whenFormatted_thenRateAndEta", "[progress_bar]") {
  CHECK(Line("zeroing spare", kGiB / 2, kGiB, 2.0, 80) ==
        "zeroing spare  50% [=========>         ] 512.0 MiB/1.0 GiB 256.0 MiB/s ETA 0:02");
}

TEST_CASE("givenDone_whenFormatted_thenFullBarHundredPercentRateNoEta", "[progress_bar]") {
  CHECK(Line("x", kGiB, kGiB, 4.0, 50) == "x 100% [============] 1.0 GiB/1.0 GiB 256.0 MiB/s");
  CHECK(Line("x", 0, 0, 0, 30) == "x 100% [============] 0 B/0 B");
}

TEST_CASE("givenAlmostDone_whenFormatted_thenPercentRoundsDown", "[progress_bar]") {
  CHECK(Line("copying sectors", 999, 1000, 0.5, 40, ProgressUnit::kSectors) ==
        "copying sectors  99% 999/1000 sectors");
}

TEST_CASE("givenSectorsForHours_whenFormatted_thenCountRateAndLongEta", "[progress_bar]") {
  CHECK(Line("moving remapped data", 10, 100000, 10.0, 100, ProgressUnit::kSectors) ==
        "moving remapped data   0% [>" + std::string(35, ' ') +
            "] 10/100000 sectors 1/s "
            "ETA 27:46:30");
  CHECK(Line("writing metadata copies", 2, 4, 1.0, 60, ProgressUnit::kItems) ==
        "writing metadata copies  50% [=====>     ] 2/4 2/s ETA 0:01");
}

TEST_CASE("givenNarrowTerminal_whenFormatted_thenNoBarAndCut", "[progress_bar]") {
  CHECK(Line("zeroing spare", kGiB / 4, kGiB, 0, 40) == "zeroing spare  25% 256.0 MiB/1.0 GiB");
  CHECK(Line("zeroing spare", kGiB / 4, kGiB, 0, 20) == "zeroing spare  25% ");
  CHECK(Line("zeroing spare", kGiB / 4, kGiB, 0, 0).empty());
}

TEST_CASE("givenNoOutput_whenUsed_thenNoCallbackAndNothingDrawn", "[progress_bar]") {
  ProgressBar bar("zeroing spare", ProgressUnit::kBytes, nullptr);
  CHECK_FALSE(bar.enabled());
  CHECK_FALSE(bar.Fn());
  bar.Update(1, 2);  // a no-op
  int runs = 0;
  REQUIRE_OK(bar.WhilePolling([] { return std::pair<uint64_t, uint64_t>(1, 2); },
                              [&] { return ++runs, Status::Ok(); }));
  CHECK(runs == 1);
}

TEST_CASE("givenQuickUpdates_whenDrawn_thenFirstAndLastOnlyThenErased", "[progress_bar]") {
  MemoryOut out;
  const size_t w = TerminalWidth();
  {
    ProgressBar bar("zeroing spare", ProgressUnit::kBytes, out.file());
    ProgressFn fn = bar.Fn();
    REQUIRE(fn);
    fn(0, 100);
    fn(50, 100);  // within 100 ms of the first: skipped
    fn(100, 100);
  }
  CHECK(out.Text() == "\r" + Line("zeroing spare", 0, 100, 0, w) + "\033[K\r" +
                          Line("zeroing spare", 100, 100, 0, w) + "\033[K\r\033[K");
}

TEST_CASE("givenNothingDrawn_whenBarEnds_thenNothingWritten", "[progress_bar]") {
  MemoryOut out;
  { ProgressBar bar("zeroing spare", ProgressUnit::kBytes, out.file()); }
  CHECK(out.Text().empty());
}

TEST_CASE("givenPolledWork_whenRunning_thenPolledValuesDrawnUntilItEnds", "[progress_bar]") {
  MemoryOut out;
  std::atomic<uint64_t> done{0};
  {
    ProgressBar bar("copying sectors", ProgressUnit::kSectors, out.file());
    Status st = bar.WhilePolling([&] { return std::pair<uint64_t, uint64_t>(done.load(), 40); },
                                 [&] {
                                   for (int i = 0; i < 4; ++i) {
                                     std::this_thread::sleep_for(std::chrono::milliseconds(60));
                                     done += 10;
                                   }
                                   return Status::Ok();
                                 });
    REQUIRE_OK(st);
    const std::string polled = out.Text();
    CHECK(polled.find("  0% ") != std::string::npos);  // polled at once
    // then again every 100 ms of the 240 ms of work, with what it published
    CHECK(std::count(polled.begin(), polled.end(), '\r') >= 2);
    CHECK(polled.find("0/40 sectors", polled.find("0/40 sectors") + 1) != std::string::npos);
    bar.Update(40, 40);  // the caller draws the end
  }
  const std::string text = out.Text();
  CHECK(text.find("100% ") != std::string::npos);
  CHECK(text.size() >= 4);
  CHECK(text.substr(text.size() - 4) == "\r\033[K");
}

TEST_CASE("givenBarOnScreen_whenLogLineWritten_thenBarErasedFirst", "[progress_bar]") {
  MemoryOut out;
  ProgressBar bar("reading metadata copies", ProgressUnit::kSectors, out.file());
  bar.Update(1, 10);
  const size_t drawn = out.Text().size();
  const spdlog::level::level_enum level = spdlog::get_level();
  spdlog::set_level(spdlog::level::warn);  // the tests log nothing by default
  spdlog::warn("progress_bar_test: a log line while a bar is shown");
  spdlog::set_level(level);
  CHECK(out.Text().substr(drawn) == "\r\033[K");
  bar.Update(10, 10);  // drawn again on the line after the log line
  CHECK(out.Text().find("100%", drawn) != std::string::npos);
}

}  // namespace
}  // namespace remapfs::cli
