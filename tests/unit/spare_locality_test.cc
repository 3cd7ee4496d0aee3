// Spare slots keep MAIN's locality: sectors remapped together, by add_bad
// or by a write that fails on several of them, get slots in MAIN order,
// lowest free first, so they lie on consecutive spare sectors wherever the
// free space is consecutive (only reserved metadata extents come between).
// Then a request over neighbouring remapped sectors reads one spare run,
// and scattered remaps from one add_bad sit close together on the spare.
#include <algorithm>
#include <random>
#include <vector>

#include "test_util.h"

namespace remapfs::testing {
namespace {

MemVolumeOptions FourMiB() {
  MemVolumeOptions o;
  o.main_bytes = 4 << 20;
  o.spare_bytes = 1 << 20;
  return o;
}

// The spare sectors of `sectors` (remapped), in the order given.
std::vector<uint64_t> SpareSectorsOf(Volume& v, const std::vector<uint64_t>& sectors) {
  std::vector<uint64_t> out;
  const std::vector<RemapEntry> remaps = v.Remaps();
  for (uint64_t s : sectors) {
    auto it = std::find_if(remaps.begin(), remaps.end(),
                           [s](const RemapEntry& e) { return e.main_sector == s; });
    REQUIRE(it != remaps.end());
    out.push_back(it->spare_sector);
  }
  return out;
}

// True when `b` follows `a` on the spare with nothing but reserved
// sectors between them.
bool NextOnSpare(uint64_t a, uint64_t b, const std::vector<Extent>& reserved) {
  if (b <= a) return false;
  for (uint64_t s = a + 1; s < b; ++s)
    if (std::none_of(reserved.begin(), reserved.end(),
                     [s](const Extent& e) { return s >= e.first && s <= e.last; }))
      return false;
  return true;
}

// Every spare sector of `spares` follows the one before it.
int Gaps(const std::vector<uint64_t>& spares, const std::vector<Extent>& reserved) {
  int gaps = 0;
  for (size_t i = 1; i < spares.size(); ++i)
    gaps += !NextOnSpare(spares[i - 1], spares[i], reserved);
  return gaps;
}

std::vector<uint64_t> DistinctRandomSectors(std::mt19937_64& rng, size_t n, uint64_t below,
                                            const std::vector<uint64_t>& avoid = {}) {
  std::vector<uint64_t> out;
  while (out.size() < n) {
    const uint64_t s = rng() % below;
    if (std::find(out.begin(), out.end(), s) == out.end() &&
        std::find(avoid.begin(), avoid.end(), s) == avoid.end())
      out.push_back(s);
  }
  return out;
}

std::vector<uint64_t> SortedCopy(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("Sectors remapped together get consecutive spare sectors in MAIN order, in whatever "
          "order they are given",
          "[locality]") {
  MemVolume mv(FourMiB());
  std::mt19937_64 rng(5);
  const auto reserved = mv->Reservations();
  const auto first = DistinctRandomSectors(rng, 300, mv.main_sectors());
  REQUIRE_OK(mv->AddBad(Sectors(first)));  // listed in random order
  const auto first_spares = SpareSectorsOf(mv.vol(), SortedCopy(first));
  CHECK(Gaps(first_spares, reserved) == 0);
  // A second add_bad continues right after the first one's slots.
  const auto second = DistinctRandomSectors(rng, 200, mv.main_sectors(), first);
  REQUIRE_OK(mv->AddBad(Sectors(second)));
  auto spares = SpareSectorsOf(mv.vol(), SortedCopy(second));
  spares.insert(spares.begin(), first_spares.back());
  CHECK(Gaps(spares, reserved) == 0);
}

TEST_CASE("Slots that remove frees are taken again lowest first, in MAIN order", "[locality]") {
  MemVolume mv(FourMiB());
  std::mt19937_64 rng(6);
  const auto reserved = mv->Reservations();
  const auto sectors = DistinctRandomSectors(rng, 100, mv.main_sectors());
  REQUIRE_OK(mv->AddBad(Sectors(sectors)));
  const std::vector<uint64_t> removed(sectors.begin(), sectors.begin() + 10);
  const auto freed = SortedCopy(SpareSectorsOf(mv.vol(), removed));
  const uint64_t last_used = SortedCopy(SpareSectorsOf(mv.vol(), sectors)).back();
  REQUIRE_OK(mv->Remove(Sectors(removed)));

  const auto again = SortedCopy(DistinctRandomSectors(rng, 30, mv.main_sectors(), sectors));
  REQUIRE_OK(mv->AddBad(Sectors(again)));
  const auto spares = SpareSectorsOf(mv.vol(), again);
  // The first ten in MAIN order fill the holes, in order; the rest follow
  // the last slot that was in use.
  CHECK(std::vector<uint64_t>(spares.begin(), spares.begin() + 10) == freed);
  std::vector<uint64_t> tail(spares.begin() + 10, spares.end());
  tail.insert(tail.begin(), last_used);
  CHECK(Gaps(tail, reserved) == 0);
}

TEST_CASE("A write that fails on scattered sectors remaps them to consecutive spare sectors in "
          "MAIN order",
          "[locality]") {
  MemVolume mv(FourMiB());
  REQUIRE_OK(mv->AddBad(Sectors({7})));  // the slots of this write come after
  const std::vector<uint64_t> failing = {140, 103, 121, 108, 133};
  for (uint64_t s : failing) mv.main_fault()->AddFault(s, s, FaultMode::kWrite);
  const auto data = Pattern(100 * 512, 50 * 512, 21);
  REQUIRE_OK(mv->Write(100 * 512, data.data(), data.size()));
  CHECK(mv->Stats().auto_remaps == failing.size());
  auto spares = SpareSectorsOf(mv.vol(), SortedCopy(failing));
  spares.insert(spares.begin(), SpareSectorsOf(mv.vol(), {7}).front());
  CHECK(Gaps(spares, mv->Reservations()) == 0);
  CHECK(ReadVolume(mv.vol(), 100 * 512, 50 * 512) == data);
}

}  // namespace remapfs::testing
