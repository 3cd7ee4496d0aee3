// Geometry of a volume and the placement of its metadata copies on the spare.
//
// The placement rules are the SPEC's table (strategy auto):
//   S < 72          refused
//   72 .. 1023      minimal:   8 copies back to back at 0, L, ..., 7L
//   1024 .. 8191    linear:    4 copies at floor(i*S/4), i = 0..3
//   >= 8192         geometric: 0, 1, 2, 4, 8 x U, U = 1024*ceil(L/1024),
//                              those that fit
// L is the smallest copy length, never under 8, that holds a header and a
// slot table for every sector the placement leaves free (format.h).
//
// Pure functions: no I/O, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/status.h"

namespace remapfs {

enum class Strategy : uint32_t {
  kAuto = 0,
  kMinimal = 1,
  kLinear = 2,
  kGeometric = 3,
};

std::string_view StrategyName(Strategy s);  // "auto", "minimal", ...
// Accepts exactly the names StrategyName returns.
bool ParseStrategy(std::string_view name, Strategy* out);

struct Placement {
  Strategy strategy = Strategy::kAuto;  // resolved: never kAuto
  uint64_t copy_sectors = 0;            // L
  std::vector<uint64_t> copy_starts;    // ascending spare sector numbers

  uint64_t reserved_sectors() const { return copy_sectors * copy_starts.size(); }
};

// Chooses the placement for a spare of `spare_sectors` sectors. `requested`
// kAuto follows the table; an explicit strategy is used if its copies fit
// without overlapping, else InvalidArgument naming the reason.
Status ComputePlacement(uint32_t sector_size, uint64_t spare_sectors, Strategy requested,
                        Placement* out);

// Number of table sectors a copy needs for `slots` slots.
uint64_t TableSectorsFor(uint32_t sector_size, uint64_t slots);

struct Geometry {
  uint32_t sector_size = 512;
  uint64_t main_sectors = 0;
  uint64_t spare_sectors = 0;
  Placement placement;

  // Spare sectors that can ever hold remapped data.
  uint64_t spare_capacity() const { return spare_sectors - placement.reserved_sectors(); }
  uint64_t main_bytes() const { return main_sectors * sector_size; }
};

bool IsValidSectorSize(uint32_t sector_size);  // 512 or 4096

}  // namespace remapfs
