// FaultyDevice: a BlockDevice decorator that fails chosen sectors, and can
// simulate a power cut in the middle of a write.
//
// It serves three users: unit tests (crash and torn-write simulation), the
// `control/inject` file of a mount (faults on MAIN, below the remap engine,
// exactly where a real EIO comes from), and examples. It owns its base.
//
// Thread safety: all methods may be called concurrently. With no faults and
// no crash armed, Read/Write cost one relaxed atomic load over the base.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "remapfs/block_device.h"

namespace remapfs {

// kFlakyRead: a weak sector that fails a number of reads, then reads again.
enum class FaultMode { kRead, kWrite, kReadWrite, kFlakyRead };

struct Fault {
  uint64_t first;  // sector, inclusive
  uint64_t last;   // sector, inclusive
  FaultMode mode;
  uint32_t failures_left = 0;  // kFlakyRead only: reads still to fail
};

class FaultyDevice : public BlockDevice {
 public:
  FaultyDevice(std::unique_ptr<BlockDevice> base, uint32_t sector_size);

  // A Read (Write) touching any byte of a faulted sector fails with EIO and
  // transfers nothing. Adding a range replaces the mode of the sectors it
  // covers. Mode kFlakyRead is ignored here: use AddFlakyRead.
  void AddFault(uint64_t first, uint64_t last, FaultMode mode);
  // Makes each sector of [first, last] fail the next `failures` Reads that
  // touch it, then read normally (the fault then disappears). Every Read
  // touching a flaky sector counts, whatever else it touches; Writes are
  // unaffected. Replaces other faults on those sectors, like AddFault;
  // ClearFaults and ClearAllFaults remove flaky sectors too.
  void AddFlakyRead(uint64_t first, uint64_t last, uint32_t failures);
  void ClearFaults(uint64_t first, uint64_t last);
  void ClearAllFaults();
  // Sorted by first sector; adjacent sectors with one mode (and, for
  // kFlakyRead, the same failures_left) are merged.
  std::vector<Fault> Faults() const;

  // Simulated power cut: the next `writes_before` Write calls succeed; the
  // one after writes only its first `torn_bytes` bytes to the base and fails
  // with EIO; every later Write and Flush fails with EIO without touching
  // the base. Reads keep working (the "disk after reboot" view).
  void ArmCrash(uint64_t writes_before, size_t torn_bytes);
  void DisarmCrash();
  bool crashed() const { return crashed_.load(); }
  // Number of Write calls that reached the base since construction.
  uint64_t writes_seen() const { return writes_seen_.load(); }
  // Simulated writeback error: the next Flush fails with EIO without
  // reaching the base, as fdatasync reports a failed writeback once; the
  // Flush after it works again.
  void FailNextFlush() { fail_next_flush_.store(true); }

  // Per-error latency: a Read or Write failed by an injected sector fault
  // (AddFault, AddFlakyRead) first waits this long, then fails with EIO, as
  // a desktop drive without error-recovery control spends seconds retrying
  // a bad sector. Only the failing call waits, holding no lock, so calls on
  // other threads (healthy sectors, other faults, the fault setters) go on
  // meanwhile. Calls that succeed, and the power-cut simulation, never wait.
  // Takes effect for calls that hit a fault after it returns; 0 (the
  // default) turns it off; negative values count as 0.
  void SetErrorLatency(std::chrono::milliseconds latency);
  std::chrono::milliseconds error_latency() const {
    return std::chrono::milliseconds(error_latency_ms_.load(std::memory_order_relaxed));
  }

  BlockDevice* base() { return base_.get(); }

  Status Read(uint64_t offset, void* buf, size_t len) override;
  Status Write(uint64_t offset, const void* buf, size_t len) override;
  Status Flush() override;
  uint64_t Size() const override { return base_->Size(); }

 private:
  bool Hits(uint64_t offset, size_t len, bool is_write) const;
  // Hits for a read; also counts the read against every flaky sector it
  // touches. Caller holds mu_.
  bool ReadHitsLocked(uint64_t first, uint64_t last);
  void InsertLocked(Fault fault);
  // Sleeps error_latency() (no lock held), then returns the injected EIO.
  Status FailAfterLatency(const char* op, uint64_t offset) const;

  std::unique_ptr<BlockDevice> base_;
  const uint32_t sector_size_;
  mutable std::mutex mu_;
  std::map<uint64_t, Fault> faults_;  // keyed by first sector; disjoint
  std::atomic<bool> any_armed_{false};
  std::atomic<bool> crash_armed_{false};
  std::atomic<bool> crashed_{false};
  std::atomic<uint64_t> writes_seen_{0};
  std::atomic<bool> fail_next_flush_{false};
  // Read only on the failure path, so the hot path stays one load.
  std::atomic<int64_t> error_latency_ms_{0};
  uint64_t crash_countdown_ = 0;
  size_t torn_bytes_ = 0;
};

}  // namespace remapfs
