// MetadataStore: formatting and commits. Loading lives in metadata_open.cc,
// finding headers on a spare in metadata_headers.cc.
//
// Commit order (the crash-safety argument of format.h): for each copy in
// turn, write the changed table sectors, flush, write the header with the
// new sequence, flush. While copy i is being written it is invalid (its
// table sectors are newer than its header, or torn); copies before it are
// wholly new and copies after it wholly old. So at every instant at least
// one copy is valid, and every copy holds every acknowledged commit.
//
// A write that fails (EIO on a table sector, a header or a flush) leaves
// that copy in an unknown state: old, torn, or even new (a failed write or
// flush may still land). The commit goes on with the other copies:
//  - if any copy took the new table, the commit succeeds. The failed copies
//    are marked corrupt; the newest sequence on disk is the new one, held in
//    full by the copies that took it, so a remount finds what we serve.
//    Later commits rewrite the failed copies in full.
//  - if none did, the new table may still have landed somewhere. So the old
//    table is written in full to every copy under a yet higher sequence:
//    one copy that takes it makes the old table the newest on disk again.
//  - if none takes that either, the on-disk table is unknown: healthy_
//    turns false and the Volume refuses writes until a commit succeeds.
#include "remapfs/metadata.h"

#include <algorithm>
#include <random>

#include <spdlog/spdlog.h>

#include "metadata_codec.h"
#include "remapfs/format.h"

