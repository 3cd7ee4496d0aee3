// Volume: opening, and the control operations that change the remap table.
// The byte-range I/O path is in volume_io.cc.
#include "remapfs/volume.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "remapfs/spare_allocator.h"

namespace remapfs {

// Publishes a running AddBad/Remove for Stats(), and idle again however it
// ends. Lives under control_mu_, so at most one exists at a time.
class Volume::OperationScope {
 public:
  OperationScope(Volume* v, VolumeOperation op, uint64_t total) : v_(v) { Set(op, total); }
  ~OperationScope() { Set(VolumeOperation::kIdle, 0); }
  OperationScope(const OperationScope&) = delete;
  OperationScope& operator=(const OperationScope&) = delete;

  void Advance() { v_->operation_done_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void Set(VolumeOperation op, uint64_t total) {
    std::lock_guard view(v_->view_mu_);
    v_->operation_ = op;
    v_->operation_total_ = total;
    v_->operation_done_.store(0, std::memory_order_relaxed);
  }

  Volume* const v_;
};

std::string_view VolumeOperationName(VolumeOperation op) {
  switch (op) {
    case VolumeOperation::kIdle:
      return "idle";
    case VolumeOperation::kAddBad:
      return "add_bad";
    case VolumeOperation::kRemove:
      return "remove";
  }
  return "unknown";
}

Volume::Volume(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
               std::unique_ptr<MetadataStore> metadata)
    : main_(std::move(main)),
      spare_(std::move(spare)),
      metadata_(std::move(metadata)),
      allocator_(std::make_unique<SpareAllocator>(metadata_->slot_count())) {}

Volume::~Volume() = default;

Status Volume::Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                    std::unique_ptr<Volume>* out) {
  return Open(std::move(main), std::move(spare), VolumeOptions{}, out);
}

MetadataOpenOptions Volume::MetadataOptionsFor(const VolumeOptions& options,
                                               uint64_t main_bytes) {
  MetadataOpenOptions metadata_options;
  metadata_options.expected_main_bytes = main_bytes;
  if (!options.rebind) metadata_options.expected_main = options.main;
  return metadata_options;
}

Status Volume::Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                    const VolumeOptions& volume_options, std::unique_ptr<Volume>* out) {
  std::unique_ptr<MetadataStore> metadata;
  REMAPFS_RETURN_IF_ERROR(MetadataStore::Open(
      spare.get(), MetadataOptionsFor(volume_options, main->Size()), &metadata));
  return Open(std::move(main), std::move(spare), std::move(metadata), volume_options, out);
}

Status Volume::Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                    std::unique_ptr<MetadataStore> metadata,
                    const VolumeOptions& volume_options, std::unique_ptr<Volume>* out) {
  if (metadata->geometry().main_bytes() != main->Size())
    return Status::InvalidArgument("MAIN is " + std::to_string(main->Size()) +
                                   " bytes but the metadata describes a MAIN of " +
                                   std::to_string(metadata->geometry().main_bytes()));
  const std::optional<MainBinding>& binding = volume_options.main;
  if (binding && (volume_options.rebind || metadata->main().id.empty()) &&
      metadata->main().id != binding->id) {
    REMAPFS_RETURN_IF_ERROR(metadata->Rebind(*binding).WithContext("binding the spare to MAIN"));
    spdlog::info("spare bound to MAIN '{}' ({})", binding->path, binding->id);
  }
  std::unique_ptr<Volume> v(new Volume(std::move(main), std::move(spare), std::move(metadata)));
  v->read_retries_ = volume_options.read_retries;
  v->error_recovery_time_ = volume_options.error_recovery_time;
  v->main_unit_ = std::max<uint64_t>(v->geometry().sector_size, volume_options.main_io_unit);
  for (uint64_t slot = 0; slot < v->metadata_->slot_count(); ++slot) {
    const SlotEntry e = v->metadata_->slot(slot);
    if (!e.used) continue;
    REMAPFS_RETURN_IF_ERROR(v->allocator_->MarkUsed(slot));
    v->map_[e.main_sector] = Mapping{slot, e.pending};
    v->pending_count_ += e.pending;
  }
  v->PublishView();
  spdlog::info("volume open: {} main sectors of {} bytes, {} remapped ({} pending), "
               "metadata sequence {}, {}/{} copies valid, {} repaired",
               v->geometry().main_sectors, v->geometry().sector_size, v->map_.size(),
               v->pending_count_, v->metadata_->sequence(), v->metadata_->valid_copies(),
               v->geometry().placement.copy_starts.size(), v->metadata_->repaired_copies());
  *out = std::move(v);
  return Status::Ok();
}

