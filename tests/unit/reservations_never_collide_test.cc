// Reserved spare sectors never collide with remapped data: the validation
// list of the original dm-remap bug report (whose allocator handed out
// sectors that held metadata), run against each placement case of the SPEC
// table: a 4 MiB spare (geometric), 512 KiB (linear) and 64 KiB (minimal),
// with 512-byte sectors.
#include <algorithm>
#include <map>

#include "remapfs/reservations.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

struct SpecCase {
  const char* name;
  uint64_t spare_bytes;
  Strategy strategy;
  std::vector<uint64_t> copy_starts;
};

const SpecCase kCases[] = {
    {"4 MiB spare, geometric", 4 << 20, Strategy::kGeometric, {0, 1024, 2048, 4096}},
    {"512 KiB spare, linear", 512 << 10, Strategy::kLinear, {0, 256, 512, 768}},
    {"64 KiB spare, minimal", 64 << 10, Strategy::kMinimal, {0, 8, 16, 24, 32, 40, 48, 56}},
};

// Main has twice the spare's sectors: room to remap every slot at a stride.
MemVolumeOptions OptionsFor(const SpecCase& c) {
  MemVolumeOptions o;
  o.spare_bytes = c.spare_bytes;
  o.main_bytes = 2 * c.spare_bytes;
  o.sector_size = kSector;
  return o;
}

bool InsideAnyExtent(const std::vector<Extent>& extents, uint64_t sector) {
  return std::any_of(extents.begin(), extents.end(),
                     [&](const Extent& e) { return sector >= e.first && sector <= e.last; });
}

// Every spare sector outside the extents, ascending: the order a lowest-first
// allocator must hand them out.
std::vector<uint64_t> FreeSectorsInOrder(const std::vector<Extent>& extents,
                                         uint64_t spare_sectors) {
  std::vector<uint64_t> out;
  for (uint64_t s = 0; s < spare_sectors; ++s) {
    if (!InsideAnyExtent(extents, s)) out.push_back(s);
  }
  return out;
}

ReservationSet ReservationsOf(Volume& v) {
  return ReservationSet::ForPlacement(v.geometry().placement, v.geometry().spare_sectors);
}

void RequireAllCopiesValid(MemVolume& mv) {
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(mv.InspectMetadata(&store, /*repair=*/false));
  for (const CopyReport& r : store->copy_reports()) {
    INFO("copy at " << r.start << ": " << r.problem);
    CHECK(r.state == CopyState::kValid);
    CHECK_FALSE(r.rewritten);
  }
  CHECK(store->valid_copies() == store->geometry().placement.copy_starts.size());
}

TEST_CASE("Placement lands each copy exactly where the SPEC table says",
          "[reservations_never_collide]") {
  const SpecCase& c = kCases[GENERATE(0, 1, 2)];
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const uint64_t spare_sectors = mv.spare_sectors();
  const std::vector<Extent> extents = mv->Reservations();
  const Placement& p = mv->geometry().placement;
  const uint64_t copies = c.copy_starts.size();
  const uint64_t len = SpecCopyLength(kSector, spare_sectors, copies);

  CHECK(p.strategy == c.strategy);
  CHECK(p.copy_sectors == len);
  REQUIRE(extents.size() == copies);
  for (size_t i = 0; i < copies; ++i) {
    INFO("extent " << i);
    CHECK(extents[i].first == c.copy_starts[i]);
    CHECK(extents[i].last - extents[i].first + 1 == len);
  }

  const ReservationSet rs = ReservationsOf(mv.vol());
  for (uint64_t s = 0; s < spare_sectors; ++s) {
    INFO("spare sector " << s);
    REQUIRE(rs.IsReserved(s) == InsideAnyExtent(extents, s));
  }
  for (uint64_t start : c.copy_starts) {
    for (uint64_t s = start; s < start + len; ++s) REQUIRE(rs.IsReserved(s));
  }
  const VolumeStats st = mv->Stats();
  CHECK(st.strategy == c.strategy);
  CHECK(st.metadata_copies == copies);
  CHECK(st.reserved_sectors == copies * len);
  CHECK(st.spare_capacity == spare_sectors - copies * len);
  CHECK(st.spare_sectors == spare_sectors);
}

