// resize-spare in the core: grow 512 KiB linear -> 4 MiB geometric and
// shrink back with remapped data sitting where new copies land, refusals
// that change nothing, and a simulated crash at every write of a resize.
#include "remapfs/spare_resize.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 8 << 20;

// A main and a spare in memory, the spare device sized for both geometries,
// and what every remapped sector must read back as.
struct Volumes {
  std::shared_ptr<BlockDevice> main = NewMemoryDevice(kMainBytes);
  std::shared_ptr<BlockDevice> spare;
  std::map<uint64_t, std::vector<uint8_t>> expected;  // main sector -> data

  Status Open(std::unique_ptr<Volume>* v) const {
    return Volume::Open(std::make_unique<SharedDevice>(main), std::make_unique<SharedDevice>(spare),
                        v);
  }
};

// Formats a spare of `old_bytes` inside a device of `device_bytes`, remaps
// `count` main sectors and gives each distinct data through the volume.
Volumes MakeVolumes(uint64_t old_bytes, uint64_t device_bytes, uint64_t count) {
  Volumes vs;
  FillPattern(vs.main.get(), 7);
  auto formatted = NewMemoryDevice(old_bytes);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(
      MetadataStore::Format(formatted.get(), MakeGeometry(kSector, kMainBytes, old_bytes), &md));
  vs.spare = NewMemoryDevice(device_bytes);
  const std::vector<uint8_t> image = Snapshot(formatted.get());
  REQUIRE_OK(vs.spare->Write(0, image.data(), image.size()));
  std::unique_ptr<Volume> v;
  REQUIRE_OK(vs.Open(&v));
  REQUIRE_OK(v->AddBad(SectorRun(1000, count)));
  for (uint64_t s = 1000; s < 1000 + count; ++s) {
    vs.expected[s] = Pattern(s * kSector, kSector, 99);
    REQUIRE_OK(v->Write(s * kSector, vs.expected[s].data(), kSector));
  }
  return vs;
}

// The volume opens with `spare_sectors` of geometry, every remap is there
// and every remapped sector reads back its data.
void CheckIntact(const Volumes& vs, uint64_t spare_sectors) {
  std::unique_ptr<Volume> v;
  REQUIRE_OK(vs.Open(&v));
  CHECK(v->geometry().spare_sectors == spare_sectors);
  const VolumeStats st = v->Stats();
  CHECK(st.metadata_valid_copies == st.metadata_copies);
  std::vector<RemapEntry> remaps = v->Remaps();
  REQUIRE(remaps.size() == vs.expected.size());
  ReservationSet r = ReservationSet::ForPlacement(v->geometry().placement, spare_sectors);
  for (const RemapEntry& e : remaps) {
    REQUIRE(vs.expected.count(e.main_sector));
    CHECK_FALSE(r.IsReserved(e.spare_sector));
    CHECK(e.spare_sector < spare_sectors);
    CHECK(ByteDiff(ReadVolume(*v, e.main_sector * kSector, kSector),
                   vs.expected.at(e.main_sector)) == "");
  }
}

void NoProgress(const std::string&, uint64_t, uint64_t) {}

TEST_CASE("Growing a full 512 KiB linear spare to 4 MiB geometric keeps every "
          "remap and byte",
          "[resize]") {
  const uint64_t full = 1024 - 4 * SpecCopyLength(kSector, 1024, 4);
  Volumes vs = MakeVolumes(512 << 10, 4 << 20, full);
  ResizeResult plan;
  REQUIRE_OK(PlanSpareResize(vs.spare.get(), 8192, &plan));
  CHECK(plan.new_geometry.placement.strategy == Strategy::kGeometric);
  CHECK(plan.moved_to_new_space > 0);  // the old spare had no free sector
  ResizeResult done;
  REQUIRE_OK(ResizeSpare(vs.spare.get(), 8192, NoProgress, &done));
  CHECK(done.remaps == full);
  CheckIntact(vs, 8192);
}

