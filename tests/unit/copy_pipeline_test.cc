// PipelinedCopy (core/copy_pipeline.h): batches reach the writer whole and
// in order, a failure stops the copy where the contract says, and a batch's
// write really runs while the next batch is read.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "copy_pipeline.h"

namespace remapfs {
namespace {

constexpr size_t kEntryBytes = 4;

// Records what the copy did; each read fills an entry with its index.
struct CopyLog {
  std::mutex mu;
  std::vector<size_t> reads, writes;  // the first entry of each batch, in order
  std::string bad_bytes;              // what a write found wrong, if anything

  Status Read(size_t b, size_t e, uint8_t* buf) {
    for (size_t i = b; i < e; ++i)
      for (size_t k = 0; k < kEntryBytes; ++k) buf[(i - b) * kEntryBytes + k] = uint8_t(i + k);
    std::lock_guard lock(mu);
    reads.push_back(b);
    return Status::Ok();
  }
  Status Write(size_t b, size_t e, const uint8_t* buf) {
    std::lock_guard lock(mu);
    for (size_t i = b; i < e; ++i)
      for (size_t k = 0; k < kEntryBytes; ++k)
        if (buf[(i - b) * kEntryBytes + k] != uint8_t(i + k))
          bad_bytes = "entry " + std::to_string(i);
    writes.push_back(b);
    return Status::Ok();
  }
};

}  // namespace

TEST_CASE("PipelinedCopy writes every batch whole, in order", "[copy_pipeline]") {
  CopyLog log;
  const Status st = PipelinedCopy(
      10, 3, kEntryBytes, [&](size_t b, size_t e, uint8_t* buf) { return log.Read(b, e, buf); },
      [&](size_t b, size_t e, uint8_t* buf) { return log.Write(b, e, buf); });
  REQUIRE(st.ok());
  CHECK(log.reads == std::vector<size_t>{0, 3, 6, 9});
  CHECK(log.writes == std::vector<size_t>{0, 3, 6, 9});
  CHECK(log.bad_bytes.empty());
}

TEST_CASE("PipelinedCopy of nothing does nothing", "[copy_pipeline]") {
  CopyLog log;
  auto read = [&](size_t b, size_t e, uint8_t* buf) { return log.Read(b, e, buf); };
  auto write = [&](size_t b, size_t e, uint8_t* buf) { return log.Write(b, e, buf); };
  REQUIRE(PipelinedCopy(0, 3, kEntryBytes, read, write).ok());
  CHECK(log.reads.empty());
  CHECK(log.writes.empty());
}

TEST_CASE("PipelinedCopy stops at a failed write: nothing written after it, one batch read past it",
          "[copy_pipeline]") {
  CopyLog log;
  const Status st = PipelinedCopy(
      20, 2, kEntryBytes, [&](size_t b, size_t e, uint8_t* buf) { return log.Read(b, e, buf); },
      [&](size_t b, size_t e, uint8_t* buf) {
        if (b == 4) return Status::IoError("spare write failed", ENOSPC);
        return log.Write(b, e, buf);
      });
  CHECK(st.IsIoError());
  CHECK(st.errno_value() == ENOSPC);
  CHECK(log.writes == std::vector<size_t>{0, 2});
  CHECK(log.reads == std::vector<size_t>{0, 2, 4, 6});
  CHECK(log.bad_bytes.empty());
}

TEST_CASE("PipelinedCopy stops at a failed read: that batch is not written", "[copy_pipeline]") {
  CopyLog log;
  const Status st = PipelinedCopy(
      20, 2, kEntryBytes,
      [&](size_t b, size_t e, uint8_t* buf) {
        if (b == 4) return Status::IoError("read failed");
        return log.Read(b, e, buf);
      },
      [&](size_t b, size_t e, uint8_t* buf) { return log.Write(b, e, buf); });
  CHECK(st.IsIoError());
  CHECK(log.reads == std::vector<size_t>{0, 2});
  CHECK(log.writes == std::vector<size_t>{0, 2});
}

// Batch 0's write and batch 1's read both fail: the copy reports the
// write's failure, the first in batch order.
TEST_CASE("PipelinedCopy reports the first failure in batch order", "[copy_pipeline]") {
  const Status st = PipelinedCopy(
      4, 2, kEntryBytes,
      [&](size_t b, size_t, uint8_t*) {
        return b == 2 ? Status::IoError("read failed", EIO) : Status::Ok();
      },
      [&](size_t, size_t, uint8_t*) { return Status::IoError("write failed", ENOSPC); });
  CHECK(st.errno_value() == ENOSPC);
}

// The point of the pipeline: batch 0's write waits (up to 10 s) for batch
// 1's read to start. Done one after the other, it would wait in vain.
TEST_CASE("PipelinedCopy reads the next batch while the last one is written", "[copy_pipeline]") {
  std::mutex mu;
  std::condition_variable cv;
  bool second_read_started = false, overlapped = false;
  const Status st = PipelinedCopy(
      4, 2, kEntryBytes,
      [&](size_t b, size_t, uint8_t*) {
        std::lock_guard lock(mu);
        if (b == 2) second_read_started = true;
        cv.notify_all();
        return Status::Ok();
      },
      [&](size_t b, size_t, uint8_t*) {
        std::unique_lock lock(mu);
        if (b == 0)
          overlapped = cv.wait_for(lock, std::chrono::seconds(10),
                                   [&] { return second_read_started; });
        return Status::Ok();
      });
  REQUIRE(st.ok());
  CHECK(overlapped);
}

}  // namespace remapfs
