// FaultyDevice: injected sector faults and simulated power cuts.
// See include/remapfs/fault_device.h for the contract.
#include "remapfs/fault_device.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace remapfs {

namespace {

bool ModeHits(FaultMode mode, bool is_write) {
  return mode == FaultMode::kReadWrite ||
         (is_write ? mode == FaultMode::kWrite : mode == FaultMode::kRead);
}

Status CheckRange(const char* op, uint64_t offset, size_t len, uint64_t size) {
  if (len > size || offset > size - len) {
    return Status::InvalidArgument(std::string(op) + " of " + std::to_string(len) +
                                   " bytes at " + std::to_string(offset) +
                                   " past end of device (" + std::to_string(size) +
                                   " bytes)");
  }
  return Status::Ok();
}

Status InjectedError(const char* op, uint64_t offset) {
  return Status::IoError(std::string("injected ") + op + " fault at byte " +
                         std::to_string(offset));
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
    if (f.first < first) faults[f.first] = Fault{f.first, first - 1, f.mode};
    if (f.last > last) faults[last + 1] = Fault{last + 1, f.last, f.mode};
  }
}

}  // namespace

FaultyDevice::FaultyDevice(std::unique_ptr<BlockDevice> base, uint32_t sector_size)
    : base_(std::move(base)), sector_size_(sector_size) {
  if (!base_) throw std::invalid_argument("FaultyDevice: null base device");
  if (sector_size_ == 0) throw std::invalid_argument("FaultyDevice: zero sector size");
}

void FaultyDevice::AddFault(uint64_t first, uint64_t last, FaultMode mode) {
  if (first > last) return;
  std::lock_guard<std::mutex> lock(mu_);
  EraseRange(faults_, first, last);
  // Merge with neighbours of the same mode so Faults() lists maximal ranges.
  auto next = faults_.upper_bound(last);
  if (next != faults_.end() && next->second.mode == mode && next->first == last + 1) {
    last = next->second.last;
    faults_.erase(next);
  }
  auto prev = faults_.lower_bound(first);
  if (prev != faults_.begin()) {
    --prev;
    if (prev->second.mode == mode && prev->second.last + 1 == first) {
      first = prev->first;
      faults_.erase(prev);
    }
  }
  faults_[first] = Fault{first, last, mode};
  any_armed_.store(true);
}

void FaultyDevice::ClearFaults(uint64_t first, uint64_t last) {
  if (first > last) return;
  std::lock_guard<std::mutex> lock(mu_);
  EraseRange(faults_, first, last);
  any_armed_.store(!faults_.empty() || crash_armed_ || crashed_);
}

void FaultyDevice::ClearAllFaults() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
  any_armed_.store(crash_armed_ || crashed_);
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
  any_armed_.store(!faults_.empty());
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

Status FaultyDevice::Read(uint64_t offset, void* buf, size_t len) {
  if (!any_armed_.load(std::memory_order_relaxed)) return base_->Read(offset, buf, len);
  REMAPFS_RETURN_IF_ERROR(CheckRange("read", offset, len, Size()));
  if (Hits(offset, len, /*is_write=*/false)) return InjectedError("read", offset);
  return base_->Read(offset, buf, len);
}

Status FaultyDevice::Write(uint64_t offset, const void* buf, size_t len) {
  if (!any_armed_.load(std::memory_order_relaxed)) {
    writes_seen_.fetch_add(1, std::memory_order_relaxed);
    return base_->Write(offset, buf, len);
  }
  REMAPFS_RETURN_IF_ERROR(CheckRange("write", offset, len, Size()));
  if (Hits(offset, len, /*is_write=*/true)) return InjectedError("write", offset);
  std::unique_lock<std::mutex> lock(mu_);
  if (crashed_) return Status::IoError("simulated power cut: device is gone");
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
  return Status::IoError("simulated power cut during write at byte " +
                         std::to_string(offset));
}

Status FaultyDevice::Flush() {
  if (any_armed_.load(std::memory_order_relaxed) && crashed_.load()) {
    return Status::IoError("simulated power cut: device is gone");
  }
  return base_->Flush();
}

}  // namespace remapfs
