// The metadata store under the volatile-cache crash model (faulty_device.h):
// writes since the last Flush are lost, partly kept or torn by a power cut
// at every Write and Flush of a commit, a format and a resize.
//
// Flush-removal record (each flush deleted alone, `unit_tests "[crash]"`
// run, flush restored):
//  - WriteCopy, flush after the header: red here in every commit test
//    (and in every Volume scenario of volatile_crash_volume_test.cc).
//  - WriteCopy, flush between table sectors and header: red only in the
//    resize tests (volatile_crash_resize_test.cc). Here Open's fallback to
//    the older copies hides a header that landed without its table, and a
//    commit is only acknowledged after that flush has run for a later copy.
//  - WriteCopy, flush after the invalidating header wipe (full rewrites,
//    Format, WriteFullCopy): NOT caught. Table sectors carry the sequence
//    they were written under, so a copy whose old header survives next to
//    newer table sectors is detected sector by sector, not trusted.
//  - Format and WriteFullCopy have no flush of their own: they flush
//    through WriteCopy.
#include <random>
#include <sstream>

#include "crash_rig.h"
#include "remapfs/metadata.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;

std::string TableText(const MetadataStore& store) {
  std::ostringstream os;
  for (uint64_t i = 0; i < store.slot_count(); ++i) {
    const SlotEntry e = store.slot(i);
    if (e.used) os << i << ':' << e.pending << ':' << e.main_sector << ' ';
  }
  return os.str();
}

// What a reboot finds on `mem`, read without repair; "" if nothing opens.
std::string FoundAfterReboot(BlockDevice* mem) {
  std::unique_ptr<MetadataStore> s;
  MetadataOpenOptions o;
  o.repair = false;
  if (!MetadataStore::Open(mem, o, &s).ok()) return "<no metadata>";
  return TableText(*s);
}

// A formatted spare of `spare_bytes` holding one commit, as an image.
std::vector<uint8_t> SpareImage(uint64_t spare_bytes) {
  auto mem = NewMemoryDevice(spare_bytes);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(MetadataStore::Format(mem.get(), MakeGeometry(kSector, kMainBytes, spare_bytes), &s));
  REQUIRE_OK(s->Commit({{0, SlotEntry{true, false, 10}}, {2, SlotEntry{true, true, 11}}}));
  return Snapshot(mem.get());
}

// Commits `changes` on a copy of `image` with a power cut at every Write
// and Flush, in every cut mode, then (if the commit came back ok) one more
// cut right after it; the reboot must find the old or the new table, and
// the new one whenever the commit was acknowledged. Returns the points run.
// With `only_first_copy`, every copy but the first fails its writes.
uint64_t CutEveryPointOfACommit(const std::vector<uint8_t>& image,
                                const std::vector<SlotChange>& changes,
                                bool only_first_copy = false) {
  const Geometry g = MakeGeometry(kSector, kMainBytes, image.size());
  auto fail_others = [&](FaultyDevice* dev) {
    if (!only_first_copy) return;
    for (size_t c = 1; c < g.placement.copy_starts.size(); ++c) {
      const uint64_t start = g.placement.copy_starts[c];
      dev->AddFault(start, start + g.placement.copy_sectors - 1, FaultMode::kWrite);
    }
  };
  VolatileSpare probe(image, kSector);
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Open(probe.dev.get(), {}, &store));
  const std::string old_text = TableText(*store);
  fail_others(probe.dev.get());
  const uint64_t before = probe.dev->volatile_ops();
  REQUIRE_OK(store->Commit(changes));
  const uint64_t ops = probe.dev->volatile_ops() - before;
  const std::string new_text = TableText(*store);
  REQUIRE(old_text != new_text);

  uint64_t points = 0;
  for (uint64_t k = 0; k <= ops; ++k) {
    for (const Cut& cut : AllCuts()) {
      INFO("power cut at op " << k << " of " << ops << ", " << cut.Name());
      VolatileSpare rig(image, kSector);
      REQUIRE_OK(MetadataStore::Open(rig.dev.get(), {}, &store));
      fail_others(rig.dev.get());
      rig.dev->ArmPowerCut(k, cut.mode, cut.seed);
      const Status st = store->Commit(changes);
      if (!rig.dev->crashed()) rig.dev->PowerCut(cut.mode, cut.seed);
      const std::string found = FoundAfterReboot(rig.mem.get());
      CHECK((found == old_text || found == new_text));
      if (st.ok()) CHECK(found == new_text);
      ++points;
    }
  }
  return points;
}

