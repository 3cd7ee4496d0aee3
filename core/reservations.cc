// ReservationSet: reserved spare extents and the slot numbering of the rest.
// See include/remapfs/reservations.h.
#include "remapfs/reservations.h"

#include <algorithm>
#include <stdexcept>

namespace remapfs {

namespace {

// Index of the last extent starting at or before `sector`, or -1 for none.
ptrdiff_t LastExtentAtOrBefore(const std::vector<Extent>& extents, uint64_t sector) {
  auto it = std::upper_bound(extents.begin(), extents.end(), sector,
                             [](uint64_t s, const Extent& e) { return s < e.first; });
  return (it - extents.begin()) - 1;
}

}  // namespace

// Bad extents are a programming error (placements come from
// ComputePlacement), so they throw rather than return a Status.
ReservationSet::ReservationSet(uint64_t spare_sectors, std::vector<Extent> extents)
    : spare_sectors_(spare_sectors), extents_(std::move(extents)) {
  std::sort(extents_.begin(), extents_.end(),
            [](const Extent& a, const Extent& b) { return a.first < b.first; });
  slot_base_.reserve(extents_.size());
  for (size_t i = 0; i < extents_.size(); ++i) {
    const Extent& e = extents_[i];
    if (e.first > e.last || e.last >= spare_sectors_) {
      throw std::invalid_argument("reservation " + e.what + " outside the spare");
    }
    if (i > 0 && extents_[i - 1].last >= e.first) {
      throw std::invalid_argument("reservation " + e.what + " overlaps " + extents_[i - 1].what);
    }
    slot_base_.push_back(e.first - reserved_);
    reserved_ += e.last - e.first + 1;
  }
}

ReservationSet ReservationSet::ForPlacement(const Placement& placement, uint64_t spare_sectors) {
  std::vector<Extent> extents;
  if (placement.copy_sectors > 0) {
    for (size_t i = 0; i < placement.copy_starts.size(); ++i) {
      const uint64_t start = placement.copy_starts[i];
      extents.push_back(
          Extent{start, start + placement.copy_sectors - 1, "metadata-copy-" + std::to_string(i)});
    }
  }
  return ReservationSet(spare_sectors, std::move(extents));
}

bool ReservationSet::IsReserved(uint64_t sector) const {
  ptrdiff_t i = LastExtentAtOrBefore(extents_, sector);
  return i >= 0 && sector <= extents_[i].last;
}

uint64_t ReservationSet::SlotToSector(uint64_t slot) const {
  // Extents with slot_base_ <= slot lie before the slot's sector.
  auto it = std::upper_bound(slot_base_.begin(), slot_base_.end(), slot);
  if (it == slot_base_.begin()) return slot;
  const size_t i = (it - slot_base_.begin()) - 1;
  return extents_[i].last + 1 + (slot - slot_base_[i]);
}

uint64_t ReservationSet::SectorToSlot(uint64_t sector) const {
  ptrdiff_t i = LastExtentAtOrBefore(extents_, sector);
  if (i < 0) return sector;
  return slot_base_[i] + (sector - extents_[i].last - 1);
}

}  // namespace remapfs
