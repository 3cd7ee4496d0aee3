// Progress of a long offline job (format, check, resize-spare), reported to
// whoever drives it. The core only counts; drawing is the CLI's business
// (cli/progress.h), so the core stays free of terminal code.
#pragma once

#include <cstdint>
#include <functional>

namespace remapfs {

// Called from the working thread with `done` of `total` units (bytes,
// sectors, moves: the job's doc says which). Contract for every caller:
// `done` never decreases within one job, the last call has done == total,
// there is at least one call for a job with a non-zero total, and calls
// come at most once per unit of some coarse chunk (never per byte). An
// empty function is never called, and costs one test per chunk.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

inline void Report(const ProgressFn& progress, uint64_t done, uint64_t total) {
  if (progress) progress(done, total);
}

}  // namespace remapfs