const std::vector<SlotChange> kChanges = {
    {0, SlotEntry{}}, {69, SlotEntry{true, false, 500}}, {900, SlotEntry{true, true, 9}}};

TEST_CASE("A power cut at any point of a commit leaves the old or the new "
          "table, and the new one once acknowledged",
          "[crash]") {
  const uint64_t points = CutEveryPointOfACommit(SpareImage(512 << 10), kChanges);
  WARN("metadata commit (4 copies): " << points << " crash points");
}

TEST_CASE("A commit that only the first copy took survives a power cut at any "
          "point after it",
          "[crash]") {
  // Copies 1-3 fail at their first write, so no later flush covers copy 0.
  const uint64_t points = CutEveryPointOfACommit(SpareImage(512 << 10),
                                                 {{3, SlotEntry{true, false, 77}}}, true);
  WARN("metadata commit (copies 1-3 failing): " << points << " crash points");
}

TEST_CASE("Every acknowledged commit survives a run of power cuts that drop "
          "unflushed writes",
          "[crash]") {
  VolatileSpare rig(SpareImage(512 << 10), kSector);
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Open(rig.dev.get(), {}, &store));
  std::mt19937_64 rng(81);
  std::string acknowledged = TableText(*store);
  for (int round = 0; round < 80; ++round) {
    INFO("round " << round);
    std::vector<SlotChange> changes;
    const uint64_t slot = rng() % store->slot_count();
    changes.push_back({slot, SlotEntry{rng() % 3 != 0, false, 1000 + slot}});
    const std::string attempted = [&] {
      MetadataStore* s = store.get();
      std::ostringstream os;
      for (uint64_t i = 0; i < s->slot_count(); ++i) {
        SlotEntry e = i == slot ? changes[0].entry : s->slot(i);
        if (e.used) os << i << ':' << e.pending << ':' << e.main_sector << ' ';
      }
      return os.str();
    }();
    const Cut cut = AllCuts()[rng() % AllCuts().size()];
    rig.dev->ArmPowerCut(rng() % 20, cut.mode, rng());
    const Status st = store->Commit(changes);
    if (!rig.dev->crashed()) rig.dev->PowerCut(cut.mode, rng());
    const std::string found = FoundAfterReboot(rig.mem.get());
    CHECK((found == acknowledged || found == attempted));
    if (st.ok()) CHECK(found == attempted);
    acknowledged = found;
    rig.Reboot();
    REQUIRE_OK(MetadataStore::Open(rig.dev.get(), {}, &store));
  }
}

TEST_CASE("A power cut at any point of a format leaves no metadata or the "
          "fresh table, and the fresh one once acknowledged",
          "[crash]") {
  const uint64_t bytes = 512 << 10;
  const Geometry g = MakeGeometry(kSector, kMainBytes, bytes);
  const std::vector<uint8_t> blank(bytes, 0);
  uint64_t ops = 0;
  {
    VolatileSpare probe(blank, kSector);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Format(probe.dev.get(), g, &s));
    ops = probe.dev->volatile_ops();
  }
  uint64_t points = 0;
  for (uint64_t k = 0; k <= ops; ++k) {
    for (const Cut& cut : AllCuts()) {
      INFO("power cut at op " << k << " of " << ops << ", " << cut.Name());
      VolatileSpare rig(blank, kSector);
      rig.dev->ArmPowerCut(k, cut.mode, cut.seed);
      std::unique_ptr<MetadataStore> s;
      const Status st = MetadataStore::Format(rig.dev.get(), g, &s);
      if (!rig.dev->crashed()) rig.dev->PowerCut(cut.mode, cut.seed);
      const std::string found = FoundAfterReboot(rig.mem.get());
      CHECK((found == "" || found == "<no metadata>"));
      if (st.ok()) CHECK(found == "");
      ++points;
    }
  }
  WARN("format: " << points << " crash points");
}

}  // namespace
}  // namespace remapfs::testing