uint64_t Volume::SpareByteOffset(uint64_t slot) const {
  return metadata_->reservations().SlotToSector(slot) * geometry().sector_size;
}

uint64_t Volume::CountUnmapped(const std::vector<SectorRange>& ranges) const {
  uint64_t count = 0;
  for (const SectorRange& r : ranges) {
    count += r.count();
    for (auto it = map_.lower_bound(r.first); it != map_.end() && it->first <= r.last; ++it)
      --count;
  }
  return count;
}

// Copies one main sector to its new spare slot. A sector MAIN cannot give
// back becomes pending rather than being filled with invented data.
Status Volume::CopyToSpare(uint64_t sector, uint64_t slot, std::vector<uint8_t>& buf,
                           bool* pending) {
  const uint32_t ss = geometry().sector_size;
  Status st = main_->Read(sector * ss, buf.data(), ss);
  *pending = !st.ok();
  if (!st.ok()) {
    spdlog::warn("main sector {} unreadable while remapping ({}); marked pending", sector,
                 st.ToString());
    return Status::Ok();
  }
  return spare_->Write(SpareByteOffset(slot), buf.data(), ss);
}

// Holds the region of [ranges.front().first, ranges.back().last]
// exclusively throughout (requests there wait: a write landing between the
// copy and the commit would be lost), and table_mu_ only to decide and
// allocate, then to commit: the copy itself, MAIN I/O that may be slow on a
// dying disk, runs without it.
Status Volume::AddBad(const std::vector<SectorRange>& input) {
  const std::vector<SectorRange> ranges = NormalizeRanges(input);
  for (const SectorRange& r : ranges)
    if (r.first > r.last || r.last >= geometry().main_sectors)
      return Status::InvalidArgument("sectors " + std::to_string(r.first) + "-" +
                                     std::to_string(r.last) + " are outside MAIN");
  if (ranges.empty()) return Status::Ok();
  std::lock_guard one_at_a_time(control_mu_);
  auto region = sector_locks_.Lock(ranges.front().first, ranges.back().last,
                                   BlockRangeLock::Mode::kExclusive);
  std::vector<uint64_t> slots;
  {
    std::unique_lock lock(table_mu_);
    const uint64_t needed = CountUnmapped(ranges);
    if (needed == 0) return Status::Ok();
    if (needed > allocator_->free_count())
      return Status::NoSpace("spare exhausted: " + std::to_string(needed) +
                             " sectors to remap but only " +
                             std::to_string(allocator_->free_count()) + " free");
    REMAPFS_RETURN_IF_ERROR(allocator_->AllocateMany(needed, &slots));
  }
  OperationScope progress(this, VolumeOperation::kAddBad, slots.size());
  std::vector<SlotChange> changes;
  changes.reserve(slots.size());
  std::vector<uint8_t> buf(geometry().sector_size);
  Status st;
  size_t next = 0;
  for (const SectorRange& r : ranges) {
    for (uint64_t s = r.first; s <= r.last && st.ok(); ++s) {
      if (IsMapped(s)) continue;  // fixed: the region is ours
      bool pending = false;
      st = CopyToSpare(s, slots[next], buf, &pending);
      changes.push_back({slots[next++], SlotEntry{true, pending, s}});
      progress.Advance();
    }
  }
  if (st.ok()) st = spare_->Flush();  // the data is durable before the map names it
  std::unique_lock lock(table_mu_);
  if (st.ok()) st = metadata_->Commit(changes);
  if (!st.ok()) {
    for (uint64_t slot : slots) (void)allocator_->Free(slot);
    PublishView();
    return st.WithContext("add_bad");
  }
  {
    std::lock_guard map_lock(map_mu_);
    for (const SlotChange& c : changes) {
      // Ascending sectors: the hint makes appending to the map O(1).
      map_.insert_or_assign(map_.end(), c.entry.main_sector, Mapping{c.slot, c.entry.pending});
      pending_count_ += c.entry.pending;
    }
  }
  PublishView();
  for (const SlotChange& c : changes) {
    spdlog::debug("remapped main sector {} -> spare sector {}{}", c.entry.main_sector,
                  metadata_->reservations().SlotToSector(c.slot),
                  c.entry.pending ? " (pending)" : "");
  }
  for (const SectorRange& r : ranges)
    spdlog::info("add_bad {}-{}: remapped, metadata sequence {}", r.first, r.last,
                 metadata_->sequence());
  return Status::Ok();
}

bool Volume::IsMapped(uint64_t sector) const {
  std::shared_lock lock(table_mu_);
  return map_.count(sector) != 0;
}

