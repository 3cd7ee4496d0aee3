// SpareAllocator::AllocateRunsAtTail: runs back to back from the tail after
// the skips asked for, skipped slots still handed out (lowest first), all or
// nothing, and a random churn that mixes it with Allocate and Free.
#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "remapfs/spare_allocator.h"

using namespace remapfs;

namespace {

// Skips `skips[run]` slots before each run, and records where each run
// could have started.
struct FixedSkips {
  explicit FixedSkips(std::vector<uint64_t> s = {}) : skips(std::move(s)) {}
  std::vector<uint64_t> skips;
  std::vector<uint64_t> asked_at;
  SpareAllocator::SkipFn Fn() {
    return [this](size_t run, uint64_t first_free) {
      asked_at.push_back(first_free);
      return skips[run];
    };
  }
};

std::vector<uint64_t> Drain(SpareAllocator& alloc) {
  std::vector<uint64_t> out;
  uint64_t slot = 0;
  while (alloc.Allocate(&slot).ok()) out.push_back(slot);
  return out;
}

}  // namespace

TEST_CASE("Runs go back to back from the tail after their skips; skipped slots come first later",
          "[allocator]") {
  SpareAllocator alloc(20);
  std::vector<uint64_t> slots;
  REQUIRE(alloc.AllocateMany(3, &slots).ok());  // 0, 1, 2
  FixedSkips skips({3, 1});
  REQUIRE(alloc.AllocateRunsAtTail({4, 2}, skips.Fn(), &slots).ok());
  CHECK(skips.asked_at == std::vector<uint64_t>{3, 10});
  CHECK(slots == std::vector<uint64_t>{6, 7, 8, 9, 11, 12});
  CHECK(alloc.used_count() == 9);
  // Nothing is lost: the skipped slots, then the rest of the tail.
  CHECK(Drain(alloc) == std::vector<uint64_t>{3, 4, 5, 10, 13, 14, 15, 16, 17, 18, 19});
}

TEST_CASE("A run that does not fit at the tail changes nothing", "[allocator]") {
  SpareAllocator alloc(20);
  std::vector<uint64_t> slots{99};
  SECTION("a slot used by a load inside the stretch") {
    REQUIRE(alloc.MarkUsed(10).ok());
    FixedSkips none({0});
    CHECK(alloc.AllocateRunsAtTail({12}, none.Fn(), &slots).IsNoSpace());
    CHECK(alloc.used_count() == 1);
  }
  SECTION("longer than the tail") {
    FixedSkips none({0});
    CHECK(alloc.AllocateRunsAtTail({21}, none.Fn(), &slots).IsNoSpace());
  }
  SECTION("the skip pushes it past the end") {
    FixedSkips three({3});
    CHECK(alloc.AllocateRunsAtTail({18}, three.Fn(), &slots).IsNoSpace());
  }
  SECTION("a second run would start at the end: the callback is never asked about it") {
    FixedSkips none({0, 0});
    CHECK(alloc.AllocateRunsAtTail({20, 1}, none.Fn(), &slots).IsNoSpace());
    CHECK(none.asked_at == std::vector<uint64_t>{0});
  }
  CHECK(slots == std::vector<uint64_t>{99});
  uint64_t slot = 7;
  REQUIRE(alloc.Allocate(&slot).ok());
  CHECK(slot == 0);  // the lowest free slot: no skip was kept
}

TEST_CASE("The tail starts past slots a load marked used", "[allocator]") {
  SpareAllocator alloc(10);
  for (uint64_t s : {0, 1, 2}) REQUIRE(alloc.MarkUsed(s).ok());
  FixedSkips none({0});
  std::vector<uint64_t> slots;
  REQUIRE(alloc.AllocateRunsAtTail({2}, none.Fn(), &slots).ok());
  CHECK(slots == std::vector<uint64_t>{3, 4});
}

TEST_CASE("Runs at the tail among random churn: never twice, never lost", "[allocator]") {
  constexpr uint64_t kCapacity = 400;
  SpareAllocator alloc(kCapacity);
  std::set<uint64_t> used, free;
  for (uint64_t s = 0; s < kCapacity; ++s) free.insert(s);
  std::mt19937_64 rng(GENERATE(7, 8, 9));
  for (int op = 0; op < 3000; ++op) {
    const unsigned kind = rng() % 10;
    if (kind < 3) {
      uint64_t slot = 0;
      const Status st = alloc.Allocate(&slot);
      REQUIRE(st.ok() == !free.empty());
      if (st.ok()) {
        REQUIRE(slot == *free.begin());  // skipped slots do not break lowest-first
        used.insert(slot);
        free.erase(slot);
      }
    } else if (kind < 6) {
      std::vector<uint64_t> lengths(1 + rng() % 3);
      FixedSkips skips;
      for (uint64_t& n : lengths) n = 1 + rng() % 12, skips.skips.push_back(rng() % 8);
      std::vector<uint64_t> slots;
      if (!alloc.AllocateRunsAtTail(lengths, skips.Fn(), &slots).ok()) continue;
      REQUIRE(skips.asked_at.size() == lengths.size());
      size_t at = 0;
      for (size_t run = 0; run < lengths.size(); ++run) {
        const uint64_t first = skips.asked_at[run] + skips.skips[run];
        if (run > 0) REQUIRE(skips.asked_at[run] == slots[at - 1] + 1);  // back to back
        for (uint64_t i = 0; i < lengths[run]; ++i, ++at) REQUIRE(slots[at] == first + i);
      }
      for (uint64_t s = skips.asked_at[0]; s <= slots.back(); ++s)
        REQUIRE(alloc.IsUsed(s) == std::count(slots.begin(), slots.end(), s));  // skips stay free
      for (uint64_t s : slots) {
        REQUIRE(free.erase(s) == 1);
        used.insert(s);
      }
    } else if (!used.empty()) {
      auto it = used.begin();
      std::advance(it, rng() % used.size());
      REQUIRE(alloc.Free(*it).ok());
      free.insert(*it);
      used.erase(it);
    }
    REQUIRE(alloc.used_count() == used.size());
  }
  // Exhaustion: every free slot is still handed out, lowest first.
  CHECK(Drain(alloc) == std::vector<uint64_t>(free.begin(), free.end()));
  CHECK(alloc.free_count() == 0);
}
