// RemapTable: which MAIN sectors live on the spare, and where.
//
// It owns the remap table in both its forms: on disk (the MetadataStore and
// its redundant copies) and in memory (the map of main sector -> spare slot,
// with each sector's pending flag), the spare allocator, and the split of a
// byte range into device runs. It does no data I/O: the Volume reads and
// writes the runs, copies sector data, and makes that data durable before it
// asks for the commit that names it.
//
// Ownership: owns the MetadataStore, which borrows the spare device (the
// Volume keeps that alive for the table's life).
//
// Thread safety: not synchronized, except Entries(). The owner serializes:
// const members may run concurrently with each other, a non-const member
// (Allocate, Release, Commit, Recertify) runs alone. The Volume does this with
// its table_mu_, shared for lookups and exclusive for changes. Entries() may
// run at any time, concurrently with anything: it takes the table's own map
// mutex, which Commit holds only while it switches the in-memory map.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "remapfs/compact_map.h"
#include "remapfs/metadata.h"
#include "remapfs/sector_list.h"
#include "remapfs/spare_allocator.h"
#include "remapfs/status.h"

namespace remapfs {

// The device a run of a request lives on.
enum class DeviceRole { kMain, kSpare };

// One piece of a byte-range request that lives contiguously on one device.
struct DeviceRun {
  DeviceRole device;
  uint64_t at;  // byte offset on that device
  size_t pos;   // offset in the request's buffer
  size_t len;

  bool operator==(const DeviceRun&) const = default;
};

struct RemapEntry {
  uint64_t main_sector = 0;
  uint64_t spare_sector = 0;
  bool pending = false;
};

// One remapped sector as the table holds it: by slot, not spare sector.
struct SlotMapping {
  uint64_t main_sector = 0;
  uint64_t slot = 0;
  bool pending = false;
};

// The table's counters, as status shows them.
struct TableCounters {
  uint64_t sequence = 0;
  uint32_t valid_copies = 0;
  uint32_t repaired_copies = 0;
  uint64_t spare_used = 0;
  uint64_t spare_free = 0;
  uint64_t remapped = 0;  // active remaps
  uint64_t pending = 0;
  bool commits_failing = false;
};

class RemapTable {
 public:
  // Takes `metadata` and builds the map and the allocator from its slots.
  // Corruption if two used slots name the same main sector.
  static Status Load(std::unique_ptr<MetadataStore> metadata, std::unique_ptr<RemapTable>* out);

  const Geometry& geometry() const { return metadata_->geometry(); }
  const MetadataStore& metadata() const { return *metadata_; }

  // The split of [offset, offset+len) at remapped sectors (the only one):
  // calls fn(const DeviceRun&) for each maximal run, in order, and stops at
  // the first error. MAIN runs lie between remapped sectors; a spare run
  // covers consecutive remapped sectors whose spare sectors are consecutive
  // too. k remapped sectors in the range cost at most 2k+1 runs; none cost
  // exactly one, with no allocation. Runs are byte ranges: an unaligned head
  // or tail is the caller's (or the device's) business.
  template <typename Fn>
  Status ForEachRun(uint64_t offset, size_t len, Fn&& fn) const;
  // The same runs as a list, for work that must not hold the owner's lock
  // while it does I/O.
  std::vector<DeviceRun> Runs(uint64_t offset, size_t len) const;

  bool IsMapped(uint64_t sector) const { return map_.contains(sector); }
  bool RangeHasPending(uint64_t offset, size_t len) const;
  // The sectors in `ranges` (sorted, disjoint) that are not remapped,
  // ascending.
  std::vector<uint64_t> UnmappedIn(const std::vector<SectorRange>& ranges) const;
  // The remapped sectors in `ranges` (sorted, disjoint), ascending.
  std::vector<SlotMapping> MappingsIn(const std::vector<SectorRange>& ranges) const;
  // The remapped sectors touched by [offset, offset+len), ascending.
  std::vector<SlotMapping> MappingsIn(uint64_t offset, size_t len) const;
  uint64_t SpareByteOffset(uint64_t slot) const {
    return metadata_->reservations().SlotToSector(slot) * geometry().sector_size;
  }

