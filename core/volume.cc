// Volume: opening, and the control operations that change the remap table.
// The byte-range I/O path is in volume_io.cc.
#include "remapfs/volume.h"

#include <algorithm>

#include <spdlog/spdlog.h>

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
    case VolumeOperation::kIdle: return "idle";
    case VolumeOperation::kAddBad: return "add_bad";
    case VolumeOperation::kRemove: return "remove";
  }
  return "unknown";
}

Volume::Volume(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
               std::unique_ptr<RemapTable> table)
    : main_(std::move(main)), spare_(std::move(spare)), table_(std::move(table)) {}

Volume::~Volume() = default;

Status Volume::Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                    std::unique_ptr<Volume>* out) {
  return Open(std::move(main), std::move(spare), VolumeOptions{}, out);
}

MetadataOpenOptions Volume::MetadataOptionsFor(const VolumeOptions& options, uint64_t main_bytes) {
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
                    std::unique_ptr<MetadataStore> metadata, const VolumeOptions& volume_options,
                    std::unique_ptr<Volume>* out) {
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
  std::unique_ptr<RemapTable> table;
  REMAPFS_RETURN_IF_ERROR(RemapTable::Load(std::move(metadata), &table));
  std::unique_ptr<Volume> v(new Volume(std::move(main), std::move(spare), std::move(table)));
  v->read_retries_ = volume_options.read_retries;
  v->error_recovery_time_ = volume_options.error_recovery_time;
  v->main_unit_ = std::max<uint64_t>(v->geometry().sector_size, volume_options.main_io_unit);
  v->PublishView();
  const TableCounters c = v->table_->Counters();
  spdlog::info("volume open: {} main sectors of {} bytes, {} remapped ({} pending), "
               "metadata sequence {}, {}/{} copies valid, {} repaired",
               v->geometry().main_sectors, v->geometry().sector_size, c.remapped + c.pending,
               c.pending, c.sequence, c.valid_copies, v->geometry().placement.copy_starts.size(),
               c.repaired_copies);
  *out = std::move(v);
  return Status::Ok();
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
  return spare_->Write(table_->SpareByteOffset(slot), buf.data(), ss);
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
    const uint64_t needed = table_->CountUnmapped(ranges);
    if (needed == 0) return Status::Ok();
    if (needed > table_->free_slots())
      return Status::NoSpace("spare exhausted: " + std::to_string(needed) +
                             " sectors to remap but only " + std::to_string(table_->free_slots()) +
                             " free");
    REMAPFS_RETURN_IF_ERROR(table_->Allocate(needed, &slots));
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
  if (st.ok()) st = table_->Commit(changes, changes.size());
  else table_->Release(slots);
  PublishView();  // a failed commit may have cost a metadata copy
  if (!st.ok()) return st.WithContext("add_bad");
  for (const SlotChange& c : changes) {
    spdlog::debug("remapped main sector {} -> spare sector {}{}", c.entry.main_sector,
                  table_->SpareByteOffset(c.slot) / geometry().sector_size,
                  c.entry.pending ? " (pending)" : "");
  }
  for (const SectorRange& r : ranges)
    spdlog::info("add_bad {}-{}: remapped, metadata sequence {}", r.first, r.last,
                 table_->metadata().sequence());
  return Status::Ok();
}

bool Volume::IsMapped(uint64_t sector) const {
  std::shared_lock lock(table_mu_);
  return table_->IsMapped(sector);
}

// Locking as AddBad: the region throughout, table_mu_ to look and to commit.
Status Volume::Remove(const std::vector<SectorRange>& input) {
  const std::vector<SectorRange> ranges = NormalizeRanges(input);
  if (ranges.empty()) return Status::Ok();
  std::lock_guard one_at_a_time(control_mu_);
  auto region = sector_locks_.Lock(ranges.front().first, ranges.back().last,
                                   BlockRangeLock::Mode::kExclusive);
  const uint32_t ss = geometry().sector_size;
  std::vector<SlotMapping> remapped;
  {
    std::shared_lock lock(table_mu_);
    remapped = table_->MappingsIn(ranges);
  }
  if (remapped.empty()) return Status::Ok();
  OperationScope progress(this, VolumeOperation::kRemove, remapped.size());
  std::vector<SlotChange> changes;
  std::vector<uint8_t> buf(ss);
  for (const SlotMapping& m : remapped) {
    // A pending sector has no data worth copying: MAIN keeps what it has.
    if (!m.pending) {
      REMAPFS_RETURN_IF_ERROR(
          spare_->Read(table_->SpareByteOffset(m.slot), buf.data(), ss).WithContext("remove"));
      REMAPFS_RETURN_IF_ERROR(
          main_->Write(m.main_sector * ss, buf.data(), ss).WithContext("remove"));
    }
    changes.push_back({m.slot, SlotEntry{}});
    progress.Advance();
  }
  REMAPFS_RETURN_IF_ERROR(main_->Flush().WithContext("remove"));
  std::unique_lock lock(table_mu_);
  Status st = table_->Commit(changes, 0);
  PublishView();  // a failed commit may have cost a metadata copy
  if (!st.ok()) return st.WithContext("remove");
  for (const SectorRange& r : ranges) {
    spdlog::info("remove {}-{}: returned to main, metadata sequence {}", r.first, r.last,
                 table_->metadata().sequence());
  }
  return Status::Ok();
}

void Volume::SetLastError(const Status& s) {
  std::lock_guard lock(stats_mu_);
  last_error_ = s.ToString();
}

void Volume::PublishView() {
  const TableCounters counters = table_->Counters();
  std::lock_guard view(view_mu_);
  view_ = counters;
}

std::vector<RemapEntry> Volume::Remaps() const { return table_->Entries(); }

// The reservations, like the geometry, are fixed for the Volume's life.
std::vector<Extent> Volume::Reservations() const { return table_->Reservations(); }

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
    s.operation_done = std::min(operation_done_.load(std::memory_order_relaxed), operation_total_);
  }
  std::lock_guard lock(stats_mu_);
  s.read_errors = read_errors_;
  s.write_errors = write_errors_;
  s.auto_remaps = auto_remaps_;
  s.last_error = last_error_;
  return s;
}

}  // namespace remapfs
