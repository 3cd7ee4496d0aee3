// BlockRangeLock: see include/remapfs/block_range_lock.h for the contract.
#include "remapfs/block_range_lock.h"

#include <bit>

namespace remapfs {

BlockRangeLock::Guard BlockRangeLock::Lock(uint64_t first, uint64_t last, Mode mode) {
  std::unique_lock<std::mutex> lock(mu_);
  while (in_flight_ == ~uint64_t{0}) Wait(lock);
  const auto slot = static_cast<unsigned>(std::countr_one(in_flight_));  // lowest free
  in_flight_ |= uint64_t{1} << slot;
  entries_[slot] = Entry{first, last, next_ticket_++, mode};
  while (WaitsForEarlier(slot)) Wait(lock);
  return Guard(this, slot);
}

// True while an entry that entered before `slot` overlaps it and one of the
// two is exclusive.
bool BlockRangeLock::WaitsForEarlier(unsigned slot) const {
  const Entry& me = entries_[slot];
  for (uint64_t rest = in_flight_ & ~(uint64_t{1} << slot); rest != 0; rest &= rest - 1) {
    const Entry& other = entries_[std::countr_zero(rest)];
    const bool overlaps = other.first <= me.last && me.first <= other.last;
    const bool exclusive = me.mode == Mode::kExclusive || other.mode == Mode::kExclusive;
    if (other.ticket < me.ticket && overlaps && exclusive) return true;
  }
  return false;
}

void BlockRangeLock::Wait(std::unique_lock<std::mutex>& lock) {
  ++waiters_;
  released_.wait(lock);
  --waiters_;
}

void BlockRangeLock::Release(unsigned slot) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_ &= ~(uint64_t{1} << slot);
    wake = waiters_ > 0;
  }
  // Any waiter may be the one this release unblocks (a conflict or a free
  // slot); each rechecks its own condition.
  if (wake) released_.notify_all();
}

}  // namespace remapfs
