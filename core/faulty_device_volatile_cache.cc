// FaultyDevice's volatile-cache crash model: writes held in an overlay that
// only a Flush moves to the base, and the power cuts that resolve it (see
// include/remapfs/faulty_device.h). Sector faults, ArmCrash and the I/O
// paths that consult this model live in faulty_device.cc.
#include "remapfs/faulty_device.h"

#include <algorithm>
#include <cstring>
#include <random>

namespace remapfs {

void FaultyDevice::EnableVolatileCache(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  volatile_ = on;
  overlay_.clear();
  any_armed_.store(AnyArmedLocked());
}

uint64_t FaultyDevice::volatile_ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  return volatile_ops_;
}

size_t FaultyDevice::unflushed_writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overlay_.size();
}

void FaultyDevice::ArmPowerCut(uint64_t ops_before, CutMode mode, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  cut_armed_ = true;
  cut_countdown_ = ops_before;
  cut_mode_ = mode;
  cut_seed_ = seed;
}

void FaultyDevice::PowerCut(CutMode mode, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  PowerCutLocked(mode, seed);
}

bool FaultyDevice::CountOpLocked() {
  ++volatile_ops_;
  if (!cut_armed_) return false;
  if (cut_countdown_ > 0) {
    --cut_countdown_;
    return false;
  }
  PowerCutLocked(cut_mode_, cut_seed_);
  return true;
}

void FaultyDevice::PowerCutLocked(CutMode mode, uint64_t seed) {
  std::mt19937_64 rng(seed);
  if (mode == CutMode::kDropRandom) {
    // A drive may have written back any part of its cache, in any order,
    // down to single sectors of one multi-sector write.
    for (const Pending& w : overlay_)
      for (size_t at = 0; at < w.bytes.size(); at += sector_size_)
        if (rng() % 2 == 0)
          (void)base_->Write(w.offset + at, w.bytes.data() + at,
                             std::min<size_t>(sector_size_, w.bytes.size() - at));
  } else if (mode == CutMode::kTearOne && !overlay_.empty()) {
    const Pending& w = overlay_[rng() % overlay_.size()];
    const uint64_t sectors = (w.bytes.size() + sector_size_ - 1) / sector_size_;
    const uint64_t at = (rng() % sectors) * sector_size_;
    const size_t half = std::min<size_t>(sector_size_ / 2, w.bytes.size() - at);
    (void)base_->Write(w.offset + at, w.bytes.data() + at, half);
  }
  overlay_.clear();
  cut_armed_ = false;
  crashed_.store(true);
  any_armed_.store(true);
}

void FaultyDevice::OverlayReadLocked(uint64_t offset, uint8_t* buf, size_t len) const {
  for (const Pending& w : overlay_) {
    const uint64_t a = std::max(offset, w.offset);
    const uint64_t b = std::min(offset + len, w.offset + w.bytes.size());
    if (a < b) std::memcpy(buf + (a - offset), w.bytes.data() + (a - w.offset), b - a);
  }
}

// The overlay reaches the base only here; a failed base write keeps the
// rest of the overlay volatile, and the flush fails.
Status FaultyDevice::FlushOverlayLocked() {
  size_t done = 0;
  Status st;
  while (done < overlay_.size() && st.ok()) {
    const Pending& w = overlay_[done];
    st = base_->Write(w.offset, w.bytes.data(), w.bytes.size());
    if (st.ok()) ++done;
  }
  overlay_.erase(overlay_.begin(), overlay_.begin() + done);
  REMAPFS_RETURN_IF_ERROR(st);
  return base_->Flush();
}

}  // namespace remapfs