namespace remapfs {

uint64_t EncodeSlot(const SlotEntry& e) {
  if (!e.used) return 0;
  return format::kSlotUsed | (e.pending ? format::kSlotPending : 0) |
         (e.main_sector & format::kSlotMainMask);
}

SlotEntry DecodeSlot(uint64_t raw) {
  SlotEntry e;
  e.used = (raw & format::kSlotUsed) != 0;
  e.pending = e.used && (raw & format::kSlotPending) != 0;
  e.main_sector = e.used ? (raw & format::kSlotMainMask) : 0;
  return e;
}

std::string_view CopyStateName(CopyState s) {
  switch (s) {
    case CopyState::kValid: return "valid";
    case CopyState::kStale: return "stale";
    case CopyState::kCorrupt: return "corrupt";
  }
  return "unknown";
}

MetadataStore::MetadataStore(BlockDevice* spare, Geometry geometry)
    : spare_(spare),
      geometry_(std::move(geometry)),
      reservations_(ReservationSet::ForPlacement(geometry_.placement, geometry_.spare_sectors)),
      table_sectors_(TableSectorsFor(geometry_.sector_size, geometry_.spare_capacity())),
      slot_count_(geometry_.spare_capacity()) {}

SlotEntry MetadataStore::slot(uint64_t i) const {
  const auto it = used_.find(i);
  return it == used_.end() ? SlotEntry{} : DecodeSlot(it->value);
}

uint32_t MetadataStore::repaired_copies() const {
  return std::count_if(reports_.begin(), reports_.end(),
                       [](const CopyReport& r) { return r.rewritten; });
}

uint64_t MetadataStore::CopyByteOffset(size_t copy, uint64_t sector_in_copy) const {
  return (geometry_.placement.copy_starts[copy] + sector_in_copy) * geometry_.sector_size;
}

void MetadataStore::CountValidCopies() {
  valid_copies_ = std::count(held_.begin(), held_.end(), sequence_);
}

Status MetadataStore::CheckMain(const MainBinding& actual) const {
  // The header keeps a bounded prefix of the identity.
  if (main_.id.empty() || main_.id == actual.id.substr(0, format::kMainIdBytes))
    return Status::Ok();
  return Status::InvalidArgument("this spare belongs to another MAIN: it was bound to '" +
                                 main_.path + "' (" + main_.id + "), and '" + actual.path +
                                 "' is " + (actual.id.empty() ? "unidentifiable" : actual.id) +
                                 "; if you moved or copied MAIN deliberately, mount with --rebind");
}

Status MetadataStore::WriteHeader(size_t copy) {
  codec::Header h;
  h.geometry = geometry_;
  h.binding = binding_;
  h.copy_index = static_cast<uint32_t>(copy);
  h.sequence = sequence_;
  h.slot_count = slot_count_;
  h.table_sectors = table_sectors_;
  h.main_id = main_.id;
  h.main_path = main_.path;
  std::vector<uint8_t> buf(geometry_.sector_size);
  codec::EncodeHeader(h, buf.data());
  return spare_->Write(CopyByteOffset(copy, 0), buf.data(), buf.size());
}

void MetadataStore::EncodeTableSectors(uint64_t first, uint64_t n, uint8_t* out) const {
  const uint32_t ss = geometry_.sector_size;
  const uint64_t per = format::SlotsPerTableSector(ss);
  std::vector<uint64_t> entries(per);
  auto it = used_.lower_bound(first * per);  // walked along, not searched per sector
  for (uint64_t t = first; t < first + n; ++t) {
    std::fill(entries.begin(), entries.end(), 0);
    for (; it != used_.end() && it->key < (t + 1) * per; ++it)
      entries[it->key - t * per] = it->value;
    const uint64_t count = std::min(per, slot_count_ - std::min(slot_count_, t * per));
    codec::EncodeTableEntries(entries.data(), count, t, sequence_, ss, binding_,
                              out + (t - first) * ss);
  }
}

// Writes the table sectors in `runs` of one copy, stamped with the current
// sequence: each run in calls of up to kTableWriteBytes, not one call per
// sector. Under O_DIRECT a 512-byte write is a read-modify-write of a whole
// device block, so a commit of many changes would otherwise cost one such
// round trip per table sector; and the buffer, not the table, bounds the
// memory of a full copy. Batching changes nothing for crash safety: the
// header is written only after these writes are flushed, and a torn
// multi-sector write is the same torn copy that per-sector writes can leave.
Status MetadataStore::WriteTableSectors(size_t copy, const std::vector<TableRun>& runs) {
  const uint32_t ss = geometry_.sector_size;
  uint64_t longest = 0;
  for (const TableRun& r : runs) longest = std::max(longest, r.end - r.first);
  const uint64_t chunk = std::min<uint64_t>(kTableWriteBytes / ss, longest);
  std::vector<uint8_t> buf(chunk * ss);
  for (const TableRun& r : runs) {
    for (uint64_t t = r.first; t < r.end; t += chunk) {
      const uint64_t n = std::min(chunk, r.end - t);
      EncodeTableSectors(t, n, buf.data());
      REMAPFS_RETURN_IF_ERROR(spare_->Write(CopyByteOffset(copy, 1 + t), buf.data(), n * ss));
    }
  }
  return Status::Ok();
}

// Writes the table sectors in `runs` of one copy stamped with the current
// sequence, flushes, then writes and flushes its header.
Status MetadataStore::WriteCopy(size_t copy, const std::vector<TableRun>& runs,
                                bool invalidate_first) {
  const uint32_t ss = geometry_.sector_size;
  if (invalidate_first && reports_.size() > 1) {
    const std::vector<uint8_t> zeros(ss, 0);
    REMAPFS_RETURN_IF_ERROR(spare_->Write(CopyByteOffset(copy, 0), zeros.data(), ss));
    REMAPFS_RETURN_IF_ERROR(spare_->Flush());
  }
  REMAPFS_RETURN_IF_ERROR(WriteTableSectors(copy, runs));
  REMAPFS_RETURN_IF_ERROR(spare_->Flush());
  REMAPFS_RETURN_IF_ERROR(WriteHeader(copy));
  return spare_->Flush();
}

Status MetadataStore::Format(BlockDevice* spare, const Geometry& geometry, const MainBinding& main,
                             bool spare_is_zero, std::unique_ptr<MetadataStore>* out,
                             const ProgressFn& progress) {
  if (spare->Size() != geometry.spare_sectors * geometry.sector_size)
    return Status::InvalidArgument("spare size does not match its geometry");
  std::unique_ptr<MetadataStore> store(new MetadataStore(spare, geometry));
  std::random_device rd;
  for (auto& b : store->binding_.volume_id) b = static_cast<uint8_t>(rd());
  store->binding_.generation = NextGeneration(spare, spare_is_zero);
  store->main_ = main;
  store->sequence_ = 1;
  // Headers of an earlier format at other positions must not be found later.
  REMAPFS_RETURN_IF_ERROR(WipeForeignHeaders(spare));
  // The sectors of a copy past its table (a few at most) are zero.
  const uint64_t used = 1 + store->table_sectors_;
  const std::vector<uint8_t> zeros((geometry.placement.copy_sectors - used) * geometry.sector_size,
                                   0);
  const size_t copies = geometry.placement.copy_starts.size();
  Report(progress, 0, copies);
  for (size_t c = 0; c < copies; ++c) {
    if (!zeros.empty())
      REMAPFS_RETURN_IF_ERROR(
          spare->Write(store->CopyByteOffset(c, used), zeros.data(), zeros.size()));
    REMAPFS_RETURN_IF_ERROR(store->WriteCopy(c, store->AllTableSectors()));
    store->reports_.push_back(
        {geometry.placement.copy_starts[c], CopyState::kValid, store->sequence_, "", false});
    Report(progress, c + 1, copies);
  }
  store->held_.assign(store->reports_.size(), store->sequence_);
  store->partial_.assign(store->reports_.size(), false);
  store->CountValidCopies();
  *out = std::move(store);
  return Status::Ok();
}

bool MetadataStore::MayOverwrite(size_t copy) const {
  if (held_.size() == 1) return true;
  // What must survive elsewhere: the table the copy holds, or, for a
  // partial copy, the whole table of the sequence it was opened at.
  const uint64_t needed = held_[copy] != 0 ? held_[copy] : partial_[copy] ? opened_sequence_ : 0;
  if (needed == 0) return true;
  for (size_t o = 0; o < held_.size(); ++o)
    if (o != copy && held_[o] >= needed) return true;
  return false;
}

// Copy by copy (format.h), going on past a failed copy, but never writing
// the last copy of the newest table on disk (MayOverwrite): a failed write
// may leave its copy torn.
size_t MetadataStore::WriteAllCopies(uint64_t base, const std::vector<TableRun>& touched, bool full,
                                     Status* first_error) {
  size_t written = 0;
  for (size_t c = 0; c < reports_.size(); ++c) {
    if (!MayOverwrite(c)) continue;
    CopyReport& r = reports_[c];
    const bool incremental = !full && held_[c] == base;
    Status st = WriteCopy(c, incremental ? touched : AllTableSectors(), !incremental);
    held_[c] = st.ok() ? sequence_ : 0;
    partial_[c] = false;  // whatever it held is overwritten now
    if (st.ok()) {
      r = {r.start, CopyState::kValid, sequence_, "", r.rewritten};
      ++written;
      continue;
    }
    spdlog::error("metadata commit {}: copy {} at spare sector {} failed: {}", sequence_, c,
                  r.start, st.ToString());
    r = {r.start, CopyState::kCorrupt, 0, "write failed: " + st.message(), false};
    if (first_error->ok()) *first_error = st;
  }
  CountValidCopies();
  return written;
}

void MetadataStore::SetSlot(uint64_t slot, const SlotEntry& entry) {
  if (entry.used) used_.Set(slot, EncodeSlot(entry));
  else used_.Erase(slot);
}

// The table sectors holding the changed slots, as runs of consecutive ones.
std::vector<MetadataStore::TableRun> MetadataStore::TouchedRuns(
    const std::vector<SlotChange>& changes) const {
  const uint64_t per = format::SlotsPerTableSector(geometry_.sector_size);
  std::vector<uint64_t> sectors;  // one per table sector where slots come in order
  for (const SlotChange& c : changes)
    if (sectors.empty() || sectors.back() != c.slot / per) sectors.push_back(c.slot / per);
  if (!std::is_sorted(sectors.begin(), sectors.end())) std::sort(sectors.begin(), sectors.end());
  std::vector<TableRun> runs;
  for (uint64_t t : sectors) {
    if (!runs.empty() && t < runs.back().end) continue;
    if (!runs.empty() && t == runs.back().end) ++runs.back().end;
    else runs.push_back({t, t + 1});
  }
  return runs;
}

Status MetadataStore::Commit(const std::vector<SlotChange>& changes) {
  return CommitChanges(changes, /*full=*/false);
}

Status MetadataStore::CommitChanges(const std::vector<SlotChange>& changes, bool full) {
  for (const SlotChange& c : changes) {
    if (c.slot >= slot_count_)
      return Status::InvalidArgument("slot " + std::to_string(c.slot) + " out of range");
  }
  std::vector<SlotChange> undo;
  undo.reserve(changes.size());
  for (const SlotChange& c : changes) {
    undo.push_back({c.slot, slot(c.slot)});
    SetSlot(c.slot, c.entry);
  }
  // Copies holding the table of `base` in full need only the changed sectors.
  const uint64_t base = sequence_;
  ++sequence_;
  Status error;
  if (WriteAllCopies(base, TouchedRuns(changes), full, &error) > 0) {
    healthy_ = true;
    return Status::Ok();
  }
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) SetSlot(it->slot, it->entry);
  ++sequence_;  // above anything the failed commit may have left
  Status ignored;
  // A copy that still holds the old table in full needs only a new header.
  healthy_ = WriteAllCopies(base, {}, /*full=*/false, &ignored) > 0;
  spdlog::error("metadata commit failed on every copy; the old table was {} under sequence {}",
                healthy_ ? "re-committed" : "NOT re-committed either (writes refused)", sequence_);
  // No copy may have been tried at all (each was the last of its table).
  if (error.ok())
    error = Status::IoError("no metadata copy could be written without risking "
                            "the last good copy of the table");
  return error.WithContext("metadata commit failed on every copy");
}

