// FaultyDevice: injected sector faults, ArmCrash's power cut, and the Read,
// Write and Flush paths that apply them. The volatile-cache model lives in
// faulty_device_volatile_cache.cc; include/remapfs/faulty_device.h has the
// contract.
#include "remapfs/faulty_device.h"
#include "device_range.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

namespace remapfs {

namespace {

bool ModeHits(FaultMode mode, bool is_write) {
  return mode == FaultMode::kReadWrite ||
         (is_write ? mode == FaultMode::kWrite : mode == FaultMode::kRead);
}

Status InjectedError(const char* op, uint64_t offset) {
  return Status::IoError(std::string("injected ") + op + " fault at byte " +
                         std::to_string(offset));
}

// The part [first, last] of fault `f`, with its mode and failure count.
Fault Piece(Fault f, uint64_t first, uint64_t last) {
  f.first = first;
  f.last = last;
  return f;
}

// Removes [first, last] from a map of disjoint faults, splitting any fault
// that straddles either end.
void EraseRange(std::map<uint64_t, Fault>& faults, uint64_t first, uint64_t last) {
  auto it = faults.upper_bound(first);
  if (it != faults.begin()) --it;  // the one fault that may start before first
  while (it != faults.end() && it->second.first <= last) {
    Fault f = it->second;
    if (f.last < first) {
      ++it;
      continue;
    }
    it = faults.erase(it);
    if (f.first < first) faults[f.first] = Piece(f, f.first, first - 1);
    if (f.last > last) faults[last + 1] = Piece(f, last + 1, f.last);
  }
}

bool SameKind(const Fault& a, const Fault& b) {
  return a.mode == b.mode && a.failures_left == b.failures_left;
}

}  // namespace

FaultyDevice::FaultyDevice(std::unique_ptr<BlockDevice> base, uint32_t sector_size)
    : base_(std::move(base)), sector_size_(sector_size) {
  if (!base_) throw std::invalid_argument("FaultyDevice: null base device");
  if (sector_size_ == 0) throw std::invalid_argument("FaultyDevice: zero sector size");
}

void FaultyDevice::AddFault(uint64_t first, uint64_t last, FaultMode mode) {
  if (first > last || mode == FaultMode::kFlakyRead) return;  // see AddFlakyRead
  std::lock_guard<std::mutex> lock(mu_);
  InsertLocked(Fault{first, last, mode});
}

void FaultyDevice::AddFlakyRead(uint64_t first, uint64_t last, uint32_t failures) {
  if (first > last) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (failures == 0) {
    EraseRange(faults_, first, last);
    any_armed_.store(AnyArmedLocked());
    return;
  }
  InsertLocked(Fault{first, last, FaultMode::kFlakyRead, failures});
}

void FaultyDevice::InsertLocked(Fault fault) {
  EraseRange(faults_, fault.first, fault.last);
  // Merge with neighbours of the same kind so Faults() lists maximal ranges.
  auto next = faults_.upper_bound(fault.last);
  if (next != faults_.end() && SameKind(next->second, fault) && next->first == fault.last + 1) {
    fault.last = next->second.last;
    faults_.erase(next);
  }
  auto prev = faults_.lower_bound(fault.first);
  if (prev != faults_.begin()) {
    --prev;
    if (SameKind(prev->second, fault) && prev->second.last + 1 == fault.first) {
      fault.first = prev->first;
      faults_.erase(prev);
    }
  }
  faults_[fault.first] = fault;
  any_armed_.store(true);
}

void FaultyDevice::ClearFaults(uint64_t first, uint64_t last) {
  if (first > last) return;
  std::lock_guard<std::mutex> lock(mu_);
  EraseRange(faults_, first, last);
  any_armed_.store(AnyArmedLocked());
}

void FaultyDevice::ClearAllFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
  any_armed_.store(AnyArmedLocked());
}

std::vector<Fault> FaultyDevice::Faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Fault> out;
  out.reserve(faults_.size());
  for (const auto& [first, fault] : faults_) out.push_back(fault);
  return out;
}

void FaultyDevice::ArmCrash(uint64_t writes_before, size_t torn_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_countdown_ = writes_before;
  torn_bytes_ = torn_bytes;
  crashed_.store(false);
  crash_armed_.store(true);
  any_armed_.store(true);
}

// Cancels a pending crash and ends a crashed state ("the machine rebooted").
void FaultyDevice::DisarmCrash() {
  std::lock_guard<std::mutex> lock(mu_);
  crash_armed_.store(false);
  crashed_.store(false);
  cut_armed_ = false;
  any_armed_.store(AnyArmedLocked());
}

bool FaultyDevice::AnyArmedLocked() const {
  return !faults_.empty() || crash_armed_ || crashed_ || volatile_;
}

void FaultyDevice::SetErrorLatency(std::chrono::milliseconds latency) {
  error_latency_ms_.store(std::max<int64_t>(0, latency.count()), std::memory_order_relaxed);
}

Status FaultyDevice::FailAfterLatency(const char* op, uint64_t offset) const {
  const std::chrono::milliseconds latency = error_latency();
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  return InjectedError(op, offset);
}

