// resize-spare under the volatile-cache crash model: a power cut at every
// Write and Flush of a grow and a shrink, in every cut mode, must leave the
// old or the new geometry, with every remap and remapped byte; a resize
// that returned ok must leave the new one.
//
// Flushes this suite catches (each deleted alone, [crash] red, restored):
//  - WriteCopy's flush between table sectors and header (through
//    WriteFullCopy): both tests.
//  - spare_resize.cc's last flush, after the old headers are wiped: the
//    grow (RequireOldHeadersWiped).
// Not caught: CopySectors' flush (spare_resize.cc), as the next commit's
// first flush covers the moved data before any header names it.
#include <map>

#include "crash_rig.h"
#include "remapfs/format.h"
#include "remapfs/reservations.h"
#include "remapfs/spare_resize.h"
#include "remapfs/volume.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 8 << 20;

struct Start {
  std::shared_ptr<BlockDevice> main = NewMemoryDevice(kMainBytes);
  std::vector<uint8_t> spare;                         // image, sized for both
  std::map<uint64_t, std::vector<uint8_t>> expected;  // main sector -> data
};

// A spare of `old_bytes` in a device of `device_bytes`, `count` remaps from
// main sector 1000, each with its own data.
Start MakeStart(uint64_t old_bytes, uint64_t device_bytes, uint64_t count) {
  Start s;
  FillPattern(s.main.get(), 7);
  auto formatted = NewMemoryDevice(old_bytes);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(
      MetadataStore::Format(formatted.get(), MakeGeometry(kSector, kMainBytes, old_bytes), &md));
  std::shared_ptr<BlockDevice> spare = NewMemoryDevice(device_bytes);
  const std::vector<uint8_t> head = Snapshot(formatted.get());
  REQUIRE_OK(spare->Write(0, head.data(), head.size()));
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(s.main),
                          std::make_unique<SharedDevice>(spare), &v));
  REQUIRE_OK(v->AddBad(SectorRun(1000, count)));
  for (uint64_t m = 1000; m < 1000 + count; ++m) {
    s.expected[m] = Pattern(m * kSector, kSector, 99);
    REQUIRE_OK(v->Write(m * kSector, s.expected[m].data(), kSector));
  }
  REQUIRE_OK(v->Sync());
  v.reset();
  s.spare = Snapshot(spare.get());
  return s;
}

// The spare opens; returns its geometry's size after checking every remap
// and remapped byte.
uint64_t IntactSpareSectors(const Start& s, std::shared_ptr<BlockDevice> spare) {
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(s.main),
                          std::make_unique<SharedDevice>(spare), &v));
  const std::vector<RemapEntry> remaps = v->Remaps();
  CHECK(remaps.size() == s.expected.size());
  for (const RemapEntry& e : remaps) {
    REQUIRE(s.expected.count(e.main_sector));
    CHECK(ByteDiff(ReadVolume(*v, e.main_sector * kSector, kSector),
                   s.expected.at(e.main_sector)) == "");
  }
  return v->geometry().spare_sectors;
}

void NoProgress(const std::string&, uint64_t, uint64_t) {}

// Step 4's promise: no header of the old geometry is left in what the new
// one uses as data (it could be found, and trusted, later).
void RequireOldHeadersWiped(BlockDevice* mem, const Geometry& old_g, uint64_t new_sectors) {
  const Geometry new_g = MakeGeometry(kSector, kMainBytes, new_sectors * kSector);
  const ReservationSet r1 = ReservationSet::ForPlacement(new_g.placement, new_sectors);
  for (uint64_t start : old_g.placement.copy_starts) {
    if (start >= new_sectors || r1.IsReserved(start)) continue;
    INFO("old copy at spare sector " << start);
    CHECK(ByteDiff(ReadRange(mem, start * kSector, format::kHeaderBytes),
                   std::vector<uint8_t>(format::kHeaderBytes, 0)) == "");
  }
}

uint64_t CutEveryPointOfAResize(uint64_t old_bytes, uint64_t new_sectors, uint64_t count) {
  const Start s = MakeStart(old_bytes, std::max(old_bytes, new_sectors * kSector), count);
  const uint64_t old_sectors = old_bytes / kSector;
  uint64_t ops = 0;
  {
    VolatileSpare probe(s.spare, kSector);
    ResizeResult r;
    REQUIRE_OK(ResizeSpare(probe.dev.get(), new_sectors, NoProgress, &r));
    ops = probe.dev->volatile_ops();
  }
  uint64_t points = 0;
  for (uint64_t k = 0; k <= ops; ++k) {
    for (const Cut& cut : AllCuts()) {
      INFO("power cut at op " << k << " of " << ops << ", " << cut.Name());
      VolatileSpare rig(s.spare, kSector);
      rig.dev->ArmPowerCut(k, cut.mode, cut.seed);
      ResizeResult r;
      const Status st = ResizeSpare(rig.dev.get(), new_sectors, NoProgress, &r);
      if (!rig.dev->crashed()) rig.dev->PowerCut(cut.mode, cut.seed);
      const uint64_t got = IntactSpareSectors(s, rig.mem);
      CHECK((got == old_sectors || got == new_sectors));
      if (st.ok()) CHECK(got == new_sectors);
      if (st.ok())
        RequireOldHeadersWiped(rig.mem.get(), MakeGeometry(kSector, kMainBytes, old_bytes),
                               new_sectors);
      ++points;
    }
  }
  return points;
}

TEST_CASE("A grow cut off at any write or flush leaves the old or the new "
          "geometry, intact",
          "[crash]") {
  WARN("resize grow: " << CutEveryPointOfAResize(512 << 10, 8192, 956) << " crash points");
}

TEST_CASE("A shrink cut off at any write or flush leaves the old or the new "
          "geometry, intact",
          "[crash]") {
  WARN("resize shrink: " << CutEveryPointOfAResize(4 << 20, 1024, 500) << " crash points");
}

}  // namespace
}  // namespace remapfs::testing
