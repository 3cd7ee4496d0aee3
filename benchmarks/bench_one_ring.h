// Two more device floors of bench_remapped_io, beside IssueRuns
// (bench_run_floor.h), to ask whether submitting a request's runs for both
// devices together would be faster than the Volume's per-device batches
// (issue 10, target 1).
//
// IssueRuns sends a request's MAIN runs in ReadBatch/WriteBatch calls of up
// to 128 runs, then its spare runs: each call is one io_uring submit-and-wait
// on the thread's ring, so the two devices' runs wait one after the other.
// Here both devices' runs go together, merged as FileDevice merges a
// batch's (neighbours on a device become one vectored op), on raw
// descriptors of the same two files (opened as the Volume opens them; no
// bounce buffers, so O_DIRECT needs --aligned-buffers):
// - IssueRunsOneRing: through RunOnThreadRing (core/uring_batch.h), in
//   chunks of kUringMaxOps (128) ops.
// - IssueRunsOneSubmission: every op of the request in one submission,
//   on a ring of this file's own with room for a whole request (2048 ops:
//   a 1 MiB request has at most 2048 sectors).
// A lone run is one pread/pwrite, as the Volume issues it. Each op must
// transfer its whole length, else the program exits with a message: a floor
// has no fallback path to time.
//
// Thread safety: each thread uses its own ring; RawFiles is read-only once
// open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "remapfs/remap_table.h"

namespace remapfs::bench {

// MAIN and the spare as descriptors: O_RDWR, O_DIRECT when `direct`, as
// OpenFileDevice opens them (without the lock). Exits on failure.
class RawFiles {
 public:
  RawFiles(const std::string& main, const std::string& spare, bool direct);
  ~RawFiles();
  RawFiles(const RawFiles&) = delete;
  RawFiles& operator=(const RawFiles&) = delete;

  int Fd(DeviceRole role) const { return role == DeviceRole::kMain ? main_ : spare_; }

 private:
  int main_ = -1;
  int spare_ = -1;
};

void IssueRunsOneRing(const RawFiles& files, const std::vector<DeviceRun>& runs, uint8_t* data,
                      bool write);
void IssueRunsOneSubmission(const RawFiles& files, const std::vector<DeviceRun>& runs,
                            uint8_t* data, bool write);

// io_uring submissions per request, on average over `requests`: as
// IssueRuns makes them (per device, 128 runs each), in chunks of 128 ops
// for both devices (IssueRunsOneRing), and one per request of several runs;
// and the ops (a lone run's plain call among them), runs merged where they
// follow each other on a device.
struct Submissions {
  double per_device = 0, one_ring = 0, one = 0, ops = 0;
};
Submissions CountSubmissions(const std::vector<std::vector<DeviceRun>>& requests);

// The share of the machine's CPU time (all cores, /proc/stat) that was
// busy, neither idle nor waiting on I/O, since the meter was made.
class CpuMeter {
 public:
  CpuMeter();
  double Busy() const;

 private:
  uint64_t busy_ = 0, total_ = 0;
};

}  // namespace remapfs::bench