  uint64_t free_slots() const { return allocator_.free_count(); }
  // A free slot for each of `main_sectors` (ascending), in that order, all
  // or nothing: NoSpace and no change if fewer are free. They stay allocated
  // until Release or a Commit naming them. The slots ascend with the
  // sectors, so neighbours in MAIN are neighbours on the spare. When some
  // run of consecutive sectors fills at least a 4 KiB block, the request
  // goes to the never-allocated tail of the spare, and each such run starts
  // on a spare sector at the same offset within 4 KiB as its first MAIN
  // sector (fewer than a block's worth of slots stay free before it): then
  // aligned I/O over the run is aligned on the spare too, and O_DIRECT or a
  // 4Kn spare needs no read-modify-write for it. Past a metadata extent
  // inside a run the offsets differ. Otherwise, and where the tail has no
  // room, the slots are the lowest free ones.
  Status Allocate(const std::vector<uint64_t>& main_sectors, std::vector<uint64_t>* slots);
  // Gives back slots from Allocate that no commit names.
  void Release(const std::vector<uint64_t>& slots);

  // Writes `changes` to the metadata (MetadataStore::Commit: durable when it
  // returns Ok), then switches the in-memory map. A change to a used entry
  // maps its sector to its slot (new remap, pending or not, or a pending
  // sector made active); an unused entry returns its slot's sector to MAIN
  // and frees the slot. The last `new_slots` changes use slots from Allocate:
  // if the commit fails they are released and the map is unchanged. The
  // caller has made the data the changes name durable first.
  Status Commit(const std::vector<SlotChange>& changes, size_t new_slots);
  // After a commit left the table on disk uncertain (!healthy()): rewrites
  // every copy under a new sequence (MetadataStore::RewriteAll).
  Status Recertify();
  bool healthy() const { return metadata_->healthy(); }

  TableCounters Counters() const;
  // Every remap, sorted by main sector. Safe at any time (see above).
  std::vector<RemapEntry> Entries() const;
  std::vector<Extent> Reservations() const { return metadata_->reservations().extents(); }

 private:
  // A remapped sector's slot and pending flag, in 8 bytes: with its key, a
  // remap costs 16 to 32 bytes here (compact_map.h) and as much again in
  // the MetadataStore's slot map.
  struct Mapping {
    static constexpr uint64_t kPending = 1ull << 63;  // slots are far below
    uint64_t bits;
    static Mapping Of(uint64_t slot, bool pending) { return {slot | (pending ? kPending : 0)}; }
    uint64_t slot() const { return bits & ~kPending; }
    bool pending() const { return (bits & kPending) != 0; }
    bool operator==(const Mapping&) const = default;
  };
  explicit RemapTable(std::unique_ptr<MetadataStore> metadata);
  void Apply(const SlotChange& change);  // caller holds map_mu_

  std::unique_ptr<MetadataStore> metadata_;
  SpareAllocator allocator_;
  // map_ changes only in Commit, under the owner's exclusion plus map_mu_,
  // so Entries may read it under map_mu_ alone.
  mutable std::mutex map_mu_;
  CompactMap<Mapping> map_;  // main sector -> slot
  uint64_t pending_count_ = 0;
};

template <typename Fn>
Status RemapTable::ForEachRun(uint64_t offset, size_t len, Fn&& fn) const {
  const uint64_t ss = geometry().sector_size;
  const uint64_t end = offset + len;
  uint64_t pos = offset;
  auto it = map_.lower_bound(offset / ss);
  while (pos < end) {
    if (it == map_.end() || it->key * ss >= end)
      return fn(DeviceRun{DeviceRole::kMain, pos, pos - offset, end - pos});
    if (it->key * ss > pos) {  // MAIN up to the next remapped sector
      const uint64_t run_end = it->key * ss;
      REMAPFS_RETURN_IF_ERROR(fn(DeviceRun{DeviceRole::kMain, pos, pos - offset, run_end - pos}));
      pos = run_end;
      continue;
    }
    // Remapped: extend while the next main sector is remapped to the next
    // spare sector.
    const uint64_t first_spare_byte = SpareByteOffset(it->value.slot());
    const uint64_t run_start = first_spare_byte + pos % ss;
    uint64_t last_sector = it->key;
    uint64_t last_spare = first_spare_byte / ss;
    for (++it; it != map_.end() && it->key == last_sector + 1 && it->key * ss < end; ++it) {
      const uint64_t spare_sector = SpareByteOffset(it->value.slot()) / ss;
      if (spare_sector != last_spare + 1) break;
      last_sector = it->key;
      last_spare = spare_sector;
    }
    const uint64_t run_end = std::min(end, (last_sector + 1) * ss);
    REMAPFS_RETURN_IF_ERROR(
        fn(DeviceRun{DeviceRole::kSpare, run_start, pos - offset, run_end - pos}));
    pos = run_end;
  }
  return Status::Ok();
}

}  // namespace remapfs