bool FaultyDevice::Hits(uint64_t offset, size_t len, bool is_write) const {
  if (len == 0) return false;
  const uint64_t first = offset / sector_size_;
  const uint64_t last = (offset + len - 1) / sector_size_;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = faults_.upper_bound(first);
  if (it != faults_.begin()) --it;
  for (; it != faults_.end() && it->second.first <= last; ++it) {
    if (it->second.last >= first && ModeHits(it->second.mode, is_write)) return true;
  }
  return false;
}

bool FaultyDevice::ReadHitsLocked(uint64_t first, uint64_t last) {
  bool hit = false;
  std::vector<Fault> flaky;  // touched flaky ranges, counted after the scan
  auto it = faults_.upper_bound(first);
  if (it != faults_.begin()) --it;
  for (; it != faults_.end() && it->second.first <= last; ++it) {
    const Fault& f = it->second;
    if (f.last < first) continue;
    if (f.mode == FaultMode::kFlakyRead) flaky.push_back(f);
    hit = hit || ModeHits(f.mode, /*is_write=*/false);
  }
  for (const Fault& f : flaky) {
    // Only the touched part loses one failure; the rest keeps its count.
    const uint64_t a = std::max(f.first, first), b = std::min(f.last, last);
    EraseRange(faults_, a, b);
    if (f.failures_left > 1) {
      Fault left = Piece(f, a, b);
      --left.failures_left;
      faults_[a] = left;
    }
    hit = true;
  }
  if (faults_.empty()) any_armed_.store(AnyArmedLocked());
  return hit;
}

Status FaultyDevice::Read(uint64_t offset, void* buf, size_t len) {
  if (!any_armed_.load(std::memory_order_relaxed)) return base_->Read(offset, buf, len);
  REMAPFS_RETURN_IF_ERROR(CheckDeviceRange("read", offset, len, Size()));
  if (len > 0) {
    bool hit = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hit = ReadHitsLocked(offset / sector_size_, (offset + len - 1) / sector_size_);
    }
    // Outside the lock: a slow bad sector must not stall the other threads.
    if (hit) return FailAfterLatency("read", offset);
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!volatile_) {
    lock.unlock();
    return base_->Read(offset, buf, len);
  }
  // Under the lock, so a Flush cannot move the overlay mid-read.
  REMAPFS_RETURN_IF_ERROR(base_->Read(offset, buf, len));
  OverlayReadLocked(offset, static_cast<uint8_t*>(buf), len);
  return Status::Ok();
}

Status FaultyDevice::Write(uint64_t offset, const void* buf, size_t len) {
  if (!any_armed_.load(std::memory_order_relaxed)) {
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    return base_->Write(offset, buf, len);
  }
  REMAPFS_RETURN_IF_ERROR(CheckDeviceRange("write", offset, len, Size()));
  if (Hits(offset, len, /*is_write=*/true)) return FailAfterLatency("write", offset);
  std::unique_lock<std::mutex> lock(mu_);
  if (crashed_) return Status::IoError("simulated power cut: device is gone");
  if (volatile_) {
    if (CountOpLocked()) return Status::IoError("simulated power cut at a write");
    const auto* p = static_cast<const uint8_t*>(buf);
    overlay_.push_back({offset, std::vector<uint8_t>(p, p + len)});
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    return Status::Ok();
  }
  if (!crash_armed_) {
    lock.unlock();
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    return base_->Write(offset, buf, len);
  }
  // Crash armed: writes are serialized under the lock so the countdown picks
  // exactly one torn write and nothing reaches the base after it.
  if (crash_countdown_ > 0) {
    --crash_countdown_;
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    return base_->Write(offset, buf, len);
  }
  const size_t torn = std::min(torn_bytes_, len);
  if (torn > 0) {
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    (void)base_->Write(offset, buf, torn);  // the caller sees EIO either way
  }
  crash_armed_.store(false);
  crashed_.store(true);
  return Status::IoError("simulated power cut during write at byte " + std::to_string(offset));
}

Status FaultyDevice::ReadBatch(std::span<const ReadRequest> requests, size_t* failed) {
  if (!any_armed_.load(std::memory_order_relaxed)) return base_->ReadBatch(requests, failed);
  return BlockDevice::ReadBatch(requests, failed);
}

Status FaultyDevice::WriteBatch(std::span<const WriteRequest> requests, size_t* failed) {
  if (!any_armed_.load(std::memory_order_relaxed)) {
    writes_seen_.fetch_add(requests.size(), std::memory_order_relaxed);
    return base_->WriteBatch(requests, failed);
  }
  return BlockDevice::WriteBatch(requests, failed);
}

Status FaultyDevice::Flush() {
  if (fail_next_flush_.load(std::memory_order_relaxed) && fail_next_flush_.exchange(false)) {
    return Status::IoError("injected writeback error at flush");
  }
  if (!any_armed_.load(std::memory_order_relaxed)) return base_->Flush();
  std::lock_guard<std::mutex> lock(mu_);
  if (crashed_) return Status::IoError("simulated power cut: device is gone");
  if (!volatile_) return base_->Flush();
  if (CountOpLocked()) return Status::IoError("simulated power cut at a flush");
  return FlushOverlayLocked();
}

}  // namespace remapfs
