// Volume: opening, and the read-only views. The byte-range I/O path is in
// volume_io.cc, add_bad and remove in volume_control.cc.
#include "remapfs/volume.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace remapfs {

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
