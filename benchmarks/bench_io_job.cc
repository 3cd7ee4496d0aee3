// The timed request loop of bench_remapped_io (bench_io_job.h).
#include "bench_io_job.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace remapfs::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A buffer of `len` bytes, 16 bytes past a 4 KiB boundary unless aligned:
// where glibc's malloc puts the FUSE adapter's read buffer (and libfuse its
// write data).
struct Buffer {
  Buffer(size_t len, bool aligned) : storage(len + 8192) {
    const auto base = reinterpret_cast<uintptr_t>(storage.data());
    data = storage.data() + ((4096 - base % 4096) % 4096) + (aligned ? 0 : 16);
    std::memset(data, 0x5a, len);
  }
  std::vector<uint8_t> storage;
  uint8_t* data;
};

}  // namespace

double RunJob(const Job& job, uint64_t volume_bytes, double seconds, bool aligned_buffers,
              const RequestFn& request) {
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> failed{false};
  const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < job.threads; ++t) {
    threads.emplace_back([&, t] {
      Buffer buf(job.block, aligned_buffers);
      std::mt19937_64 rng(t + 100);
      const uint64_t region = volume_bytes / job.threads;
      uint64_t at = t * region, done = 0;
      while (Clock::now() < end) {
        if (!job.sequential) at = rng() % (volume_bytes / job.block) * job.block;
        Status st = request(at, buf.data, job.block, job.write);
        if (!st.ok()) {
          std::fprintf(stderr, "%s at %llu: %s\n", job.name, (unsigned long long)at,
                       st.ToString().c_str());
          failed = true;
          return;
        }
        done += job.block;
        if (job.sequential && (at += job.block) + job.block > (t + 1) * region) at = t * region;
      }
      bytes += done;
    });
  }
  for (auto& th : threads) th.join();
  if (failed) std::exit(1);
  return static_cast<double>(bytes) / (1 << 20) / seconds;
}

}  // namespace remapfs::bench
