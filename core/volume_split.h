// Volume::ForEachRun: the one place a byte-range request is split at
// remapped sectors.
//
// A request [offset, offset+len) is cut into maximal runs that live
// contiguously on one device: stretches of MAIN between remapped sectors,
// and stretches of consecutive remapped sectors whose spare sectors are also
// consecutive. A request over k remapped sectors costs at most 2k+1 device
// calls, and one with none costs exactly one, with no allocation.
//
// Runs are byte ranges, so an unaligned head or tail needs no
// read-modify-write here: both devices are byte-addressable. (A device that
// needs alignment, e.g. O_DIRECT, must provide it below this layer, and with
// it the exclusion of every write overlapping the block it rewrites:
// AlignedDevice does both, so a sector-sized write over a larger device
// block never reverts a neighbour's write.) The Volume's own copies of
// sector data (AddBad, Remove, the partial sector of a failed write, scrub)
// read and write with the sectors' region of sector_locks_ held
// exclusively, so no request's write can land between their read and their
// write.
//
// Locking: Read and Write hold their region shared and table_mu_ shared for
// the whole request, so the mapping of every sector they touch is fixed
// until they finish. Work that must not hold table_mu_ across I/O takes a
// snapshot of the runs (SnapshotRuns) under it; its region lock keeps them
// valid.
#pragma once

#include <algorithm>

#include "remapfs/volume.h"

namespace remapfs {

template <typename Fn>
Status Volume::ForEachRun(uint64_t offset, size_t len, Fn&& fn) const {
  const uint64_t ss = geometry().sector_size;
  const uint64_t end = offset + len;
  uint64_t pos = offset;
  auto it = map_.lower_bound(offset / ss);
  while (pos < end) {
    if (it == map_.end() || it->first * ss >= end)
      return fn(*main_, pos, pos - offset, end - pos);
    if (it->first * ss > pos) {  // MAIN up to the next remapped sector
      const uint64_t run_end = it->first * ss;
      REMAPFS_RETURN_IF_ERROR(fn(*main_, pos, pos - offset, run_end - pos));
      pos = run_end;
      continue;
    }
    // Remapped: extend while the next main sector is remapped to the next
    // spare sector.
    const uint64_t first_spare_byte = SpareByteOffset(it->second.slot);
    const uint64_t run_start = first_spare_byte + pos % ss;
    uint64_t last_sector = it->first;
    uint64_t last_spare = first_spare_byte / ss;
    for (++it; it != map_.end() && it->first == last_sector + 1 && it->first * ss < end; ++it) {
      const uint64_t spare_sector = SpareByteOffset(it->second.slot) / ss;
      if (spare_sector != last_spare + 1) break;
      last_sector = it->first;
      last_spare = spare_sector;
    }
    const uint64_t run_end = std::min(end, (last_sector + 1) * ss);
    REMAPFS_RETURN_IF_ERROR(fn(*spare_, run_start, pos - offset, run_end - pos));
    pos = run_end;
  }
  return Status::Ok();
}

}  // namespace remapfs
