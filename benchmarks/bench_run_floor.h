// The device floor of bench_remapped_io: the device runs a Volume issues
// for a request, issued straight to the devices, without the Volume (no
// table lookup, no range or table locks, no pending check).
//
// RunPlan holds, for every request of a job that reads or writes whole
// blocks of `block` bytes at multiples of `block`, the runs the spare's
// remap table splits it into (RemapTable::Runs, the Volume's own
// ForEachRun), computed once before the timing. IssueRuns sends one
// request's runs to the devices exactly as the Volume does
// (core/volume_io.cc, RunBatches): a lone run as one plain Read/Write,
// otherwise per device in ReadBatch/WriteBatch calls of up to 128 runs,
// each issued when full, then MAIN's rest and the spare's rest.
//
// Thread safety: a RunPlan is immutable once loaded; IssueRuns may run from
// many threads at once, as the Volume's requests do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/remap_table.h"

namespace remapfs::bench {

class RunPlan {
 public:
  // Loads the remap table from the spare file `spare` (read-only, no
  // repair: the file is left as it is) and splits every `block`-sized
  // request in [0, main_bytes) at multiples of `block`. Exits on failure.
  static RunPlan Load(const std::string& spare, uint64_t main_bytes, size_t block);

  // The runs of the request at byte `offset`, a multiple of the block.
  const std::vector<DeviceRun>& RunsAt(uint64_t offset) const { return runs_[offset / block_]; }
  // Device runs per request, on average over the plan.
  double MeanRuns() const;
  // The runs of every request, by offset / block.
  const std::vector<std::vector<DeviceRun>>& Requests() const { return runs_; }

 private:
  size_t block_ = 0;
  std::vector<std::vector<DeviceRun>> runs_;  // by offset / block_
};

// Reads (write false) or writes `runs` of one request whose buffer is
// `data` from or to `main` and `spare`, as the Volume batches them. Ok, or
// the first failure met.
Status IssueRuns(BlockDevice& main, BlockDevice& spare, const std::vector<DeviceRun>& runs,
                 uint8_t* data, bool write);

}  // namespace remapfs::bench
