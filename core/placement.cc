// Metadata placement: where the copies of the remap metadata live on the
// spare. The rules are the SPEC's table; see include/remapfs/placement.h.
#include "remapfs/placement.h"

#include <algorithm>
#include <array>
#include <string>

#include "remapfs/format.h"

namespace remapfs {

namespace {

constexpr uint64_t kLinearCopies = 4;
constexpr uint64_t kMinimalCopies = 8;
constexpr uint64_t kGeometricAlign = 1024;
constexpr std::array<uint64_t, 5> kGeometricMultipliers = {0, 1, 2, 4, 8};

// The smallest copy length L >= 8 whose header plus table hold every slot
// left once `copies` copies of L sectors are reserved. Sectors needed,
// 1 + TableSectorsFor(S - copies*L), never grows as L grows, so the first L
// that satisfies need(L) <= L is found by binary search.
uint64_t CopySectorsFor(uint32_t sector_size, uint64_t spare_sectors, uint64_t copies) {
  auto fits = [&](uint64_t len) {
    // copies*len may exceed S (no slots left); guard the subtraction.
    uint64_t slots = len > spare_sectors / copies ? 0 : spare_sectors - copies * len;
    return 1 + TableSectorsFor(sector_size, slots) <= len;
  };
  uint64_t lo = format::kMinCopySectors;
  uint64_t hi = std::max(lo, 1 + TableSectorsFor(sector_size, spare_sectors));
  while (lo < hi) {  // invariant: fits(hi)
    uint64_t mid = lo + (hi - lo) / 2;
    if (fits(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

std::string SpareDesc(uint64_t spare_sectors) {
  return "spare of " + std::to_string(spare_sectors) + " sectors";
}

Status PlaceMinimal(uint32_t ss, uint64_t spare, Placement* out) {
  const uint64_t len = CopySectorsFor(ss, spare, kMinimalCopies);
  if (len > spare / kMinimalCopies) {
    return Status::InvalidArgument("strategy minimal does not fit: " + SpareDesc(spare) +
                                   " cannot hold 8 copies of " + std::to_string(len) + " sectors");
  }
  out->strategy = Strategy::kMinimal;
  out->copy_sectors = len;
  out->copy_starts.clear();
  for (uint64_t i = 0; i < kMinimalCopies; ++i) out->copy_starts.push_back(i * len);
  return Status::Ok();
}

Status PlaceLinear(uint32_t ss, uint64_t spare, Placement* out) {
  const uint64_t len = CopySectorsFor(ss, spare, kLinearCopies);
  if (len > spare / kLinearCopies) {
    return Status::InvalidArgument("strategy linear does not fit: " + SpareDesc(spare) +
                                   " cannot hold 4 copies of " + std::to_string(len) +
                                   " sectors at quarter points");
  }
  out->strategy = Strategy::kLinear;
  out->copy_sectors = len;
  out->copy_starts.clear();
  // i*S/4 computed without overflowing i*S for huge spares.
  const uint64_t quarter = spare / 4, rem = spare % 4;
  for (uint64_t i = 0; i < kLinearCopies; ++i) {
    out->copy_starts.push_back(i * quarter + (i * rem) / 4);
  }
  return Status::Ok();
}

// Copies at 0, 1, 2, 4, 8 x U: as many of them (at least 2) as fit.
Status PlaceGeometric(uint32_t ss, uint64_t spare, Placement* out) {
  for (uint64_t n = kGeometricMultipliers.size(); n >= 2; --n) {
    const uint64_t len = CopySectorsFor(ss, spare, n);
    const uint64_t unit = (len + kGeometricAlign - 1) / kGeometricAlign * kGeometricAlign;
    const uint64_t last_mult = kGeometricMultipliers[n - 1];
    if (unit > spare / last_mult) continue;  // last start alone is past the end
    const uint64_t last_start = last_mult * unit;
    if (len > spare - last_start) continue;
    out->strategy = Strategy::kGeometric;
    out->copy_sectors = len;
    out->copy_starts.clear();
    for (uint64_t i = 0; i < n; ++i) out->copy_starts.push_back(kGeometricMultipliers[i] * unit);
    return Status::Ok();
  }
  return Status::InvalidArgument("strategy geometric does not fit: " + SpareDesc(spare) +
                                 " cannot hold 2 copies 1024-sector aligned");
}

}  // namespace

std::string_view StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kAuto: return "auto";
    case Strategy::kMinimal: return "minimal";
    case Strategy::kLinear: return "linear";
    case Strategy::kGeometric: return "geometric";
  }
  return "unknown";
}

bool ParseStrategy(std::string_view name, Strategy* out) {
  for (Strategy s :
       {Strategy::kAuto, Strategy::kMinimal, Strategy::kLinear, Strategy::kGeometric}) {
    if (name == StrategyName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

bool IsValidSectorSize(uint32_t sector_size) { return sector_size == 512 || sector_size == 4096; }

uint64_t TableSectorsFor(uint32_t sector_size, uint64_t slots) {
  const uint64_t per_sector = format::SlotsPerTableSector(sector_size);
  return slots / per_sector + (slots % per_sector != 0 ? 1 : 0);
}

Status ComputePlacement(uint32_t sector_size, uint64_t spare_sectors, Strategy requested,
                        Placement* out) {
  if (!IsValidSectorSize(sector_size)) {
    return Status::InvalidArgument("sector size " + std::to_string(sector_size) +
                                   " is not 512 or 4096");
  }
  if (spare_sectors < format::kMinSpareSectors) {
    return Status::InvalidArgument("spare too small: " + std::to_string(spare_sectors) +
                                   " sectors, need at least " +
                                   std::to_string(format::kMinSpareSectors));
  }
  Strategy strategy = requested;
  if (strategy == Strategy::kAuto) {
    strategy = spare_sectors < 1024   ? Strategy::kMinimal
               : spare_sectors < 8192 ? Strategy::kLinear
                                      : Strategy::kGeometric;
  }
  Placement result;
  Status st;
  switch (strategy) {
    case Strategy::kMinimal: st = PlaceMinimal(sector_size, spare_sectors, &result); break;
    case Strategy::kLinear: st = PlaceLinear(sector_size, spare_sectors, &result); break;
    case Strategy::kGeometric: st = PlaceGeometric(sector_size, spare_sectors, &result); break;
    default:
      return Status::InvalidArgument("unknown strategy " +
                                     std::to_string(static_cast<uint32_t>(requested)));
  }
  if (st.ok()) *out = std::move(result);
  return st;
}

}  // namespace remapfs
