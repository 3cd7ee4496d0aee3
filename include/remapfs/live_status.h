// The live status page: a mount's counters in POSIX shared memory, so that
// `remapfs status` reads them without going through FUSE or any lock of the
// daemon (a stuck or SIGSTOPped daemon cannot make a reader wait).
//
// One Boost.Interprocess managed_shared_memory segment per mounted volume,
// named LiveSegmentName(volume id) ("remapfs-<32 hex digits>", so
// /dev/shm/remapfs-<hex> on Linux), mode 0644: any user may read it, only
// the daemon writes. It holds one LivePage. The identity (pid, paths) is
// written once before the segment gets its final name; the counters are
// words of std::atomic<uint64_t> in two slots, each under its own sequence
// number (a seqlock): the publisher writes the older slot, so one slot is
// always whole even if the publisher stops in the middle of a write, and a
// reader takes the newest whole slot without ever waiting.
//
// Lifetime: the publisher replaces any segment of that name (a stale one
// left by a daemon that died) and removes it in its destructor (a clean
// unmount). A reader treats a page whose pid is no longer alive as absent.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "remapfs/scrubber.h"
#include "remapfs/status.h"
#include "remapfs/volume.h"

namespace remapfs {

// Everything status shows that changes while mounted.
struct LiveStats {
  VolumeStats volume;
  ScrubProgress scrub;
  uint64_t inject_latency_ms = 0;
  uint64_t log_write_failures = 0;  // log lines that could not be written
  uint64_t heartbeat_unix_ms = 0;   // when the publisher last wrote the page
  // Read + write errors per minute of the last hour: (unix minute, count).
  std::vector<std::pair<uint64_t, uint64_t>> error_minutes;

  // Read + write errors counted in the 60 minutes before `now_unix_ms`.
  uint64_t ErrorsLastHour(uint64_t now_unix_ms) const;
};

// Who publishes the page; fixed for the life of a mount.
struct LiveIdentity {
  std::string volume_id;  // 32 hex digits
  pid_t pid = 0;
  std::string mountpoint, main_path, spare_path;
};

// What a reader gets: the identity and one consistent copy of the stats.
struct LiveReading {
  LiveIdentity identity;
  LiveStats stats;
};

inline constexpr uint32_t kLivePageVersion = 1;
inline constexpr size_t kLivePathBytes = 4096;      // paths longer are cut
inline constexpr size_t kLiveLastErrorBytes = 256;  // last_error longer is cut
inline constexpr size_t kLiveErrorMinutes = 60;

// "remapfs-" + hex of the 16-byte volume id.
std::string LiveSegmentName(const std::string& volume_id_hex);
std::string VolumeIdHex(const std::array<uint8_t, 16>& id);
uint64_t UnixMillisNow();

class LiveStatusPublisher {
 public:
  struct Options {
    std::chrono::milliseconds interval{250};
    // The process's count of log lines it could not write.
    std::function<uint64_t()> log_write_failures = [] { return uint64_t{0}; };
    // The clock of heartbeat and error minutes (tests move it).
    std::function<uint64_t()> now_unix_ms = UnixMillisNow;
  };
  // `sample` returns the current stats (Volume::Stats never takes the
  // table lock, so this never waits for I/O); the publisher fills
  // log_write_failures, heartbeat and the error minutes itself. Creates the
  // segment (replacing a stale one) and publishes once; Start() begins the
  // periodic thread. On failure (no /dev/shm, ...) returns the error: the
  // mount runs on without a live page.
  static Status Create(const LiveIdentity& identity, std::function<LiveStats()> sample,
                       Options options, std::unique_ptr<LiveStatusPublisher>* out);
  ~LiveStatusPublisher();  // stops the thread, removes the segment

  void Start();
  void PublishNow();
  // The page as a reader sees it (what control/status.json shows).
  LiveReading Read() const;

 private:
  struct Impl;
  explicit LiveStatusPublisher(std::unique_ptr<Impl> impl);
  void Loop();

  std::unique_ptr<Impl> impl_;
  std::mutex mu_;          // guards stop_
  std::mutex publish_mu_;  // serializes PublishNow (the seqlock has one writer)
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Reads the page of segment `name`. NotFound when there is no such segment,
// or its daemon is gone (pid not alive: a stale page), or it is not a page
// of this version.
Status ReadLivePage(const std::string& name, LiveReading* out);
// The names of every live-status segment present (stale ones included).
std::vector<std::string> ListLiveSegments();

}  // namespace remapfs
