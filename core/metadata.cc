// MetadataStore: formatting and commits. Loading lives in metadata_open.cc.
//
// Commit order (the crash-safety argument of format.h): for each copy in
// turn, write the changed table sectors, flush, write the header with the
// new sequence, flush. While copy i is being written it is invalid (its
// table sectors are newer than its header, or torn); copies before it are
// wholly new and copies after it wholly old. So at every instant at least
// one copy is valid, and every copy holds every acknowledged commit.
#include "remapfs/metadata.h"

#include <algorithm>
#include <random>
#include <set>

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
      reservations_(ReservationSet::ForPlacement(geometry_.placement,
                                                 geometry_.spare_sectors)),
      table_sectors_(TableSectorsFor(geometry_.sector_size,
                                     geometry_.spare_capacity())),
      slots_(geometry_.spare_capacity(), 0) {}

uint32_t MetadataStore::repaired_copies() const {
  return std::count_if(reports_.begin(), reports_.end(),
                       [](const CopyReport& r) { return r.rewritten; });
}

uint64_t MetadataStore::CopyByteOffset(size_t copy, uint64_t sector_in_copy) const {
  return (geometry_.placement.copy_starts[copy] + sector_in_copy) *
         geometry_.sector_size;
}

Status MetadataStore::WriteHeader(size_t copy) {
  codec::Header h;
  h.geometry = geometry_;
  h.copy_index = static_cast<uint32_t>(copy);
  h.sequence = sequence_;
  h.slot_count = slots_.size();
  h.table_sectors = table_sectors_;
  h.volume_id = volume_id_;
  std::vector<uint8_t> buf(geometry_.sector_size);
  codec::EncodeHeader(h, buf.data());
  return spare_->Write(CopyByteOffset(copy, 0), buf.data(), buf.size());
}

// Writes `table_sectors` (indices into the table) of one copy stamped with
// the current sequence, flushes, then writes and flushes its header.
Status MetadataStore::WriteCopy(size_t copy,
                                const std::vector<uint64_t>& table_sectors) {
  const uint32_t ss = geometry_.sector_size;
  std::vector<uint8_t> buf(ss);
  for (uint64_t t : table_sectors) {
    codec::EncodeTableSector(slots_, t, sequence_, ss, buf.data());
    REMAPFS_RETURN_IF_ERROR(spare_->Write(CopyByteOffset(copy, 1 + t), buf.data(), ss));
  }
  REMAPFS_RETURN_IF_ERROR(spare_->Flush());
  REMAPFS_RETURN_IF_ERROR(WriteHeader(copy));
  return spare_->Flush();
}

std::vector<uint64_t> MetadataStore::AllTableSectors() const {
  std::vector<uint64_t> all(table_sectors_);
  for (uint64_t t = 0; t < table_sectors_; ++t) all[t] = t;
  return all;
}

Status MetadataStore::Format(BlockDevice* spare, const Geometry& geometry,
                             std::unique_ptr<MetadataStore>* out) {
  if (spare->Size() != geometry.spare_sectors * geometry.sector_size)
    return Status::InvalidArgument("spare size does not match its geometry");
  std::unique_ptr<MetadataStore> store(new MetadataStore(spare, geometry));
  std::random_device rd;
  for (auto& b : store->volume_id_) b = static_cast<uint8_t>(rd());
  store->sequence_ = 1;
  // Headers of an earlier format at other positions must not be found later.
  REMAPFS_RETURN_IF_ERROR(WipeForeignHeaders(spare));
  const std::vector<uint8_t> zeros(geometry.sector_size, 0);
  const uint64_t used = 1 + store->table_sectors_;
  for (size_t c = 0; c < geometry.placement.copy_starts.size(); ++c) {
    for (uint64_t s = used; s < geometry.placement.copy_sectors; ++s)
      REMAPFS_RETURN_IF_ERROR(spare->Write(store->CopyByteOffset(c, s), zeros.data(), zeros.size()));
    REMAPFS_RETURN_IF_ERROR(store->WriteCopy(c, store->AllTableSectors()));
    store->reports_.push_back({geometry.placement.copy_starts[c], CopyState::kValid,
                               store->sequence_, "", false});
  }
  store->valid_copies_ = geometry.placement.copy_starts.size();
  *out = std::move(store);
  return Status::Ok();
}

Status MetadataStore::Commit(const std::vector<SlotChange>& changes) {
  std::set<uint64_t> touched;
  std::vector<SlotChange> undo;
  const uint64_t per = format::SlotsPerTableSector(geometry_.sector_size);
  for (const SlotChange& c : changes) {
    if (c.slot >= slots_.size())
      return Status::InvalidArgument("slot " + std::to_string(c.slot) + " out of range");
  }
  for (const SlotChange& c : changes) {
    undo.push_back({c.slot, DecodeSlot(slots_[c.slot])});
    slots_[c.slot] = EncodeSlot(c.entry);
    touched.insert(c.slot / per);
  }
  // After a failed commit some copies may hold a half-applied sequence:
  // only a full rewrite under a fresh sequence makes every copy agree again.
  const std::vector<uint64_t> sectors =
      needs_full_rewrite_ ? AllTableSectors()
                          : std::vector<uint64_t>(touched.begin(), touched.end());
  ++sequence_;
  for (size_t c = 0; c < geometry_.placement.copy_starts.size(); ++c) {
    Status st = WriteCopy(c, sectors);
    if (!st.ok()) {
      for (auto it = undo.rbegin(); it != undo.rend(); ++it)
        slots_[it->slot] = EncodeSlot(it->entry);
      needs_full_rewrite_ = true;  // the burnt sequence number is not reused
      valid_copies_ = static_cast<uint32_t>(c);  // a lower bound, honestly
      spdlog::error("metadata commit {} failed at copy {}: {}", sequence_, c,
                    st.ToString());
      return st.WithContext("metadata commit failed");
    }
  }
  needs_full_rewrite_ = false;
  valid_copies_ = geometry_.placement.copy_starts.size();
  return Status::Ok();
}

std::unique_ptr<MetadataStore> MetadataStore::Successor(const Geometry& geometry,
                                                       std::vector<uint64_t> slots) const {
  std::unique_ptr<MetadataStore> next(new MetadataStore(spare_, geometry));
  next->volume_id_ = volume_id_;
  next->sequence_ = sequence_ + 1;
  next->slots_ = std::move(slots);
  next->slots_.resize(geometry.spare_capacity(), 0);
  next->reports_.resize(geometry.placement.copy_starts.size());
  for (size_t c = 0; c < next->reports_.size(); ++c)
    next->reports_[c] = {geometry.placement.copy_starts[c], CopyState::kCorrupt, 0,
                         "not written yet", false};
  return next;
}

Status MetadataStore::WriteFullCopy(size_t copy) {
  REMAPFS_RETURN_IF_ERROR(WriteCopy(copy, AllTableSectors()));
  reports_[copy] = {geometry_.placement.copy_starts[copy], CopyState::kValid, sequence_, "",
                    false};
  valid_copies_ = std::count_if(reports_.begin(), reports_.end(), [](const CopyReport& r) {
    return r.state == CopyState::kValid;
  });
  return Status::Ok();
}

Status MetadataStore::RewriteAll() {
  needs_full_rewrite_ = true;
  return Commit({});
}

}  // namespace remapfs
