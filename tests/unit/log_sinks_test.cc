// The mount's log sinks: a line that cannot be written is counted in
// LogWriteFailures() and never throws; a reopened file sink writes to the
// file now at its path.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/logger.h>
#include <catch2/catch.hpp>

#include "cli/log_sinks.h"
#include "cli/logging.h"
#include "test_util.h"

using remapfs::testing::TempDirIn;

namespace remapfs::cli {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ThrowingSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg&) override { throw std::runtime_error("refused"); }
  void flush_() override {}
};

TEST_CASE("a file sink on a full device counts every line and never throws", "[log_sinks]") {
  std::shared_ptr<LogFileSink> sink;
  REQUIRE(LogFileSink::Open("/dev/full", &sink).ok());
  spdlog::logger logger("t", sink);
  const uint64_t before = LogWriteFailures();
  for (int i = 0; i < 3; ++i) REQUIRE_NOTHROW(logger.error("line {}", i));
  REQUIRE_NOTHROW(logger.flush());
  CHECK(LogWriteFailures() - before == 3);
}

TEST_CASE("a file sink that writes counts nothing", "[log_sinks]") {
  TempDirIn dir("/tmp");
  std::shared_ptr<LogFileSink> sink;
  REQUIRE(LogFileSink::Open(dir.path() + "/log", &sink).ok());
  spdlog::logger logger("t", sink);
  const uint64_t before = LogWriteFailures();
  logger.info("hello");
  CHECK(LogWriteFailures() == before);
  CHECK(ReadAll(dir.path() + "/log").find("hello\n") != std::string::npos);
}

TEST_CASE("Reopen writes to the new file at the path after a rename", "[log_sinks]") {
  TempDirIn dir("/tmp");
  const std::string path = dir.path() + "/log";
  std::shared_ptr<LogFileSink> sink;
  REQUIRE(LogFileSink::Open(path, &sink).ok());
  spdlog::logger logger("t", sink);
  logger.info("before");
  REQUIRE(std::rename(path.c_str(), (path + ".1").c_str()) == 0);
  logger.info("still old");
  REQUIRE(sink->Reopen().ok());
  logger.info("after");
  CHECK(ReadAll(path + ".1").find("before") != std::string::npos);
  CHECK(ReadAll(path + ".1").find("still old") != std::string::npos);
  CHECK(ReadAll(path + ".1").find("after") == std::string::npos);
  CHECK(ReadAll(path).find("after") != std::string::npos);
}

TEST_CASE("Reopen that fails keeps the old file", "[log_sinks]") {
  TempDirIn dir("/tmp");
  const std::string path = dir.path() + "/sub/log";
  REQUIRE(mkdir((dir.path() + "/sub").c_str(), 0700) == 0);
  std::shared_ptr<LogFileSink> sink;
  REQUIRE(LogFileSink::Open(path, &sink).ok());
  spdlog::logger logger("t", sink);
  REQUIRE(std::rename(path.c_str(), (dir.path() + "/kept").c_str()) == 0);
  REQUIRE(rmdir((dir.path() + "/sub").c_str()) == 0);
  Status st = sink->Reopen();
  CHECK_FALSE(st.ok());
  CHECK(st.message().find(path) != std::string::npos);
  logger.info("to the old file");
  CHECK(ReadAll(dir.path() + "/kept").find("to the old file") != std::string::npos);
}

TEST_CASE("a counting sink turns a throwing sink into counted lines", "[log_sinks]") {
  auto sink = std::make_shared<CountingSink>(std::make_shared<ThrowingSink>());
  spdlog::logger logger("t", sink);
  const uint64_t before = LogWriteFailures();
  REQUIRE_NOTHROW(logger.warn("a"));
  REQUIRE_NOTHROW(logger.warn("b"));
  CHECK(LogWriteFailures() - before == 2);
}

TEST_CASE("a buffer sink replays its lines in order with their level", "[log_sinks]") {
  TempDirIn dir("/tmp");
  auto buffer = std::make_shared<BufferSink>();
  spdlog::logger early("t", buffer);
  early.info("first");
  early.warn("second");
  std::shared_ptr<LogFileSink> file;
  REQUIRE(LogFileSink::Open(dir.path() + "/log", &file).ok());
  file->set_pattern("%l %v");
  buffer->Replay({file});
  CHECK(ReadAll(dir.path() + "/log") == "info first\nwarning second\n");
}

TEST_CASE("a switch sink moves to new sinks after replaying the buffer, in order", "[log_sinks]") {
  TempDirIn dir("/tmp");
  auto buffer = std::make_shared<BufferSink>();
  auto switcher = std::make_shared<SwitchSink>(std::vector<spdlog::sink_ptr>{buffer});
  spdlog::logger logger("t", switcher);
  logger.info("before");
  std::shared_ptr<LogFileSink> file;
  REQUIRE(LogFileSink::Open(dir.path() + "/log", &file).ok());
  file->set_pattern("%v");
  switcher->SwitchTo({file}, buffer.get());
  logger.info("after");
  CHECK(ReadAll(dir.path() + "/log") == "before\nafter\n");
}

}  // namespace
}  // namespace remapfs::cli