TEST_CASE("Sequential allocation skips every reserved extent", "[reservations_never_collide]") {
  const SpecCase& c = kCases[GENERATE(0, 1, 2)];
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const std::vector<Extent> extents = mv->Reservations();
  const std::vector<uint64_t> order = FreeSectorsInOrder(extents, mv.spare_sectors());
  const uint64_t capacity = mv->Stats().spare_capacity;
  REQUIRE(order.size() == capacity);

  for (uint64_t i = 0; i < capacity; ++i) {
    REQUIRE_OK(mv->AddBad(Sectors({2 * i})));
  }

  const std::vector<RemapEntry> remaps = mv->Remaps();
  REQUIRE(remaps.size() == capacity);
  const ReservationSet rs = ReservationsOf(mv.vol());
  for (uint64_t i = 0; i < capacity; ++i) {
    INFO("remap " << i << ": " << remaps[i].main_sector << " -> " << remaps[i].spare_sector);
    REQUIRE(remaps[i].main_sector == 2 * i);
    REQUIRE_FALSE(remaps[i].pending);
    REQUIRE(remaps[i].spare_sector == order[i]);
    REQUIRE_FALSE(rs.IsReserved(remaps[i].spare_sector));
    REQUIRE_FALSE(InsideAnyExtent(extents, remaps[i].spare_sector));
    if (i > 0) REQUIRE(remaps[i].spare_sector > remaps[i - 1].spare_sector);
  }
  CHECK(mv->Stats().spare_free == 0);
}

TEST_CASE("Metadata and data survive remapping the whole spare", "[reservations_never_collide]") {
  const SpecCase& c = kCases[GENERATE(0, 1, 2)];
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const uint64_t capacity = mv->Stats().spare_capacity;
  std::vector<uint64_t> bad;
  for (uint64_t i = 0; i < capacity; ++i) bad.push_back(2 * i);
  REQUIRE_OK(mv->AddBad(Sectors(bad)));

  // AddBad copied MAIN's content: the volume still reads the original bytes.
  const uint64_t disk = mv.options().main_bytes;
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, disk), Pattern(0, disk, 1)) == "");

  // One write over the remapped area: even sectors land on the spare, odd
  // ones on MAIN, which keeps the old bytes of the remapped sectors.
  const uint64_t area = 2 * capacity * kSector;
  REQUIRE_OK(mv->Write(0, Pattern(0, area, 2).data(), area));
  std::vector<uint8_t> expected = Pattern(0, disk, 1);
  std::copy_n(Pattern(0, area, 2).begin(), area, expected.begin());
  for (uint64_t s = 0; s < 2 * capacity; ++s) {
    const uint64_t seed = (s % 2 == 0) ? 1 : 2;
    REQUIRE(ByteDiff(ReadRange(mv.main_mem(), s * kSector, kSector),
                     Pattern(s * kSector, kSector, seed)) == "");
  }

  const std::string before = Describe(mv->Remaps());
  const uint64_t sequence = mv->Stats().metadata_sequence;
  mv.Close();
  RequireAllCopiesValid(mv);
  REQUIRE_OK(mv.Reopen());

  CHECK(Describe(mv->Remaps()) == before);
  const VolumeStats st = mv->Stats();
  CHECK(st.metadata_sequence == sequence);
  CHECK(st.metadata_valid_copies == st.metadata_copies);
  CHECK(st.remapped == capacity);
  CHECK(st.spare_free == 0);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, disk), expected) == "");
  for (const RemapEntry& r : mv->Remaps()) {
    INFO("main " << r.main_sector << " on spare " << r.spare_sector);
    REQUIRE(ByteDiff(ReadRange(mv.spare_mem(), r.spare_sector * kSector, kSector),
                     Pattern(r.main_sector * kSector, kSector, 2)) == "");
  }
}

// Snapshot of every metadata copy's bytes, straight from the spare memory.
std::vector<std::vector<uint8_t>> CopyRegions(MemVolume& mv, const std::vector<Extent>& extents) {
  std::vector<std::vector<uint8_t>> out;
  for (const Extent& e : extents) {
    out.push_back(ReadRange(mv.spare_mem(), e.first * kSector, (e.last - e.first + 1) * kSector));
  }
  return out;
}

