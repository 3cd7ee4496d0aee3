// RemapTable without a Volume: the split of a byte range into device runs
// (exact cases, and a differential test against a sector-by-sector model),
// the commit's effect on the map and the allocator, a failed commit, and
// loading a table back.
#include <random>

#include "remapfs/faulty_device.h"
#include "remapfs/remap_table.h"
#include "test_util.h"

namespace remapfs {
namespace {

using testing::MakeGeometry;

constexpr uint32_t kSs = 512;

// A freshly formatted 512 KiB spare for a 1 MiB MAIN (2048 sectors), behind
// a FaultyDevice so that a test can make the commit fail.
struct TableFixture {
  Geometry g = MakeGeometry(kSs, 1 << 20, 512 << 10);
  FaultyDevice* faults = nullptr;
  std::unique_ptr<BlockDevice> spare;
  std::unique_ptr<RemapTable> table;

  TableFixture() {
    auto faulty = std::make_unique<FaultyDevice>(NewMemoryDevice(512 << 10), kSs);
    faults = faulty.get();
    spare = std::move(faulty);
    std::unique_ptr<MetadataStore> store;
    REQUIRE_OK(MetadataStore::Format(spare.get(), g, &store));
    REQUIRE_OK(RemapTable::Load(std::move(store), &table));
  }

