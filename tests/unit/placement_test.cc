// Metadata placement: the SPEC's table, the minimal copy length, and the
// geometric invariants (copies disjoint, inside the spare) over a sweep.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "remapfs/format.h"
#include "remapfs/placement.h"
#include "remapfs/reservations.h"

using namespace remapfs;

namespace {

using Starts = std::vector<uint64_t>;

Placement MustPlace(uint32_t ss, uint64_t spare, Strategy s = Strategy::kAuto) {
  Placement p;
  Status st = ComputePlacement(ss, spare, s, &p);
  INFO("spare " << spare << ": " << st.ToString());
  REQUIRE(st.ok());
  return p;
}

// Sectors a copy of `len` needs when `copies` copies are reserved: the
// header plus a table for every slot left. Written from the SPEC's words,
// independently of placement.cc.
uint64_t SectorsNeeded(uint32_t ss, uint64_t spare, uint64_t copies, uint64_t len) {
  const uint64_t per = format::SlotsPerTableSector(ss);
  const uint64_t slots = len > spare / copies ? 0 : spare - copies * len;
  return 1 + slots / per + (slots % per != 0 ? 1 : 0);
}

// Reference: the copy length by linear scan (small spares only).
uint64_t ReferenceCopySectors(uint32_t ss, uint64_t spare, uint64_t copies) {
  uint64_t len = format::kMinCopySectors;
  while (SectorsNeeded(ss, spare, copies, len) > len) ++len;
  return len;
}

// Every invariant a placement must satisfy, whatever its strategy.
void CheckPlacementInvariants(uint32_t ss, uint64_t spare, const Placement& p) {
  INFO("sector size " << ss << ", spare " << spare << ", strategy " << StrategyName(p.strategy));
  REQUIRE(p.strategy != Strategy::kAuto);
  REQUIRE(p.copy_sectors >= format::kMinCopySectors);
  REQUIRE(p.copy_starts.size() >= 2);
  REQUIRE(p.copy_starts.size() <= format::kMaxCopies);
  for (size_t i = 0; i + 1 < p.copy_starts.size(); ++i) {
    REQUIRE(p.copy_starts[i] + p.copy_sectors <= p.copy_starts[i + 1]);
  }
  REQUIRE(p.copy_starts.back() <= spare);
  REQUIRE(p.copy_sectors <= spare - p.copy_starts.back());
  // The table holds every slot, and one sector less would not.
  const uint64_t copies = p.copy_starts.size();
  REQUIRE(1 + TableSectorsFor(ss, spare - p.reserved_sectors()) <= p.copy_sectors);
  REQUIRE(SectorsNeeded(ss, spare, copies, p.copy_sectors) <= p.copy_sectors);
  if (p.copy_sectors > format::kMinCopySectors) {
    REQUIRE(SectorsNeeded(ss, spare, copies, p.copy_sectors - 1) > p.copy_sectors - 1);
  }
}

}  // namespace

TEST_CASE("givenSpecExamples_whenPlacedAuto_thenCopiesStartWhereSpecSays", "[placement]") {
  Placement p64k = MustPlace(512, 128);
  REQUIRE(p64k.strategy == Strategy::kMinimal);
  REQUIRE(p64k.copy_sectors == 8);
  REQUIRE(p64k.copy_starts == Starts{0, 8, 16, 24, 32, 40, 48, 56});

  Placement p512k = MustPlace(512, 1024);
  REQUIRE(p512k.strategy == Strategy::kLinear);
  REQUIRE(p512k.copy_starts == Starts{0, 256, 512, 768});
  // 62 slots per table sector: L = 17 holds 1024 - 68 = 956 slots in
  // 16 table sectors; L = 16 would leave 960 slots needing 16 + 1 > 16.
  REQUIRE(p512k.copy_sectors == 17);

  Placement p4m = MustPlace(512, 8192);
  REQUIRE(p4m.strategy == Strategy::kGeometric);
  REQUIRE(p4m.copy_starts == Starts{0, 1024, 2048, 4096});
  // Four copies: L = 126 leaves 7688 slots = exactly 124 table sectors.
  REQUIRE(p4m.copy_sectors == 126);
}