TEST_CASE("Allocations next to a reserved extent get first-1 then last+1, "
          "and data written there never touches a copy",
          "[reservations_never_collide]") {
  const SpecCase& c = kCases[GENERATE(0, 1, 2)];
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const uint64_t spare_sectors = mv.spare_sectors();
  const std::vector<Extent> extents = mv->Reservations();
  const ReservationSet rs = ReservationsOf(mv.vol());

  // Remap main sector i to slot i, up to the slot just past the last extent.
  const uint64_t last_after = extents.back().last + 1;
  REQUIRE(last_after < spare_sectors);
  const uint64_t count = rs.SectorToSlot(last_after) + 1;
  for (uint64_t i = 0; i < count; ++i) REQUIRE_OK(mv->AddBad(Sectors({i})));
  const std::vector<RemapEntry> remaps = mv->Remaps();
  REQUIRE(remaps.size() == count);
  std::map<uint64_t, uint64_t> main_of;  // spare sector -> main sector
  for (const RemapEntry& r : remaps) main_of[r.spare_sector] = r.main_sector;

  std::vector<uint64_t> boundary_mains;
  for (const Extent& e : extents) {
    INFO("extent " << e.first << "-" << e.last);
    const bool has_before = e.first > 0 && !rs.IsReserved(e.first - 1);
    const bool has_after = e.last + 1 < spare_sectors && !rs.IsReserved(e.last + 1);
    if (has_after) {
      REQUIRE(main_of.count(e.last + 1) == 1);
      boundary_mains.push_back(main_of[e.last + 1]);
    }
    if (has_before) {
      REQUIRE(main_of.count(e.first - 1) == 1);
      boundary_mains.push_back(main_of[e.first - 1]);
    }
    if (has_before && has_after) {
      // Consecutive allocations jump straight over the extent.
      CHECK(main_of[e.last + 1] == main_of[e.first - 1] + 1);
    }
  }
  REQUIRE_FALSE(boundary_mains.empty());

  // 0xFF over each boundary sector and its main neighbours, unaligned at
  // both ends: only data sectors change, no copy byte, no commit.
  const auto regions = CopyRegions(mv, extents);
  const uint64_t sequence = mv->Stats().metadata_sequence;
  for (uint64_t m : boundary_mains) {
    const uint64_t begin = m > 0 ? (m - 1) * kSector + 7 : 0;
    const uint64_t end = (m + 2) * kSector - 5;
    const std::vector<uint8_t> ff(end - begin, 0xFF);
    REQUIRE_OK(mv->Write(begin, ff.data(), ff.size()));
  }
  CHECK(mv->Stats().metadata_sequence == sequence);
  const auto after = CopyRegions(mv, extents);
  for (size_t i = 0; i < regions.size(); ++i) {
    INFO("copy " << i);
    CHECK(ByteDiff(after[i], regions[i]) == "");
  }
  for (uint64_t m : boundary_mains) {
    CHECK(ByteDiff(ReadVolume(mv.vol(), m * kSector, kSector),
                   std::vector<uint8_t>(kSector, 0xFF)) == "");
  }
  for (const auto& [spare, m] : main_of) {
    if (std::find(boundary_mains.begin(), boundary_mains.end(), m) == boundary_mains.end())
      continue;
    INFO("spare sector " << spare);
    CHECK(ByteDiff(ReadRange(mv.spare_mem(), spare * kSector, kSector),
                   std::vector<uint8_t>(kSector, 0xFF)) == "");
  }
  mv.Close();
  RequireAllCopiesValid(mv);
}

TEST_CASE("An exhausted spare refuses further remaps and changes nothing",
          "[reservations_never_collide]") {
  const SpecCase& c = kCases[GENERATE(0, 1, 2)];
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const uint64_t capacity = mv->Stats().spare_capacity;
  const std::vector<uint64_t> order = FreeSectorsInOrder(mv->Reservations(), mv.spare_sectors());

  REQUIRE_OK(mv->AddBad(SectorRun(0, capacity - 1)));
  REQUIRE(mv->Stats().spare_free == 1);
  REQUIRE_OK(mv->AddBad(Sectors({capacity - 1})));
  const std::vector<RemapEntry> full = mv->Remaps();
  REQUIRE(full.size() == capacity);
  CHECK(full.back().main_sector == capacity - 1);
  CHECK(full.back().spare_sector == order.back());
  CHECK(mv->Stats().spare_free == 0);

  auto require_refused = [&](const std::vector<SectorRange>& ranges) {
    const std::string remaps = Describe(mv->Remaps());
    const VolumeStats st = mv->Stats();
    const std::vector<uint8_t> spare = Snapshot(mv.spare_mem());
    const Status s = mv->AddBad(ranges);
    INFO(s.ToString());
    REQUIRE(s.IsNoSpace());
    CHECK(s.errno_value() == ENOSPC);
    CHECK(Describe(mv->Remaps()) == remaps);
    CHECK(mv->Stats().metadata_sequence == st.metadata_sequence);
    CHECK(mv->Stats().spare_free == st.spare_free);
    CHECK(ByteDiff(Snapshot(mv.spare_mem()), spare) == "");
  };
  SECTION("one more sector") { require_refused(Sectors({capacity})); }
  SECTION("a remapped sector plus one new one") {
    require_refused(Sectors({capacity - 1, capacity}));
  }
  SECTION("more sectors than were freed, after a remove") {
    REQUIRE_OK(mv->Remove(SectorRun(5, 3)));
    REQUIRE(mv->Stats().spare_free == 3);
    require_refused(SectorRun(capacity, 4));
    REQUIRE_OK(mv->AddBad(SectorRun(capacity, 3)));
    CHECK(mv->Stats().spare_free == 0);
    CHECK(mv->Remaps().size() == capacity);
  }
}

}  // namespace
}  // namespace remapfs::testing
