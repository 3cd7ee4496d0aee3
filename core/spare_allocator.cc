// SpareAllocator: lowest-free-slot-first allocation in O(log n), and runs
// placed at the tail.
// See include/remapfs/spare_allocator.h.
#include "remapfs/spare_allocator.h"

#include <string>

namespace remapfs {

SpareAllocator::SpareAllocator(uint64_t slot_count) : used_(slot_count, false) {}

Status SpareAllocator::MarkUsed(uint64_t slot) {
  if (slot >= used_.size()) {
    return Status::InvalidArgument("slot " + std::to_string(slot) + " out of range (" +
                                   std::to_string(used_.size()) + " slots)");
  }
  if (used_[slot]) {
    return Status::InvalidArgument("slot " + std::to_string(slot) + " already in use");
  }
  // A slot below the cursor may sit in released_; it becomes a stale entry
  // that Allocate discards.
  used_[slot] = true;
  ++used_count_;
  return Status::Ok();
}

Status SpareAllocator::Allocate(uint64_t* slot) {
  if (free_count() == 0) {
    return Status::NoSpace("spare exhausted: " + std::to_string(used_count_) + " of " +
                           std::to_string(used_.size()) + " slots in use");
  }
  while (!released_.empty() && used_[released_.top()]) released_.pop();
  // Every released entry is below the cursor, so a live one is the lowest.
  if (!released_.empty()) {
    *slot = released_.top();
    released_.pop();
  } else {
    while (used_[cursor_]) ++cursor_;  // terminates: a free slot exists
    *slot = cursor_++;
  }
  used_[*slot] = true;
  ++used_count_;
  return Status::Ok();
}

Status SpareAllocator::AllocateMany(uint64_t n, std::vector<uint64_t>* slots) {
  if (n > free_count()) {
    return Status::NoSpace("spare exhausted: " + std::to_string(n) + " slots needed, " +
                           std::to_string(free_count()) + " of " + std::to_string(used_.size()) +
                           " free");
  }
  slots->clear();
  slots->reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t slot = 0;
    REMAPFS_RETURN_IF_ERROR(Allocate(&slot));  // cannot fail: checked above
    slots->push_back(slot);
  }
  return Status::Ok();
}

Status SpareAllocator::AllocateRunsAtTail(const std::vector<uint64_t>& run_lengths,
                                          const SkipFn& skip_before, std::vector<uint64_t>* slots) {
  while (cursor_ < used_.size() && used_[cursor_]) ++cursor_;  // keeps the cursor's invariant
  // Plan the stretch first: the allocator changes only once all of it fits.
  std::vector<uint64_t> firsts;
  uint64_t end = cursor_;
  bool fits = true;
  for (size_t i = 0; i < run_lengths.size() && fits; ++i) {
    fits = end < used_.size();  // the callback is only asked about real slots
    if (fits) end += skip_before(i, end);
    firsts.push_back(end);
    end += run_lengths[i];
  }
  for (uint64_t s = cursor_; fits && s < end; ++s) fits = s < used_.size() && !used_[s];
  if (!fits) {
    return Status::NoSpace("no free stretch of " + std::to_string(end - cursor_) +
                           " slots at the spare's tail (slot " + std::to_string(cursor_) + " of " +
                           std::to_string(used_.size()) + ")");
  }
  slots->clear();
  slots->reserve(end - cursor_);
  uint64_t next = cursor_;
  for (size_t i = 0; i < run_lengths.size(); ++i) {
    for (; next < firsts[i]; ++next) released_.push(next);  // skipped: stays free
    for (; next < firsts[i] + run_lengths[i]; ++next) slots->push_back(next);
  }
  for (uint64_t s : *slots) used_[s] = true;
  used_count_ += slots->size();
  cursor_ = end;
  return Status::Ok();
}

Status SpareAllocator::Free(uint64_t slot) {
  if (!IsUsed(slot)) {
    return Status::InvalidArgument("slot " + std::to_string(slot) + " is not in use");
  }
  used_[slot] = false;
  --used_count_;
  if (slot < cursor_) released_.push(slot);
  return Status::Ok();
}

}  // namespace remapfs
