// The volatile-cache crash model of FaultyDevice itself (faulty_device.h):
// reads see unflushed writes, Flush makes them durable, and a power cut
// keeps exactly what its mode says.
#include <algorithm>

#include "remapfs/faulty_device.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

struct Rig {
  std::shared_ptr<BlockDevice> mem = NewMemoryDevice(16 * kSector);
  FaultyDevice dev{std::make_unique<SharedDevice>(mem), kSector};
  Rig() { dev.EnableVolatileCache(true); }
  // Writes sector `s` full of `byte`.
  void Put(uint64_t s, uint8_t byte) {
    const std::vector<uint8_t> b(kSector, byte);
    REQUIRE_OK(dev.Write(s * kSector, b.data(), b.size()));
  }
  std::vector<uint8_t> Base(uint64_t s) { return ReadRange(mem.get(), s * kSector, kSector); }
};

std::vector<uint8_t> Full(uint8_t byte) { return std::vector<uint8_t>(kSector, byte); }

TEST_CASE("Unflushed writes are read back but reach the base only at a flush", "[crash]") {
  Rig r;
  r.Put(1, 0xA1);
  CHECK(ByteDiff(ReadRange(&r.dev, kSector, kSector), Full(0xA1)) == "");
  CHECK(ByteDiff(r.Base(1), Full(0)) == "");
  CHECK(r.dev.unflushed_writes() == 1);
  REQUIRE_OK(r.dev.Flush());
  CHECK(ByteDiff(r.Base(1), Full(0xA1)) == "");
  CHECK(r.dev.unflushed_writes() == 0);
}

TEST_CASE("A power cut dropping all keeps only flushed data, and the device is "
          "gone until disarmed",
          "[crash]") {
  Rig r;
  r.Put(1, 0xA1);
  REQUIRE_OK(r.dev.Flush());
  r.Put(1, 0xB2);
  r.Put(2, 0xB2);
  r.dev.PowerCut(CutMode::kDropAll, 0);
  CHECK(ByteDiff(r.Base(1), Full(0xA1)) == "");
  CHECK(ByteDiff(r.Base(2), Full(0)) == "");
  CHECK(r.dev.Write(0, Full(1).data(), kSector).errno_value() == EIO);
  CHECK(r.dev.Flush().errno_value() == EIO);
  r.dev.DisarmCrash();
  r.Put(3, 0xC3);
  REQUIRE_OK(r.dev.Flush());
  CHECK(ByteDiff(r.Base(3), Full(0xC3)) == "");
}

TEST_CASE("A power cut keeping a random subset keeps whole writes, the same "
          "ones for the same seed",
          "[crash]") {
  std::vector<uint8_t> kept[2];
  for (int run = 0; run < 2; ++run) {
    Rig r;
    for (uint64_t s = 0; s < 16; ++s) r.Put(s, static_cast<uint8_t>(0x10 + s));
    r.dev.PowerCut(CutMode::kDropRandom, 7);
    for (uint64_t s = 0; s < 16; ++s) {
      const std::vector<uint8_t> b = r.Base(s);
      CHECK((b == Full(0) || b == Full(static_cast<uint8_t>(0x10 + s))));
      kept[run].push_back(b[0]);
    }
  }
  CHECK(kept[0] == kept[1]);
  CHECK(std::count(kept[0].begin(), kept[0].end(), 0) > 0);
  CHECK(std::count(kept[0].begin(), kept[0].end(), 0) < 16);
}

TEST_CASE("A power cut tearing one sector leaves half of it new and drops the "
          "rest",
          "[crash]") {
  Rig r;
  r.Put(4, 0xD4);
  r.dev.PowerCut(CutMode::kTearOne, 3);
  std::vector<uint8_t> torn = Full(0);
  std::fill(torn.begin(), torn.begin() + kSector / 2, 0xD4);
  CHECK(ByteDiff(r.Base(4), torn) == "");
}

TEST_CASE("An armed power cut strikes at the chosen write or flush and fails it", "[crash]") {
  Rig r;
  r.dev.ArmPowerCut(2, CutMode::kDropAll, 0);
  r.Put(1, 0xE1);             // op 0
  REQUIRE_OK(r.dev.Flush());  // op 1: durable
  const std::vector<uint8_t> b = Full(0xE2);
  CHECK(r.dev.Write(2 * kSector, b.data(), kSector).errno_value() == EIO);  // op 2: the cut
  CHECK(r.dev.crashed());
  CHECK(ByteDiff(r.Base(1), Full(0xE1)) == "");
  CHECK(ByteDiff(r.Base(2), Full(0)) == "");
}

}  // namespace
}  // namespace remapfs::testing
