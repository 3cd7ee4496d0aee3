// ReservationSet (reservations.h): the extents a placement reserves, and
// the slot <-> sector numbering around them, against a brute-force scan.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "remapfs/placement.h"
#include "remapfs/reservations.h"

using namespace remapfs;

namespace {

// Model: the non-reserved sectors in ascending order, by brute force.
std::vector<uint64_t> FreeSectorsByScan(const ReservationSet& set) {
  std::vector<uint64_t> out;
  for (uint64_t s = 0; s < set.spare_sectors(); ++s) {
    bool reserved = false;
    for (const Extent& e : set.extents()) reserved |= (s >= e.first && s <= e.last);
    REQUIRE(set.IsReserved(s) == reserved);
    if (!reserved) out.push_back(s);
  }
  return out;
}

void CheckSlotMapping(const ReservationSet& set) {
  auto model = FreeSectorsByScan(set);
  REQUIRE(set.slot_count() == model.size());
  for (uint64_t slot = 0; slot < model.size(); ++slot) {
    REQUIRE(set.SlotToSector(slot) == model[slot]);
    REQUIRE(set.SectorToSlot(model[slot]) == slot);
  }
}

}  // namespace

TEST_CASE("givenPlacement_whenReserved_thenExtentsNamedAndSlotsSkipThem", "[reservations]") {
  for (uint64_t spare : {72ull, 128ull, 1000ull, 1024ull, 8192ull, 20000ull}) {
    CAPTURE(spare);
    Placement p;
    REQUIRE(ComputePlacement(512, spare, Strategy::kAuto, &p).ok());
    auto set = ReservationSet::ForPlacement(p, spare);
    REQUIRE(set.extents().size() == p.copy_starts.size());
    for (size_t i = 0; i < set.extents().size(); ++i) {
      const Extent& e = set.extents()[i];
      REQUIRE(e.what == "metadata-copy-" + std::to_string(i));
      REQUIRE(e.first == p.copy_starts[i]);
      REQUIRE(e.last == p.copy_starts[i] + p.copy_sectors - 1);
    }
    REQUIRE(set.reserved_sectors() == p.reserved_sectors());
    CheckSlotMapping(set);
  }
}

TEST_CASE("givenHandMadeExtents_whenMapped_thenSlotsNumberTheGaps", "[reservations]") {
  // Unsorted on purpose: the constructor sorts.
  ReservationSet set(100, {{90, 99, "tail"}, {0, 9, "head"}, {50, 50, "middle"}});
  REQUIRE(set.extents()[0].what == "head");
  REQUIRE(set.extents()[2].what == "tail");
  REQUIRE(set.reserved_sectors() == 21);
  REQUIRE(set.slot_count() == 79);
  REQUIRE(set.SlotToSector(0) == 10);
  REQUIRE(set.SlotToSector(39) == 49);
  REQUIRE(set.SlotToSector(40) == 51);
  REQUIRE(set.SlotToSector(78) == 89);
  REQUIRE(set.SectorToSlot(51) == 40);
  REQUIRE(set.IsReserved(50));
  REQUIRE_FALSE(set.IsReserved(49));
  CheckSlotMapping(set);

  ReservationSet none(5, {});
  REQUIRE(none.slot_count() == 5);
  CheckSlotMapping(none);
}

TEST_CASE("givenBadExtents_whenReservationSetBuilt_thenRejected", "[reservations]") {
  REQUIRE_THROWS_AS(ReservationSet(100, {{0, 10, "a"}, {10, 20, "b"}}), std::invalid_argument);
  REQUIRE_THROWS_AS(ReservationSet(100, {{90, 100, "a"}}), std::invalid_argument);
  REQUIRE_THROWS_AS(ReservationSet(100, {{20, 10, "a"}}), std::invalid_argument);
  REQUIRE_NOTHROW(ReservationSet(100, {{0, 9, "a"}, {10, 99, "b"}}));
}
