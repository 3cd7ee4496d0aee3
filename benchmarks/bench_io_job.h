// The timed request loop of bench_remapped_io, shared by its Volume jobs
// and their device floors (bench_run_floor.h), so both make the very same
// requests: same threads, regions, offsets, sizes and buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "remapfs/status.h"

namespace remapfs::bench {

struct Job {
  const char* name;
  bool write;
  bool sequential;  // each thread in its own region, block after block; else random blocks
  size_t block;     // bytes per request
  int threads;
  const char* target;
};

// One request: `len` bytes at `at`, from or into `buf`. Called from many
// threads at once.
using RequestFn = std::function<Status(uint64_t at, uint8_t* buf, size_t len, bool write)>;

// MiB/s of `job` over [0, volume_bytes) for `seconds`, each request made
// by `request`. Buffers sit 16 bytes past a page boundary unless
// `aligned_buffers`. Exits the program when a request fails.
double RunJob(const Job& job, uint64_t volume_bytes, double seconds, bool aligned_buffers,
              const RequestFn& request);

}  // namespace remapfs::bench
