// Runs of remapped sectors keep their offset within 4 KiB on the spare
// (RemapTable::Allocate): a run that fills a 4 KiB block lands at the
// spare's never-allocated tail on sectors at the same offset within 4 KiB as
// its MAIN sectors, so aligned I/O over it stays aligned (no read-modify-
// write under O_DIRECT or on a 4Kn spare). The slots skipped for that stay
// allocatable: for every placement case the spare still fills to its last
// slot without touching a metadata copy.
#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint64_t kPerBlock = 8;  // 512-byte sectors in 4 KiB

struct PlacementCase {
  const char* name;
  uint64_t spare_bytes;
};

// The three rows of the SPEC's placement table (geometric, linear, minimal).
const PlacementCase kCases[] = {{"4 MiB spare, geometric", 4 << 20},
                                {"512 KiB, linear", 512 << 10},
                                {"64 KiB, minimal", 64 << 10}};

MemVolumeOptions OptionsFor(const PlacementCase& c) {
  MemVolumeOptions o;
  o.spare_bytes = c.spare_bytes;
  o.main_bytes = 4 * c.spare_bytes;
  return o;
}

std::vector<uint64_t> SpareOf(Volume& v, uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (const RemapEntry& e : v.Remaps())
    if (e.main_sector >= first && e.main_sector <= last) out.push_back(e.spare_sector);
  return out;
}

bool Consecutive(const std::vector<uint64_t>& v) {
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] != v[i - 1] + 1) return false;
  return true;
}

bool Reserved(const std::vector<Extent>& extents, uint64_t sector) {
  return std::any_of(extents.begin(), extents.end(),
                     [&](const Extent& e) { return sector >= e.first && sector <= e.last; });
}

}  // namespace

TEST_CASE("A range lands on spare sectors at its MAIN offset within 4 KiB", "[locality]") {
  const PlacementCase& c = kCases[GENERATE(0, 1, 2)];
  const uint64_t phase = GENERATE(0, 1, 5, 7);
  INFO(c.name << ", range starts at offset " << phase << " within 4 KiB");
  MemVolume mv(OptionsFor(c));
  REQUIRE_OK(mv->AddBad(Sectors({3})));  // the tail now starts off a block boundary
  const uint64_t first = 200 + phase, last = first + 15;
  REQUIRE_OK(mv->AddBad({SectorRange{first, last}}));
  const std::vector<uint64_t> spare = SpareOf(mv.vol(), first, last);
  REQUIRE(spare.size() == 16);
  CHECK(spare.front() % kPerBlock == first % kPerBlock);
  CHECK(Consecutive(spare));
  CHECK(ReadVolume(mv.vol(), first * 512, 16 * 512) == Pattern(first * 512, 16 * 512, 1));
  // The slots skipped before the range, if any, are the next ones a single
  // sector gets; else it follows the range.
  const uint64_t after_three = SpareOf(mv.vol(), 3, 3).front() + 1;
  REQUIRE_OK(mv->AddBad(Sectors({400})));
  const uint64_t single = SpareOf(mv.vol(), 400, 400).front();
  CHECK(single == (spare.front() > after_three ? after_three : spare.back() + 1));
}

TEST_CASE("A write that fails on a whole 4 KiB block is remapped to a whole block on the spare",
          "[locality]") {
  MemVolume mv(OptionsFor(kCases[0]));
  REQUIRE_OK(mv->AddBad(Sectors({3})));
  mv.main_fault()->AddFault(800, 807, FaultMode::kWrite);
  const std::vector<uint8_t> data = Pattern(800 * 512, 4096, 9);
  REQUIRE_OK(mv->Write(800 * 512, data.data(), data.size()));
  const std::vector<uint64_t> spare = SpareOf(mv.vol(), 800, 807);
  REQUIRE(spare.size() == 8);
  CHECK(spare.front() % kPerBlock == 0);
  CHECK(Consecutive(spare));
  CHECK(ReadVolume(mv.vol(), 800 * 512, 4096) == data);
}

TEST_CASE("Where the tail has no room for a range, it takes the lowest free slots", "[locality]") {
  MemVolume mv(OptionsFor(kCases[1]));
  const uint64_t capacity = mv->Stats().spare_capacity;
  std::vector<uint64_t> singles;
  for (uint64_t i = 0; i + 12 < capacity; ++i) singles.push_back(2 * i);
  REQUIRE_OK(mv->AddBad(Sectors(singles)));  // 12 slots left, all at the tail
  const std::vector<uint64_t> holes(singles.begin() + 100, singles.begin() + 110);
  const std::vector<uint64_t> freed = SpareOf(mv.vol(), holes.front(), holes.back());
  REQUIRE_OK(mv->Remove(Sectors(holes)));
  const uint64_t first = 2 * capacity + 1, last = first + 15;  // 16 > 12
  REQUIRE_OK(mv->AddBad({SectorRange{first, last}}));
  const std::vector<uint64_t> spare = SpareOf(mv.vol(), first, last);
  CHECK(std::vector<uint64_t>(spare.begin(), spare.begin() + 10) == freed);
  CHECK(mv->Stats().spare_free == 6);
  CHECK(ReadVolume(mv.vol(), first * 512, 16 * 512) == Pattern(first * 512, 16 * 512, 1));
}

TEST_CASE("Ranges at every offset still fill the spare to its last slot and never touch a copy",
          "[locality]") {
  const PlacementCase& c = kCases[GENERATE(0, 1, 2)];
  std::mt19937_64 rng(GENERATE(1, 2));
  INFO(c.name);
  MemVolume mv(OptionsFor(c));
  const std::vector<Extent> extents = mv->Reservations();
  const uint64_t capacity = mv->Stats().spare_capacity;
  // Ranges of 1 to 40 sectors at random offsets, apart, until the spare
  // cannot take the next one whole; then single sectors fill what is left,
  // the skipped slots included.
  uint64_t next_main = 0;
  while (true) {
    const uint64_t first = next_main + rng() % kPerBlock, len = 1 + rng() % 40;
    if (len > mv->Stats().spare_free) break;
    REQUIRE_OK(mv->AddBad({SectorRange{first, first + len - 1}}));
    next_main = first + len + 1;
  }
  while (mv->Stats().spare_free > 0) REQUIRE_OK(mv->AddBad(Sectors({next_main++})));
  CHECK(mv->AddBad(Sectors({next_main})).IsNoSpace());

  const std::vector<RemapEntry> remaps = mv->Remaps();
  REQUIRE(remaps.size() == capacity);
  std::set<uint64_t> spare;
  for (const RemapEntry& e : remaps) {
    INFO("main " << e.main_sector << " -> spare " << e.spare_sector);
    REQUIRE_FALSE(Reserved(extents, e.spare_sector));
    REQUIRE(e.spare_sector < mv.spare_sectors());
    REQUIRE(spare.insert(e.spare_sector).second);
  }
  const uint64_t disk = mv.options().main_bytes;
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, disk), Pattern(0, disk, 1)) == "");
  const std::string before = Describe(remaps);
  REQUIRE_OK(mv.Reopen());
  CHECK(Describe(mv->Remaps()) == before);
  CHECK(mv->Stats().metadata_valid_copies == mv->Stats().metadata_copies);
}

}  // namespace remapfs::testing
