// SpareAllocator: hands out spare *slots* (reservations.h), lowest first.
//
// Reserved sectors have no slot, so the allocator cannot return one. Every
// slot can be allocated; slots released by Free are reused. Allocate and Free
// cost O(log n) (a min-heap of released slots below a forward cursor; the
// cursor only moves forward, so skipping slots marked used while loading is
// amortized O(1)).
//
// Not thread-safe: the owner (Volume) serializes calls under its lock.
#pragma once

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
