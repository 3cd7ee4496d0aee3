// Scrubber: a background surface scan of MAIN (SPEC control/scrub).
//
// One thread walks the requested sector ranges in chunks through
// Volume::ScrubRange: a healthy chunk costs one MAIN read under the shared
// lock; a failing one is bisected, its unreadable sectors become pending and
// its weak sectors (readable only after a retry) are remapped with their
// data. The scan paces itself to a byte rate so foreground I/O keeps most of
// the disk.
//
// Ownership: borrows the Volume, which must outlive the Scrubber. The thread
// exists only between Start and the end of the scan, so a Scrubber may be
// built before a fork (daemonize) as long as Start comes after it.
// Thread safety: every method may be called concurrently from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "remapfs/sector_list.h"
#include "remapfs/status.h"
#include "remapfs/volume.h"

namespace remapfs {

enum class ScrubState {
  kIdle,     // never started
  kRunning,  // the thread is scanning
  kDone,     // scanned every requested sector
  kStopped,  // Stop() was called, or an error ended the scan (last_error)
};

// "idle", "running", "done" or "stopped" (the SPEC `scrub_state` values).
std::string_view ScrubStateName(ScrubState state);

struct ScrubOptions {
  // Sectors per ScrubRange call (and bytes of memory per call: times the
  // sector size). 0: as many as fit in 1 MiB, at least one.
  uint64_t chunk_sectors = 0;
  // Average scan rate; 0 scans as fast as MAIN reads.
  uint64_t bytes_per_second = 64ull << 20;
};

struct ScrubProgress {
  ScrubState state = ScrubState::kIdle;
  uint64_t done = 0;   // sectors scanned so far in this scan
  uint64_t total = 0;  // sectors this scan covers
  uint64_t found = 0;  // sectors it made pending or remapped
};

class Scrubber {
 public:
  explicit Scrubber(Volume* volume, ScrubOptions options = {});
  // Stops a running scan and joins its thread (safe at unmount).
  ~Scrubber();
  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Starts scanning `ranges` in the order given (each inside MAIN), or the
  // whole of MAIN. Resets the progress counters. Busy while a scan runs;
  // InvalidArgument for an empty list or a range outside MAIN.
  Status Start(std::vector<SectorRange> ranges);
  Status StartWholeVolume();

  // Ends a running scan after the chunk in flight (state `stopped`) and
  // returns once its thread has exited; waits for no rate pause. A no-op
  // when no scan runs.
  void Stop();

  // Blocks until no scan runs (done, stopped or never started).
  void Wait();

  ScrubProgress Progress() const;

 private:
  void Run(std::vector<SectorRange> ranges);
  // Scans one range; false when the scan must end (stop or error).
  bool ScanRange(const SectorRange& range, uint64_t chunk,
                 std::chrono::steady_clock::time_point started);
  // Sleeps until the rate allows the next chunk; false if Stop() came.
  bool PaceUntil(std::chrono::steady_clock::time_point started);
  void Finish(ScrubState state);
  void JoinFinishedThread();

  Volume* const volume_;
  const ScrubOptions options_;

  std::mutex control_mu_;  // serializes Start/Stop/~Scrubber; never the thread
  std::thread thread_;     // guarded by control_mu_

  mutable std::mutex mu_;            // guards everything below
  std::condition_variable changed_;  // stop requested, or the scan ended
  bool stop_requested_ = false;
  ScrubProgress progress_;
};

}  // namespace remapfs
