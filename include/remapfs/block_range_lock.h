// BlockRangeLock: shared and exclusive locks on inclusive ranges of block
// numbers, granted in arrival order.
//
// AlignedDevice (aligned_device.cc) takes one block exclusively for a
// read-modify-write and the blocks of a whole-block write shared: whole-block
// writes never wait for each other, while a read-modify-write excludes every
// write of its block, whole-block writes included.
//
// Order and progress: every Lock call gets a ticket when it enters the
// table. It waits only for entries with an earlier ticket that overlap its
// range where at least one of the two is exclusive; it never waits for a
// later one. The earliest entry therefore never waits, so there is no
// deadlock provided a thread holds one range at a time; and a
// read-modify-write is never overtaken by a stream of later whole-block
// writes of its block (no starvation).
//
// Cost: no heap allocation, ever. One mutex round trip to acquire and one to
// release, plus a scan of the entries in flight (a bitmask of at most
// kSlots). When all kSlots entries are in flight (held or waiting), a new
// caller waits for one to be released.
//
// Thread safety: Lock may be called from any number of threads. A Guard
// releases its range when destroyed, from whatever thread. The lock must
// outlive its guards.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace remapfs {

class BlockRangeLock {
 public:
  enum class Mode : uint8_t { kShared, kExclusive };
  static constexpr unsigned kSlots = 64;

  class [[nodiscard]] Guard {
   public:
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { lock_->Release(slot_); }

   private:
    friend class BlockRangeLock;
    Guard(BlockRangeLock* lock, unsigned slot) : lock_(lock), slot_(slot) {}
    BlockRangeLock* lock_;
    unsigned slot_;
  };

  // Blocks [first, last] (first <= last) in `mode`; returns once granted.
  Guard Lock(uint64_t first, uint64_t last, Mode mode);

 private:
  struct Entry {
    uint64_t first = 0;
    uint64_t last = 0;
    uint64_t ticket = 0;
    Mode mode = Mode::kShared;
  };

  bool WaitsForEarlier(unsigned slot) const;
  void Wait(std::unique_lock<std::mutex>& lock);
  void Release(unsigned slot);

  std::mutex mu_;  // guards everything below
  std::condition_variable released_;
  uint64_t in_flight_ = 0;  // bit i set: entries_[i] is held or waiting
  uint64_t next_ticket_ = 0;
  unsigned waiters_ = 0;
  std::array<Entry, kSlots> entries_{};
  static_assert(kSlots == 64, "in_flight_ is a 64-bit mask");
};

}  // namespace remapfs
