// SpareAllocator: hands out spare *slots* (reservations.h), lowest first,
// or as runs placed at the never-allocated tail.
//
// Reserved sectors have no slot, so the allocator cannot return one. Every
// slot can be allocated; slots released by Free are reused, and so are the
// slots AllocateRunsAtTail skips. Allocate and Free cost O(log n) (a min-heap
// of released slots below a forward cursor; the cursor only moves forward,
// so skipping slots marked used while loading is amortized O(1)).
// AllocateRunsAtTail costs O(slots taken + slots skipped), and never scans
// past the stretch it hands out.
//
// Not thread-safe: the owner (Volume) serializes calls under its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "remapfs/status.h"

namespace remapfs {

class SpareAllocator {
 public:
  explicit SpareAllocator(uint64_t slot_count);

  // While loading metadata: records a slot as already in use.
  // InvalidArgument if out of range or already used.
  Status MarkUsed(uint64_t slot);

  // The lowest free slot; NoSpace (and nothing changes) when none is left.
  Status Allocate(uint64_t* slot);
  // `n` slots, all or nothing: NoSpace and no change if fewer are free.
  Status AllocateMany(uint64_t n, std::vector<uint64_t>* slots);
  // InvalidArgument if the slot is not in use.
  Status Free(uint64_t slot);

  // How many free slots to leave before run `run`, when the lowest slot it
  // could start at is `first_free`.
  using SkipFn = std::function<uint64_t(size_t run, uint64_t first_free)>;
  // Runs of `run_lengths[i]` consecutive slots, in order, back to back from
  // the lowest free slot at or above the cursor, each after the
  // `skip_before` slots the callback asks for. The skipped slots stay free
  // (lower than the cursor, so Allocate hands them out first). `slots` gets
  // the runs' slots in order. All or nothing: NoSpace and no change unless
  // every slot of the stretch is free and inside the spare, so a caller
  // falls back to AllocateMany.
  Status AllocateRunsAtTail(const std::vector<uint64_t>& run_lengths, const SkipFn& skip_before,
                            std::vector<uint64_t>* slots);

  bool IsUsed(uint64_t slot) const { return slot < used_.size() && used_[slot]; }
  uint64_t slot_count() const { return used_.size(); }
  uint64_t used_count() const { return used_count_; }
  uint64_t free_count() const { return used_.size() - used_count_; }

 private:
  std::vector<bool> used_;
  uint64_t used_count_ = 0;
  uint64_t cursor_ = 0;  // every slot >= cursor_ not in used_ is free
  // Free slots below cursor_ (may hold stale entries; checked on pop).
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> released_;
};

}  // namespace remapfs
