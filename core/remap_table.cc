// RemapTable: the map, the allocator and the commit (remap_table.h). The
// split, a template on the request path, is in the header.
#include "remapfs/remap_table.h"

namespace remapfs {

RemapTable::RemapTable(std::unique_ptr<MetadataStore> metadata)
    : metadata_(std::move(metadata)), allocator_(metadata_->slot_count()) {}

Status RemapTable::Load(std::unique_ptr<MetadataStore> metadata, std::unique_ptr<RemapTable>* out) {
  std::unique_ptr<RemapTable> table(new RemapTable(std::move(metadata)));
  for (const auto& [slot, raw] : table->metadata_->used_slots()) {
    const SlotEntry e = DecodeSlot(raw);
    REMAPFS_RETURN_IF_ERROR(table->allocator_.MarkUsed(slot));
    if (const auto it = table->map_.find(e.main_sector); it != table->map_.end())
      return Status::Corruption("main sector " + std::to_string(e.main_sector) +
                                " is remapped twice (slots " + std::to_string(it->value.slot()) +
                                " and " + std::to_string(slot) + ")");
    table->map_.Set(e.main_sector, Mapping::Of(slot, e.pending));
    table->pending_count_ += e.pending;
  }
  *out = std::move(table);
  return Status::Ok();
}

std::vector<DeviceRun> RemapTable::Runs(uint64_t offset, size_t len) const {
  std::vector<DeviceRun> runs;
  (void)ForEachRun(offset, len, [&runs](const DeviceRun& r) {
    runs.push_back(r);
    return Status::Ok();
  });
  return runs;
}

bool RemapTable::RangeHasPending(uint64_t offset, size_t len) const {
  if (pending_count_ == 0 || len == 0) return false;
  const uint64_t ss = geometry().sector_size;
  const uint64_t last = (offset + len - 1) / ss;
  for (auto it = map_.lower_bound(offset / ss); it != map_.end() && it->key <= last; ++it)
    if (it->value.pending()) return true;
  return false;
}

std::vector<uint64_t> RemapTable::UnmappedIn(const std::vector<SectorRange>& ranges) const {
  std::vector<uint64_t> sectors;
  for (const SectorRange& r : ranges) {
    auto it = map_.lower_bound(r.first);
    for (uint64_t s = r.first; s <= r.last; ++s) {
      if (it != map_.end() && it->key == s) ++it;
      else sectors.push_back(s);
      if (s == r.last) break;  // r.last may be the largest uint64_t
    }
  }
  return sectors;
}

std::vector<SlotMapping> RemapTable::MappingsIn(const std::vector<SectorRange>& ranges) const {
  std::vector<SlotMapping> found;
  for (const SectorRange& r : ranges)
    for (auto it = map_.lower_bound(r.first); it != map_.end() && it->key <= r.last; ++it)
      found.push_back({it->key, it->value.slot(), it->value.pending()});
  return found;
}

std::vector<SlotMapping> RemapTable::MappingsIn(uint64_t offset, size_t len) const {
  if (len == 0) return {};
  const uint64_t ss = geometry().sector_size;
  return MappingsIn({SectorRange{offset / ss, (offset + len - 1) / ss}});
}

namespace {

// The lengths of the runs of consecutive sectors in `sectors` (ascending).
std::vector<uint64_t> RunLengths(const std::vector<uint64_t>& sectors) {
  std::vector<uint64_t> lengths;
  for (size_t i = 0; i < sectors.size(); ++i) {
    if (i == 0 || sectors[i] != sectors[i - 1] + 1) lengths.push_back(0);
    ++lengths.back();
  }
  return lengths;
}

}  // namespace

Status RemapTable::Allocate(const std::vector<uint64_t>& main_sectors,
                            std::vector<uint64_t>* slots) {
  // Sectors per 4 KiB block: the unit that O_DIRECT, 4Kn disks and the host
  // filesystem's blocks want whole.
  const uint64_t per_block = std::max<uint64_t>(1, 4096 / geometry().sector_size);
  const std::vector<uint64_t> lengths = RunLengths(main_sectors);
  const bool has_long_run = per_block > 1 &&
                            std::any_of(lengths.begin(), lengths.end(),
                                        [&](uint64_t n) { return n >= per_block; });
  if (has_long_run) {
    std::vector<uint64_t> run_firsts;  // each run's first MAIN sector
    for (size_t i = 0, at = 0; i < lengths.size(); at += lengths[i++])
      run_firsts.push_back(main_sectors[at]);
    const ReservationSet& reserved = metadata_->reservations();
    const auto skip_to_match = [&](size_t run, uint64_t first_free) -> uint64_t {
      if (lengths[run] < per_block) return 0;  // short runs stay packed
      const uint64_t want = run_firsts[run] % per_block;
      const uint64_t have = reserved.SlotToSector(first_free) % per_block;
      return (want + per_block - have) % per_block;
    };
    if (allocator_.AllocateRunsAtTail(lengths, skip_to_match, slots).ok()) return Status::Ok();
  }
  return allocator_.AllocateMany(main_sectors.size(), slots);
}

void RemapTable::Release(const std::vector<uint64_t>& slots) {
  for (uint64_t slot : slots) (void)allocator_.Free(slot);
}

Status RemapTable::Commit(const std::vector<SlotChange>& changes, size_t new_slots) {
  // What a returned slot maps now: its entry is cleared by the commit. The
  // new slots come last and map nothing yet.
  std::vector<SlotEntry> before(changes.size() - new_slots);
  for (size_t i = 0; i < before.size(); ++i)
    if (!changes[i].entry.used) before[i] = metadata_->slot(changes[i].slot);
  if (Status st = metadata_->Commit(changes); !st.ok()) {
    for (size_t i = changes.size() - new_slots; i < changes.size(); ++i)
      (void)allocator_.Free(changes[i].slot);
    return st;
  }
  std::lock_guard map_lock(map_mu_);
  for (size_t i = 0; i < changes.size(); ++i) {
    if (changes[i].entry.used) {
      Apply(changes[i]);
      continue;
    }
    const SlotEntry old = i < before.size() ? before[i] : SlotEntry{};
    auto it = map_.find(old.main_sector);
    if (old.used && it != map_.end() && it->value.slot() == changes[i].slot) {
      pending_count_ -= it->value.pending();
      map_.Erase(old.main_sector);
    }
    (void)allocator_.Free(changes[i].slot);
  }
  return Status::Ok();
}

void RemapTable::Apply(const SlotChange& change) {
  // Appending ascending sectors (AddBad) fills the last chunk: O(1).
  const auto it = map_.find(change.entry.main_sector);
  if (it != map_.end()) pending_count_ -= it->value.pending();
  pending_count_ += change.entry.pending;
  map_.Set(change.entry.main_sector, Mapping::Of(change.slot, change.entry.pending));
}

Status RemapTable::Recertify() { return metadata_->RewriteAll(); }

TableCounters RemapTable::Counters() const {
  TableCounters c;
  c.sequence = metadata_->sequence();
  c.valid_copies = metadata_->valid_copies();
  c.repaired_copies = metadata_->repaired_copies();
  c.spare_used = allocator_.used_count();
  c.spare_free = allocator_.free_count();
  c.remapped = map_.size() - pending_count_;
  c.pending = pending_count_;
  c.commits_failing = !metadata_->healthy();
  return c;
}

std::vector<RemapEntry> RemapTable::Entries() const {
  std::lock_guard lock(map_mu_);
  std::vector<RemapEntry> out;
  out.reserve(map_.size());
  for (const auto& [sector, m] : map_)
    out.push_back({sector, metadata_->reservations().SlotToSector(m.slot()), m.pending()});
  return out;
}

}  // namespace remapfs