std::unique_ptr<MetadataStore> MetadataStore::Successor(const Geometry& geometry,
                                                        SlotMap used) const {
  std::unique_ptr<MetadataStore> next(new MetadataStore(spare_, geometry));
  next->binding_ = binding_;
  next->binding_.version = format::kVersion;
  next->main_ = main_;
  next->sequence_ = sequence_ + 1;
  next->used_ = std::move(used);
  next->reports_.resize(geometry.placement.copy_starts.size());
  next->held_.assign(next->reports_.size(), 0);
  next->partial_.assign(next->reports_.size(), false);
  for (size_t c = 0; c < next->reports_.size(); ++c)
    next->reports_[c] = {geometry.placement.copy_starts[c], CopyState::kCorrupt, 0,
                         "not written yet", false};
  return next;
}

Status MetadataStore::WriteFullCopy(size_t copy) {
  REMAPFS_RETURN_IF_ERROR(WriteCopy(copy, AllTableSectors(), /*invalidate_first=*/true));
  reports_[copy] = {geometry_.placement.copy_starts[copy], CopyState::kValid, sequence_, "", false};
  held_[copy] = sequence_;
  CountValidCopies();
  return Status::Ok();
}

Status MetadataStore::RewriteAll() {
  binding_.version = format::kVersion;
  return CommitChanges({}, /*full=*/true);
}

Status MetadataStore::Rebind(const MainBinding& main) {
  const MainBinding old = main_;
  main_ = main;
  Status st = RewriteAll();
  if (!st.ok() && healthy_) main_ = old;  // the old binding is what disk holds
  return st;
}

}  // namespace remapfs