  // Remaps `sectors` to freshly allocated slots (pending ones as asked), in
  // one commit.
  void Remap(const std::vector<uint64_t>& sectors, bool pending = false) {
    std::vector<uint64_t> slots;
    REQUIRE_OK(table->Allocate(sectors, &slots));
    std::vector<SlotChange> changes;
    for (size_t i = 0; i < sectors.size(); ++i)
      changes.push_back({slots[i], SlotEntry{true, pending, sectors[i]}});
    REQUIRE_OK(table->Commit(changes, changes.size()));
  }
};

uint64_t SpareByte(const RemapTable& t, uint64_t main_sector) {
  for (const SlotMapping& m : t.MappingsIn({SectorRange{main_sector, main_sector}}))
    return t.SpareByteOffset(m.slot);
  FAIL("sector " << main_sector << " is not remapped");
  return 0;
}

// The runs a sector-by-sector walk gives: each sector's bytes where the
// table puts them, merged while device and address stay contiguous.
std::vector<DeviceRun> ModelRuns(const RemapTable& t, uint64_t offset, size_t len) {
  std::vector<DeviceRun> runs;
  for (uint64_t at = offset; at < offset + len;) {
    const uint64_t sector = at / kSs;
    const uint64_t piece = std::min<uint64_t>((sector + 1) * kSs, offset + len) - at;
    DeviceRun r{DeviceRole::kMain, at, size_t(at - offset), size_t(piece)};
    if (t.IsMapped(sector)) r = {DeviceRole::kSpare, SpareByte(t, sector) + at % kSs, r.pos, r.len};
    DeviceRun* last = runs.empty() ? nullptr : &runs.back();
    if (last && last->device == r.device && last->at + last->len == r.at) last->len += r.len;
    else runs.push_back(r);
    at += piece;
  }
  return runs;
}

std::string Describe(const std::vector<DeviceRun>& runs) {
  std::string s;
  for (const DeviceRun& r : runs)
    s += (r.device == DeviceRole::kMain ? "main@" : "spare@") + std::to_string(r.at) + "+" +
         std::to_string(r.len) + "(pos " + std::to_string(r.pos) + ") ";
  return s;
}

TEST_CASE("A range with no remapped sector is one MAIN run", "[remap_table]") {
  TableFixture f;
  f.Remap({100});
  const std::vector<DeviceRun> runs = f.table->Runs(7, 3 * kSs);
  REQUIRE(runs == std::vector<DeviceRun>{{DeviceRole::kMain, 7, 0, 3 * kSs}});
}

TEST_CASE("An unaligned range over one remapped sector is head, spare, tail", "[remap_table]") {
  TableFixture f;
  f.Remap({10});
  const uint64_t spare = SpareByte(*f.table, 10);
  const std::vector<DeviceRun> runs = f.table->Runs(9 * kSs + 100, 2 * kSs);
  INFO(Describe(runs));
  REQUIRE(runs == std::vector<DeviceRun>{{DeviceRole::kMain, 9 * kSs + 100, 0, kSs - 100},
                                         {DeviceRole::kSpare, spare, kSs - 100, kSs},
                                         {DeviceRole::kMain, 11 * kSs, 2 * kSs - 100, 100}});
}

TEST_CASE("Consecutive sectors on consecutive slots are one spare run; a gap splits it",
          "[remap_table]") {
  TableFixture f;
  f.Remap({20, 21, 22});  // slots 0, 1, 2: consecutive spare sectors
  f.Remap({24});
  f.Remap({23});  // after 24: not next to 22's spare sector
  const std::vector<DeviceRun> runs = f.table->Runs(20 * kSs + 1, 5 * kSs - 2);
  INFO(Describe(runs));
  REQUIRE(runs.size() == 3);
  CHECK(runs[0] == DeviceRun{DeviceRole::kSpare, SpareByte(*f.table, 20) + 1, 0, 3 * kSs - 1});
  CHECK(runs[1] == DeviceRun{DeviceRole::kSpare, SpareByte(*f.table, 23), 3 * kSs - 1, kSs});
  CHECK(runs[2] == DeviceRun{DeviceRole::kSpare, SpareByte(*f.table, 24), 4 * kSs - 1, kSs - 1});
  CHECK(runs == ModelRuns(*f.table, 20 * kSs + 1, 5 * kSs - 2));
}

TEST_CASE("The split matches a sector-by-sector model for random tables and ranges",
          "[remap_table]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3, 4));
  TableFixture f;
  // Clusters of remapped sectors, so runs merge, break at slot order and at
  // the reservations between the slots.
  for (int cluster = 0; cluster < 40; ++cluster) {
    const uint64_t first = rng() % 2000;
    std::vector<uint64_t> sectors;
    for (uint64_t s = first; s < first + 1 + rng() % 8; ++s)
      if (!f.table->IsMapped(s)) sectors.push_back(s);
    if (rng() % 3 == 0) std::reverse(sectors.begin(), sectors.end());
    f.Remap(sectors);
  }
  for (int i = 0; i < 2000; ++i) {
    const uint64_t offset = rng() % (2048 * kSs);
    const size_t len = 1 + rng() % std::min<uint64_t>(64 * kSs, 2048 * kSs - offset);
    INFO("range " << offset << "+" << len);
    REQUIRE(Describe(f.table->Runs(offset, len)) == Describe(ModelRuns(*f.table, offset, len)));
  }
}

TEST_CASE("Commit maps, reactivates and returns sectors, and keeps the counters", "[remap_table]") {
  TableFixture f;
  const uint64_t free_before = f.table->free_slots();
  f.Remap({5, 6});
  f.Remap({7}, /*pending=*/true);
  TableCounters c = f.table->Counters();
  CHECK(c.remapped == 2);
  CHECK(c.pending == 1);
  CHECK(c.spare_used == 3);
  CHECK(f.table->RangeHasPending(7 * kSs + 511, 1));
  CHECK_FALSE(f.table->RangeHasPending(5 * kSs, 2 * kSs));

  const SlotMapping seven = f.table->MappingsIn({SectorRange{7, 7}}).front();
  REQUIRE_OK(f.table->Commit({{seven.slot, SlotEntry{true, false, 7}}}, 0));  // rewritten
  CHECK_FALSE(f.table->RangeHasPending(7 * kSs, kSs));
  CHECK(f.table->Counters().pending == 0);

  const SlotMapping five = f.table->MappingsIn({SectorRange{5, 5}}).front();
  REQUIRE_OK(f.table->Commit({{five.slot, SlotEntry{}}}, 0));  // returned to MAIN
  CHECK_FALSE(f.table->IsMapped(5));
  CHECK(f.table->free_slots() == free_before - 2);
  CHECK(f.table->UnmappedIn({SectorRange{4, 8}}) == std::vector<uint64_t>{4, 5, 8});
  c = f.table->Counters();
  CHECK(c.remapped == 2);
  CHECK(c.pending == 0);
  const std::vector<RemapEntry> expected = {{6, SpareByte(*f.table, 6) / kSs, false},
                                            {7, SpareByte(*f.table, 7) / kSs, false}};
  CHECK(testing::Describe(f.table->Entries()) == testing::Describe(expected));
}

TEST_CASE("A failed commit leaves the map as it was and releases the new slots", "[remap_table]") {
  TableFixture f;
  f.Remap({30});
  const uint64_t free_before = f.table->free_slots();
  const std::vector<RemapEntry> entries_before = f.table->Entries();
  std::vector<uint64_t> slots;
  REQUIRE_OK(f.table->Allocate({31, 32}, &slots));
  f.faults->AddFault(0, f.g.spare_sectors - 1, FaultMode::kWrite);
  const SlotMapping thirty = f.table->MappingsIn({SectorRange{30, 30}}).front();
  const Status st = f.table->Commit({{thirty.slot, SlotEntry{}},
                                     {slots[0], SlotEntry{true, false, 31}},
                                     {slots[1], SlotEntry{true, true, 32}}},
                                    2);
  REQUIRE_FALSE(st.ok());
  CHECK(f.table->free_slots() == free_before);
  CHECK(f.table->IsMapped(30));
  CHECK_FALSE(f.table->IsMapped(31));
  CHECK_FALSE(f.table->IsMapped(32));
  CHECK(testing::Describe(f.table->Entries()) == testing::Describe(entries_before));
}

TEST_CASE("A table loaded back from the spare holds what was committed", "[remap_table]") {
  TableFixture f;
  f.Remap({1, 2, 3});
  f.Remap({9}, /*pending=*/true);
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Open(f.spare.get(), MetadataOpenOptions{}, &store));
  std::unique_ptr<RemapTable> loaded;
  REQUIRE_OK(RemapTable::Load(std::move(store), &loaded));
  CHECK(testing::Describe(loaded->Entries()) == testing::Describe(f.table->Entries()));
  CHECK(loaded->free_slots() == f.table->free_slots());
  CHECK(loaded->Counters().pending == 1);
  CHECK(loaded->Runs(0, 12 * kSs) == f.table->Runs(0, 12 * kSs));
}

TEST_CASE("Load refuses a table that remaps one sector twice", "[remap_table]") {
  TableFixture f;
  f.Remap({40});
  f.Remap({41});
  std::unique_ptr<MetadataStore> store;
  MetadataOpenOptions unchecked;
  unchecked.verify_table = false;  // as `check` opens it, to report such tables
  REQUIRE_OK(MetadataStore::Open(f.spare.get(), unchecked, &store));
  const uint64_t slot41 = f.table->MappingsIn({SectorRange{41, 41}}).front().slot;
  REQUIRE_OK(store->Commit({{slot41, SlotEntry{true, false, 40}}}));
  std::unique_ptr<RemapTable> loaded;
  const Status st = RemapTable::Load(std::move(store), &loaded);
  REQUIRE(st.IsCorruption());
  CHECK(st.message().find("main sector 40 is remapped twice") != std::string::npos);
}

}  // namespace
}  // namespace remapfs