TEST_CASE("givenTableBoundaries_whenPlacedAuto_thenStrategyFollowsTable", "[placement]") {
  Placement p;
  Status st = ComputePlacement(512, 71, Strategy::kAuto, &p);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(st.message() == "spare too small: 71 sectors, need at least 72");
  REQUIRE(ComputePlacement(512, 0, Strategy::kAuto, &p).IsInvalidArgument());
  REQUIRE(ComputePlacement(4096, 71, Strategy::kGeometric, &p).IsInvalidArgument());

  REQUIRE(MustPlace(512, 72).strategy == Strategy::kMinimal);
  REQUIRE(MustPlace(512, 72).copy_starts == Starts{0, 8, 16, 24, 32, 40, 48, 56});
  Placement p1023 = MustPlace(512, 1023);
  REQUIRE(p1023.strategy == Strategy::kMinimal);
  REQUIRE(p1023.copy_starts.size() == 8);
  REQUIRE(p1023.copy_starts[7] == 7 * p1023.copy_sectors);
  Placement p8191 = MustPlace(512, 8191);
  REQUIRE(p8191.strategy == Strategy::kLinear);
  REQUIRE(p8191.copy_starts == Starts{0, 2047, 4095, 6143});  // floor(i*8191/4)
}

TEST_CASE("givenLargeSpare_whenPlacedAuto_thenFiveGeometricCopies", "[placement]") {
  const uint64_t spare = 1ull << 21;  // 1 GiB of 512-byte sectors
  Placement p = MustPlace(512, spare);
  REQUIRE(p.strategy == Strategy::kGeometric);
  const uint64_t unit = (p.copy_sectors + 1023) / 1024 * 1024;
  REQUIRE(p.copy_starts == Starts{0, unit, 2 * unit, 4 * unit, 8 * unit});
  CheckPlacementInvariants(512, spare, p);

  // Sizes near 2^64 must not overflow anywhere.
  for (Strategy s :
       {Strategy::kAuto, Strategy::kMinimal, Strategy::kLinear, Strategy::kGeometric}) {
    CheckPlacementInvariants(512, UINT64_MAX, MustPlace(512, UINT64_MAX, s));
    CheckPlacementInvariants(4096, UINT64_MAX / 3, MustPlace(4096, UINT64_MAX / 3, s));
  }
}

TEST_CASE("given4096ByteSectors_whenPlaced_thenTablesHold510SlotsPerSector", "[placement]") {
  REQUIRE(format::SlotsPerTableSector(4096) == 510);
  Placement small = MustPlace(4096, 128);
  REQUIRE(small.strategy == Strategy::kMinimal);
  REQUIRE(small.copy_sectors == 8);
  Placement mid = MustPlace(4096, 1024);
  REQUIRE(mid.strategy == Strategy::kLinear);
  REQUIRE(mid.copy_starts == Starts{0, 256, 512, 768});
  REQUIRE(mid.copy_sectors == 8);  // 992 slots fit in 2 table sectors
  Placement big = MustPlace(4096, 8192);
  REQUIRE(big.strategy == Strategy::kGeometric);
  REQUIRE(big.copy_starts == Starts{0, 1024, 2048, 4096});
  REQUIRE(big.copy_sectors == 17);  // 8124 slots: 16 table sectors + header
}

