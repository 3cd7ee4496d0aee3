// Reservations (slot <-> sector numbering), the spare allocator, and CRC32C.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "crc32c.h"  // internal header: not on the include path
#include "remapfs/placement.h"
#include "remapfs/reservations.h"
#include "remapfs/spare_allocator.h"

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

TEST_CASE("givenPlacement_whenReserved_thenExtentsNamedAndSlotsSkipThem", "[allocator]") {
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

TEST_CASE("givenHandMadeExtents_whenMapped_thenSlotsNumberTheGaps", "[allocator]") {
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

TEST_CASE("givenBadExtents_whenReservationSetBuilt_thenRejected", "[allocator]") {
  REQUIRE_THROWS_AS(ReservationSet(100, {{0, 10, "a"}, {10, 20, "b"}}), std::invalid_argument);
  REQUIRE_THROWS_AS(ReservationSet(100, {{90, 100, "a"}}), std::invalid_argument);
  REQUIRE_THROWS_AS(ReservationSet(100, {{20, 10, "a"}}), std::invalid_argument);
  REQUIRE_NOTHROW(ReservationSet(100, {{0, 9, "a"}, {10, 99, "b"}}));
}

TEST_CASE("givenFreshAllocator_whenAllocating_thenLowestFirstAndFreedReused", "[allocator]") {
  SpareAllocator alloc(10);
  uint64_t slot = 99;
  for (uint64_t want = 0; want < 6; ++want) {
    REQUIRE(alloc.Allocate(&slot).ok());
    REQUIRE(slot == want);
  }
  REQUIRE(alloc.Free(4).ok());
  REQUIRE(alloc.Free(1).ok());
  REQUIRE(alloc.used_count() == 4);
  REQUIRE_FALSE(alloc.IsUsed(1));
  for (uint64_t want : {1, 4, 6, 7}) {
    REQUIRE(alloc.Allocate(&slot).ok());
    REQUIRE(slot == want);
  }
}

TEST_CASE("givenFullAllocator_whenAllocating_thenNoSpaceAndNoChange", "[allocator]") {
  SpareAllocator alloc(4);
  std::vector<uint64_t> slots;
  REQUIRE(alloc.AllocateMany(4, &slots).ok());
  REQUIRE(slots == std::vector<uint64_t>{0, 1, 2, 3});
  uint64_t slot = 77;
  Status st = alloc.Allocate(&slot);
  REQUIRE(st.IsNoSpace());
  REQUIRE(st.errno_value() == ENOSPC);
  REQUIRE(st.message() == "spare exhausted: 4 of 4 slots in use");
  REQUIRE(slot == 77);
  REQUIRE(alloc.used_count() == 4);
  REQUIRE(alloc.free_count() == 0);

  SpareAllocator empty(0);
  REQUIRE(empty.Allocate(&slot).IsNoSpace());
  REQUIRE(empty.AllocateMany(0, &slots).ok());
  REQUIRE(slots.empty());
}

TEST_CASE("givenTooFewFree_whenAllocateMany_thenNothingIsAllocated", "[allocator]") {
  SpareAllocator alloc(5);
  uint64_t slot = 0;
  REQUIRE(alloc.Allocate(&slot).ok());
  REQUIRE(alloc.Allocate(&slot).ok());
  std::vector<uint64_t> slots;
  REQUIRE(alloc.AllocateMany(4, &slots).IsNoSpace());
  REQUIRE(alloc.used_count() == 2);
  for (uint64_t s = 2; s < 5; ++s) REQUIRE_FALSE(alloc.IsUsed(s));
  REQUIRE(alloc.AllocateMany(3, &slots).ok());
  REQUIRE(slots == std::vector<uint64_t>{2, 3, 4});
}

TEST_CASE("givenLoadedUsedSlots_whenAllocating_thenTheyAreSkipped", "[allocator]") {
  SpareAllocator alloc(8);
  for (uint64_t s : {0, 2, 3, 6}) REQUIRE(alloc.MarkUsed(s).ok());
  REQUIRE(alloc.MarkUsed(2).IsInvalidArgument());
  REQUIRE(alloc.MarkUsed(8).IsInvalidArgument());
  REQUIRE(alloc.used_count() == 4);
  std::vector<uint64_t> slots;
  REQUIRE(alloc.AllocateMany(4, &slots).ok());
  REQUIRE(slots == std::vector<uint64_t>{1, 4, 5, 7});
  // A slot freed below the cursor, then marked used again, is not handed out.
  REQUIRE(alloc.Free(4).ok());
  REQUIRE(alloc.MarkUsed(4).ok());
  uint64_t slot = 0;
  REQUIRE(alloc.Allocate(&slot).IsNoSpace());
}

TEST_CASE("givenFreeSlot_whenFreed_thenInvalidArgument", "[allocator]") {
  SpareAllocator alloc(3);
  REQUIRE(alloc.Free(0).IsInvalidArgument());
  REQUIRE(alloc.Free(3).IsInvalidArgument());
  REQUIRE(alloc.Free(UINT64_MAX).IsInvalidArgument());
  uint64_t slot = 0;
  REQUIRE(alloc.Allocate(&slot).ok());
  REQUIRE(alloc.Free(slot).ok());
  REQUIRE(alloc.Free(slot).IsInvalidArgument());
  REQUIRE(alloc.used_count() == 0);
}

TEST_CASE("givenRandomChurn_whenChecked_thenMatchesModelAfterEveryOp", "[allocator]") {
  constexpr uint64_t kCapacity = 300;
  SpareAllocator alloc(kCapacity);
  std::set<uint64_t> used, free;
  for (uint64_t s = 0; s < kCapacity; ++s) free.insert(s);
  std::mt19937_64 rng(20240611);
  for (int op = 0; op < 10000; ++op) {
    const unsigned kind = rng() % 10;
    if (kind < 5) {  // allocate one: must be the lowest free slot
      uint64_t slot = 0;
      Status st = alloc.Allocate(&slot);
      if (free.empty()) {
        REQUIRE(st.IsNoSpace());
      } else {
        REQUIRE(st.ok());
        REQUIRE(slot == *free.begin());
        REQUIRE(used.insert(slot).second);  // never handed out twice
        free.erase(slot);
      }
    } else if (kind < 6) {  // allocate several, all or nothing
      const uint64_t n = rng() % 8;
      std::vector<uint64_t> slots;
      Status st = alloc.AllocateMany(n, &slots);
      if (n > free.size()) {
        REQUIRE(st.IsNoSpace());
      } else {
        REQUIRE(st.ok());
        REQUIRE(slots.size() == n);
        for (uint64_t s : slots) {
          REQUIRE(s == *free.begin());  // lowest first, in order
          REQUIRE(used.insert(s).second);
          free.erase(s);
        }
      }
    } else if (kind < 9 && !used.empty()) {  // free a random used slot
      auto it = used.begin();
      std::advance(it, rng() % used.size());
      REQUIRE(alloc.Free(*it).ok());
      free.insert(*it);
      used.erase(it);
    } else if (!free.empty()) {  // MarkUsed a random free slot (as a load would)
      auto it = free.begin();
      std::advance(it, rng() % free.size());
      REQUIRE(alloc.MarkUsed(*it).ok());
      used.insert(*it);
      free.erase(it);
    }
    REQUIRE(alloc.used_count() == used.size());
    REQUIRE(alloc.free_count() + alloc.used_count() == kCapacity);
  }
  for (uint64_t s = 0; s < kCapacity; ++s) REQUIRE(alloc.IsUsed(s) == (used.count(s) == 1));
}

TEST_CASE("givenCrc32cVectors_whenComputed_thenMatchPublishedValues", "[allocator]") {
  REQUIRE(Crc32c("123456789", 9) == 0xE3069283u);
  REQUIRE(Crc32c("", 0) == 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  unsigned char buf[32];
  std::memset(buf, 0, sizeof buf);
  REQUIRE(Crc32c(buf, 32) == 0x8A9136AAu);
  std::memset(buf, 0xFF, sizeof buf);
  REQUIRE(Crc32c(buf, 32) == 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(i);
  REQUIRE(Crc32c(buf, 32) == 0x46DD794Eu);
  // Extending a CRC over a split buffer equals the CRC of the whole.
  const std::string text = "remapfs keeps a failing disk image in service";
  const uint32_t whole = Crc32c(text.data(), text.size());
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    REQUIRE(Crc32c(text.data() + cut, text.size() - cut, Crc32c(text.data(), cut)) == whole);
  }
}