// Locking as AddBad: the region throughout, table_mu_ to look and to commit.
Status Volume::Remove(const std::vector<SectorRange>& input) {
  const std::vector<SectorRange> ranges = NormalizeRanges(input);
  if (ranges.empty()) return Status::Ok();
  std::lock_guard one_at_a_time(control_mu_);
  auto region = sector_locks_.Lock(ranges.front().first, ranges.back().last,
                                   BlockRangeLock::Mode::kExclusive);
  const uint32_t ss = geometry().sector_size;
  std::vector<RemapEntry> remapped;  // spare_sector holds the slot here
  {
    std::shared_lock lock(table_mu_);
    for (const SectorRange& r : ranges)
      for (auto it = map_.lower_bound(r.first); it != map_.end() && it->first <= r.last; ++it)
        remapped.push_back({it->first, it->second.slot, it->second.pending});
  }
  if (remapped.empty()) return Status::Ok();
  OperationScope progress(this, VolumeOperation::kRemove, remapped.size());
  std::vector<SlotChange> changes;
  std::vector<uint8_t> buf(ss);
  for (const RemapEntry& e : remapped) {
    // A pending sector has no data worth copying: MAIN keeps what it has.
    if (!e.pending) {
      REMAPFS_RETURN_IF_ERROR(spare_->Read(SpareByteOffset(e.spare_sector), buf.data(), ss)
                                  .WithContext("remove"));
      REMAPFS_RETURN_IF_ERROR(main_->Write(e.main_sector * ss, buf.data(), ss).WithContext("remove"));
    }
    changes.push_back({e.spare_sector, SlotEntry{}});
    progress.Advance();
  }
  REMAPFS_RETURN_IF_ERROR(main_->Flush().WithContext("remove"));
  std::unique_lock lock(table_mu_);
  if (Status st = metadata_->Commit(changes); !st.ok()) {
    PublishView();
    return st.WithContext("remove");
  }
  for (const SlotChange& c : changes) (void)allocator_->Free(c.slot);
  {
    std::lock_guard map_lock(map_mu_);
    for (const RemapEntry& e : remapped) {
      pending_count_ -= e.pending;
      map_.erase(e.main_sector);
    }
  }
  PublishView();
  for (const SectorRange& r : ranges) {
    spdlog::info("remove {}-{}: returned to main, metadata sequence {}", r.first, r.last,
                 metadata_->sequence());
  }
  return Status::Ok();
}

void Volume::SetLastError(const Status& s) {
  std::lock_guard lock(stats_mu_);
  last_error_ = s.ToString();
}

void Volume::PublishView() {
  TableView v;
  v.sequence = metadata_->sequence();
  v.valid_copies = metadata_->valid_copies();
  v.repaired_copies = metadata_->repaired_copies();
  v.spare_used = allocator_->used_count();
  v.spare_free = allocator_->free_count();
  v.remapped = map_.size() - pending_count_;
  v.pending = pending_count_;
  v.commits_failing = !metadata_->healthy();
  std::lock_guard view(view_mu_);
  view_ = v;
}

// The reservations, like the geometry, are fixed for the Volume's life.
std::vector<RemapEntry> Volume::Remaps() const {
  std::lock_guard lock(map_mu_);
  std::vector<RemapEntry> out;
  out.reserve(map_.size());
  for (const auto& [sector, m] : map_)
    out.push_back({sector, metadata_->reservations().SlotToSector(m.slot), m.pending});
  return out;
}

std::vector<Extent> Volume::Reservations() const {
  return metadata_->reservations().extents();
}

VolumeStats Volume::Stats() const {
  VolumeStats s;
  const Geometry& g = geometry();
  s.sector_size = g.sector_size;
  s.main_sectors = g.main_sectors;
  s.spare_sectors = g.spare_sectors;
  s.strategy = g.placement.strategy;
  s.metadata_copies = g.placement.copy_starts.size();
  s.reserved_sectors = g.placement.reserved_sectors();
  s.spare_capacity = g.spare_capacity();
  {
    std::lock_guard view(view_mu_);
    s.metadata_valid_copies = view_.valid_copies;
    s.metadata_repaired_copies = view_.repaired_copies;
    s.metadata_sequence = view_.sequence;
    s.metadata_commits_failing = view_.commits_failing;
    s.spare_used = view_.spare_used;
    s.spare_free = view_.spare_free;
    s.remapped = view_.remapped;
    s.pending = view_.pending;
    s.operation = operation_;
    s.operation_total = operation_total_;
    s.operation_done =
        std::min(operation_done_.load(std::memory_order_relaxed), operation_total_);
  }
  std::lock_guard lock(stats_mu_);
  s.read_errors = read_errors_;
  s.write_errors = write_errors_;
  s.auto_remaps = auto_remaps_;
  s.last_error = last_error_;
  return s;
}

}  // namespace remapfs
