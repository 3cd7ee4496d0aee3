// SpareAllocator (spare_allocator.h): lowest free slot first, all or
// nothing, loaded slots skipped, and a random churn against a model.
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <vector>

#include "remapfs/spare_allocator.h"

using namespace remapfs;

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
