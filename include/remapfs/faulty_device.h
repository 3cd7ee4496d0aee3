// FaultyDevice: a BlockDevice decorator that fails chosen sectors, and can
// simulate a power cut in the middle of a write.
//
// Two crash models:
//  - ArmCrash keeps every write issued before the cut (a disk without a
//    write cache); only the write at the cut may be torn.
//  - The volatile-cache model (EnableVolatileCache) is a drive with a write
//    cache: a Write lands in a volatile overlay that Reads see, and only a
//    successful Flush moves the overlay, in write order, to the base. A power
//    cut (PowerCut, or ArmPowerCut at the k-th Write or Flush) then resolves
//    the overlay by its CutMode -- drop it all, keep a seeded random subset
//    of the sectors its writes cover, or drop it all but tear one seeded sector (its first half
//    new, its second half old) -- and the device is gone: Writes and Flushes
//    fail with EIO until DisarmCrash. After the cut the base holds flushed
//    data plus what the cut kept, and nothing else.
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

// What a power cut does with the writes not yet flushed (see the top).
enum class CutMode { kDropAll, kDropRandom, kTearOne };

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
  // Also ends a volatile-cache power cut (PowerCut/ArmPowerCut).
  void DisarmCrash();

  // Volatile-cache model (see the top). Turning it off flushes nothing: call
  // Flush first. The overlay starts empty.
  void EnableVolatileCache(bool on);
  // Cuts the power now: resolves the overlay by `mode` (seeded by `seed`)
  // and fails every later Write and Flush until DisarmCrash.
  void PowerCut(CutMode mode, uint64_t seed);
  // The next `ops_before` Write and Flush calls behave normally; the one
  // after cuts the power (PowerCut) instead of running, and fails with EIO.
  void ArmPowerCut(uint64_t ops_before, CutMode mode, uint64_t seed);
  // Write and Flush calls seen in volatile mode (a count for crash points).
  uint64_t volatile_ops() const;
  // Writes (calls) sitting in the overlay.
  size_t unflushed_writes() const;
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
  // With nothing armed, the batch goes to the base as it is (each of its
  // write requests counts in writes_seen); else request by request through
  // Read/Write, so every request meets the faults and the crash countdown
  // exactly as a lone call would.
  Status ReadBatch(std::span<const ReadRequest> requests, size_t* failed) override;
  Status WriteBatch(std::span<const WriteRequest> requests, size_t* failed) override;
  Status Flush() override;
  uint64_t Size() const override { return base_->Size(); }

 private:
  bool Hits(uint64_t offset, size_t len, bool is_write) const;
  // Hits for a read; also counts the read against every flaky sector it
  // touches. Caller holds mu_.
  bool ReadHitsLocked(uint64_t first, uint64_t last);
  void InsertLocked(Fault fault);
  // The value any_armed_ must hold. Caller holds mu_.
  bool AnyArmedLocked() const;
  // Volatile mode: one Write/Flush counted against an armed cut; true when
  // it is the call that cuts the power (the cut is done). Caller holds mu_.
  bool CountOpLocked();
  void PowerCutLocked(CutMode mode, uint64_t seed);
  void OverlayReadLocked(uint64_t offset, uint8_t* buf, size_t len) const;
  Status FlushOverlayLocked();
  struct Pending {
    uint64_t offset;
    std::vector<uint8_t> bytes;
  };
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
  // Volatile-cache model, under mu_.
  bool volatile_ = false;
  std::vector<Pending> overlay_;  // unflushed writes, in write order
  bool cut_armed_ = false;
  uint64_t cut_countdown_ = 0;
  CutMode cut_mode_ = CutMode::kDropAll;
  uint64_t cut_seed_ = 0;
  uint64_t volatile_ops_ = 0;
};

}  // namespace remapfs
