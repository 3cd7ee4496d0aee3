// Fixtures for the volatile-cache crash tests (faulty_device.h, "Two crash
// models"): the cut modes every crash point runs in, a spare in memory
// behind a volatile FaultyDevice, and a power rail that cuts MAIN and the
// spare at one instant, counted over the Writes and Flushes of both.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "remapfs/faulty_device.h"
#include "test_util.h"

namespace remapfs::testing {

struct Cut {
  CutMode mode;
  uint64_t seed;
  std::string Name() const {
    const char* names[] = {"drop all", "drop random", "tear one"};
    return std::string(names[static_cast<int>(mode)]) + " seed " + std::to_string(seed);
  }
};

// Drop all, a random subset under three seeds, one torn sector under two.
inline const std::vector<Cut>& AllCuts() {
  static const std::vector<Cut> cuts = {{CutMode::kDropAll, 0},    {CutMode::kDropRandom, 1},
                                        {CutMode::kDropRandom, 2}, {CutMode::kDropRandom, 3},
                                        {CutMode::kTearOne, 4},    {CutMode::kTearOne, 5}};
  return cuts;
}

// Memory holding `image`, seen through a volatile-cache FaultyDevice.
struct VolatileSpare {
  std::shared_ptr<BlockDevice> mem;
  std::unique_ptr<FaultyDevice> dev;

  VolatileSpare(const std::vector<uint8_t>& image, uint32_t sector_size)
      : mem(NewMemoryDevice(image.size())), sector_size_(sector_size) {
    REQUIRE_OK(mem->Write(0, image.data(), image.size()));
    Reboot();
  }
  // A fresh, empty cache over the same memory.
  void Reboot() {
    dev = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(mem), sector_size_);
    dev->EnableVolatileCache(true);
  }

 private:
  uint32_t sector_size_;
};

// Counts the Writes and Flushes of every device it is attached to; the
// call numbered `at` cuts the power of all of them at once (and fails).
class PowerRail {
 public:
  void Attach(FaultyDevice* dev) { devices_.push_back(dev); }
  // The call `from_now` calls ahead cuts the power (0: the next one).
  void Arm(uint64_t from_now, Cut cut) { at_ = ops_ + from_now, cut_ = cut, armed_ = true; }
  // Cuts now if not cut yet (the "power cut right after" of every test).
  void CutNow() {
    if (cut_done_) return;
    cut_done_ = true;
    for (FaultyDevice* d : devices_) d->PowerCut(cut_.mode, cut_.seed + 17 * (d != devices_[0]));
  }
  bool cut_done() const { return cut_done_; }
  uint64_t ops() const { return ops_; }
  // Called before each Write or Flush.
  void Tick() {
    if (armed_ && ops_ == at_) CutNow();
    ++ops_;
  }

 private:
  std::vector<FaultyDevice*> devices_;
  uint64_t ops_ = 0, at_ = 0;
  Cut cut_{CutMode::kDropAll, 0};
  bool armed_ = false, cut_done_ = false;
};

// Ticks a rail, then forwards to a volatile FaultyDevice it owns.
class RailDevice : public BlockDevice {
 public:
  RailDevice(std::shared_ptr<BlockDevice> mem, uint32_t sector_size, PowerRail* rail)
      : dev_(std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(mem), sector_size)),
        rail_(rail) {
    dev_->EnableVolatileCache(true);
    rail_->Attach(dev_.get());
  }
  FaultyDevice* fault() { return dev_.get(); }
  Status Read(uint64_t offset, void* buf, size_t len) override {
    return dev_->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    rail_->Tick();
    return dev_->Write(offset, buf, len);
  }
  Status Flush() override {
    rail_->Tick();
    return dev_->Flush();
  }
  uint64_t Size() const override { return dev_->Size(); }

 private:
  std::unique_ptr<FaultyDevice> dev_;
  PowerRail* rail_;
};

}  // namespace remapfs::testing