TEST_CASE("givenExplicitStrategy_whenItFitsOrNot_thenUsedOrRefused", "[placement]") {
  Placement p = MustPlace(512, 8192, Strategy::kMinimal);
  REQUIRE(p.strategy == Strategy::kMinimal);
  REQUIRE(p.copy_starts.size() == 8);
  p = MustPlace(512, 72, Strategy::kLinear);
  REQUIRE(p.copy_starts == Starts{0, 18, 36, 54});
  p = MustPlace(512, 4096, Strategy::kGeometric);
  REQUIRE(p.copy_starts == Starts{0, 1024, 2048});  // 4 x 1024 is the end

  Status st = ComputePlacement(512, 1024, Strategy::kGeometric, &p);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(st.message().find("geometric") != std::string::npos);
  REQUIRE(st.message().find("1024") != std::string::npos);
  REQUIRE(ComputePlacement(1000, 8192, Strategy::kAuto, &p).IsInvalidArgument());
  REQUIRE(ComputePlacement(512, 8192, static_cast<Strategy>(9), &p).IsInvalidArgument());
}

TEST_CASE("givenEverySpareSize_whenPlaced_thenCopiesDisjointAndInsideSpare", "[placement]") {
  for (uint32_t ss : {512u, 4096u}) {
    for (uint64_t spare = 72; spare <= 20000; ++spare) {
      Placement p = MustPlace(ss, spare);
      const Strategy expected = spare < 1024   ? Strategy::kMinimal
                                : spare < 8192 ? Strategy::kLinear
                                               : Strategy::kGeometric;
      REQUIRE(p.strategy == expected);
      CheckPlacementInvariants(ss, spare, p);
      REQUIRE(p.copy_sectors == ReferenceCopySectors(ss, spare, p.copy_starts.size()));
      for (Strategy s : {Strategy::kMinimal, Strategy::kLinear, Strategy::kGeometric}) {
        Placement forced;
        Status st = ComputePlacement(ss, spare, s, &forced);
        if (st.ok()) {
          REQUIRE(forced.strategy == s);
          CheckPlacementInvariants(ss, spare, forced);
          // The reservation set accepts it (it throws on overlap or overflow).
          auto set = ReservationSet::ForPlacement(forced, spare);
          REQUIRE(set.reserved_sectors() == forced.reserved_sectors());
        } else {
          REQUIRE(st.IsInvalidArgument());
          REQUIRE(s == Strategy::kGeometric);  // only geometric can miss
        }
      }
    }
  }
}

TEST_CASE("givenStrategyNames_whenParsed_thenRoundTripExactly", "[placement]") {
  for (Strategy s :
       {Strategy::kAuto, Strategy::kMinimal, Strategy::kLinear, Strategy::kGeometric}) {
    Strategy parsed = Strategy::kAuto;
    REQUIRE(ParseStrategy(StrategyName(s), &parsed));
    REQUIRE(parsed == s);
  }
  REQUIRE(StrategyName(Strategy::kGeometric) == "geometric");
  Strategy untouched = Strategy::kLinear;
  for (const char* bad : {"", "Auto", "linear ", "geo", "minimal\n"}) {
    REQUIRE_FALSE(ParseStrategy(bad, &untouched));
  }
  REQUIRE(untouched == Strategy::kLinear);
}

TEST_CASE("givenSlotCounts_whenTableSized_thenCeilingOfSlotsPerSector", "[placement]") {
  REQUIRE(TableSectorsFor(512, 0) == 0);
  REQUIRE(TableSectorsFor(512, 1) == 1);
  REQUIRE(TableSectorsFor(512, 62) == 1);
  REQUIRE(TableSectorsFor(512, 63) == 2);
  REQUIRE(TableSectorsFor(4096, 510) == 1);
  REQUIRE(TableSectorsFor(4096, 511) == 2);
  REQUIRE(TableSectorsFor(512, UINT64_MAX) == UINT64_MAX / 62 + 1);
  REQUIRE(IsValidSectorSize(512));
  REQUIRE(IsValidSectorSize(4096));
  REQUIRE_FALSE(IsValidSectorSize(0));
  REQUIRE_FALSE(IsValidSectorSize(1024));
}
