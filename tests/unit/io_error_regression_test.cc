// Regressions for two bugs the I/O-error step harness (io_error_step_test.cc)
// found, both fixed:
//  - a scrub named a rescued sector's slot before its data was written, and
//    committed it when that write failed (the sector read zeros);
//  - a grow whose rollback wiped copy 0's header left no header where the
//    enlarged spare's size puts one, and Open called it unformatted (now it
//    searches the whole spare before giving up).
#include "remapfs/metadata.h"
#include "remapfs/spare_resize.h"
#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

// Bug: ScrubChanges (core/volume_scrub.cc) records the remap of a weak
// sector before writing its data to the spare slot; when that write fails
// it returns the error with the change still listed, and ScrubRange
// commits the listed changes. The table then maps the sector to a slot
// that never got its data: the sector's content is silently lost.
TEST_CASE("A scrub whose write of a rescued sector to the spare fails does not "
          "map that sector to the unwritten slot",
          "[io_step]") {
  std::shared_ptr<BlockDevice> main = NewMemoryDevice(1 << 20);
  std::shared_ptr<BlockDevice> spare = NewMemoryDevice(64 << 10);
  FillPattern(main.get(), 1);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(kSector, 1 << 20, 64 << 10), &md));
  auto faulty = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(main), kSector);
  FaultyDevice* main_fault = faulty.get();
  auto failing = std::make_unique<FailingCallsDevice>(spare);
  FailingCallsDevice* spare_fail = failing.get();
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(std::move(faulty), std::move(failing), &v));

  const uint64_t s = 321;
  main_fault->AddFlakyRead(s, s, 2);       // reads after a retry: the scrub rescues it
  spare_fail->Arm(0, 1, /*lands=*/false);  // the rescue's data write fails
  Volume::ScrubFindings found;
  CHECK_FALSE(v->ScrubRange(320, 16, &found).ok());
  CHECK(ByteDiff(ReadVolume(*v, s * kSector, kSector), Pattern(s * kSector, kSector, 1)) == "");
  v.reset();
  REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(main),
                          std::make_unique<SharedDevice>(spare), &v));
  CHECK(ByteDiff(ReadVolume(*v, s * kSector, kSector), Pattern(s * kSector, kSector, 1)) == "");
}

// Bug: a grow runs on a device already enlarged to the new size. If step 1
// (a commit in the OLD geometry) fails on every copy with writes that fail
// yet land, the roll-back re-commit (MetadataStore::CommitChanges) rewrites
// the failed copies with invalidate_first: their zeroed headers land, copy
// 0's included. The one intact copy (copy 3, at sector 768) is not a
// candidate header position for the enlarged device (CandidateHeaderOffsets
// in metadata_headers.cc only knows placements of the device's own size), and
// with copy 0 gone nothing points to it: Open finds no metadata at all.
TEST_CASE("A grow whose writes fail for good, yet land, leaves a spare that "
          "still opens",
          "[io_step]") {
  const uint64_t old_bytes = 512 << 10, new_sectors = 2048;
  std::shared_ptr<BlockDevice> start = SpareWithRemapsBeforeGrow(old_bytes, new_sectors);
  const std::vector<uint8_t> image = Snapshot(start.get());
  auto no_progress = [](const std::string&, uint64_t, uint64_t) {};
  uint64_t steps = 0;
  {
    FailingCallsDevice probe(start);
    ResizeResult r;
    REQUIRE_OK(ResizeSpare(&probe, new_sectors, no_progress, &r));
    steps = probe.calls();
  }
  for (uint64_t k = 0; k < steps; ++k) {
    INFO("every write and flush from step " << k << " fails, and lands");
    std::shared_ptr<BlockDevice> mem = NewMemoryDevice(image.size());
    REQUIRE_OK(mem->Write(0, image.data(), image.size()));
    FailingCallsDevice dev(mem);
    dev.Arm(k, FailingCallsDevice::kForever, /*lands=*/true);
    ResizeResult r;
    (void)ResizeSpare(&dev, new_sectors, no_progress, &r);
    std::unique_ptr<MetadataStore> opened;
    MetadataOpenOptions o;
    o.repair = false;
    const Status st = MetadataStore::Open(mem.get(), o, &opened);
    INFO(st.ToString());
    CHECK(st.ok());
  }
}

}  // namespace
}  // namespace remapfs::testing