TEST_CASE("Shrinking 4 MiB geometric to 512 KiB linear moves remaps off the "
          "new copies",
          "[resize]") {
  Volumes vs = MakeVolumes(4 << 20, 4 << 20, 500);  // slots at sectors 126..625
  ResizeResult done;
  REQUIRE_OK(ResizeSpare(vs.spare.get(), 1024, NoProgress, &done));
  CHECK(done.new_geometry.placement.copy_starts == std::vector<uint64_t>{0, 256, 512, 768});
  CHECK(done.moved_within_old > 0);
  // The file is cut after the resize: the volume works on the short device.
  auto cut = NewMemoryDevice(512 << 10);
  const std::vector<uint8_t> head = ReadRange(vs.spare.get(), 0, 512 << 10);
  REQUIRE_OK(cut->Write(0, head.data(), head.size()));
  vs.spare = std::move(cut);
  CheckIntact(vs, 1024);
}

TEST_CASE("A shrink that would drop a used spare sector is refused and "
          "changes nothing",
          "[resize]") {
  Volumes vs = MakeVolumes(4 << 20, 4 << 20, 1000);  // reaches past sector 1024
  const std::vector<uint8_t> before = Snapshot(vs.spare.get());
  ResizeResult r;
  const Status st = ResizeSpare(vs.spare.get(), 1024, NoProgress, &r);
  CHECK(st.IsInvalidArgument());
  CHECK_THAT(st.message(), Catch::Contains("would drop spare sector"));
  CHECK(ByteDiff(Snapshot(vs.spare.get()), before) == "");
  CHECK(PlanSpareResize(vs.spare.get(), 64, &r).IsInvalidArgument());    // under 72
  CHECK(PlanSpareResize(vs.spare.get(), 8192, &r).IsInvalidArgument());  // same size
}

// Kills the resize at write k (for every k), tearing that write, then
// checks the spare opens with the old or the new geometry, intact, and
// that running the resize again finishes it.
void CrashAtEveryWrite(uint64_t old_bytes, uint64_t new_sectors, uint64_t count) {
  const Volumes pristine = MakeVolumes(old_bytes,
                                       std::max<uint64_t>(old_bytes, new_sectors * kSector), count);
  const std::vector<uint8_t> image = Snapshot(pristine.spare.get());
  const uint64_t old_sectors = old_bytes / kSector;
  uint64_t total_writes = 0;
  {
    auto mem = NewMemoryDevice(image.size());
    REQUIRE_OK(mem->Write(0, image.data(), image.size()));
    FaultyDevice counter(std::move(mem), kSector);
    ResizeResult r;
    REQUIRE_OK(ResizeSpare(&counter, new_sectors, NoProgress, &r));
    total_writes = counter.writes_seen();
  }
  REQUIRE(total_writes > 10);
  for (uint64_t k = 0; k < total_writes; ++k) {
    for (size_t torn : {size_t{0}, size_t{kSector / 2}}) {
      INFO("crash at write " << k << " of " << total_writes << ", torn " << torn);
      auto shared = std::shared_ptr<BlockDevice>(NewMemoryDevice(image.size()));
      REQUIRE_OK(shared->Write(0, image.data(), image.size()));
      FaultyDevice faulty(std::make_unique<SharedDevice>(shared), kSector);
      faulty.ArmCrash(k, torn);
      ResizeResult r;
      CHECK_FALSE(ResizeSpare(&faulty, new_sectors, NoProgress, &r).ok());
      Volumes after{pristine.main, shared, pristine.expected};
      std::unique_ptr<Volume> v;
      REQUIRE_OK(after.Open(&v));
      const uint64_t got = v->geometry().spare_sectors;
      REQUIRE((got == old_sectors || got == new_sectors));
      v.reset();
      CheckIntact(after, got);
      if (got == old_sectors) REQUIRE_OK(ResizeSpare(shared.get(), new_sectors, NoProgress, &r));
      CheckIntact(after, new_sectors);
    }
  }
}

TEST_CASE("A grow killed at any write leaves the old or the new geometry, "
          "intact",
          "[resize]") {
  CrashAtEveryWrite(512 << 10, 8192, 956);
}

TEST_CASE("A shrink killed at any write leaves the old or the new geometry, "
          "intact",
          "[resize]") {
  CrashAtEveryWrite(4 << 20, 1024, 500);
}

}  // namespace
}  // namespace remapfs::testing
