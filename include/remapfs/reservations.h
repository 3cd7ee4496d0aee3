// ReservationSet: the spare sectors that belong to metadata, and the
// numbering of the rest.
//
// The spare's non-reserved sectors, in ascending order, are numbered by
// *slot*: slot 0 is the lowest free-for-data sector. Metadata tables are
// indexed by slot and the allocator hands out slots, so a remap can never
// name a reserved sector: there is no slot for it.
//
// Immutable after construction; thread-safe. Lookups cost O(log k) for k
// extents (k <= 8 in practice).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "remapfs/placement.h"

namespace remapfs {

struct Extent {
  uint64_t first = 0;  // inclusive spare sector
  uint64_t last = 0;   // inclusive spare sector
  std::string what;    // "metadata-copy-0", ...
};

class ReservationSet {
 public:
  // `extents` must lie inside [0, spare_sectors) and not overlap; they are
  // sorted here.
  ReservationSet(uint64_t spare_sectors, std::vector<Extent> extents);

  // The extents of every metadata copy of `placement`.
  static ReservationSet ForPlacement(const Placement& placement, uint64_t spare_sectors);

  uint64_t spare_sectors() const { return spare_sectors_; }
  uint64_t reserved_sectors() const { return reserved_; }
  uint64_t slot_count() const { return spare_sectors_ - reserved_; }
  const std::vector<Extent>& extents() const { return extents_; }

  bool IsReserved(uint64_t sector) const;
  // Precondition: slot < slot_count().
  uint64_t SlotToSector(uint64_t slot) const;
  // Precondition: sector < spare_sectors() and !IsReserved(sector).
  uint64_t SectorToSlot(uint64_t sector) const;

 private:
  uint64_t spare_sectors_;
  uint64_t reserved_ = 0;
  std::vector<Extent> extents_;      // sorted by first
  std::vector<uint64_t> slot_base_;  // slot_base_[i]: slots before extent i
};

}  // namespace remapfs
