// NewMemoryVolume: the whole format-then-open sequence on fresh memory
// devices, for benchmarks and tests that need a Volume and nothing else
// (examples/remap_in_memory.cc spells the steps out instead).
#include "remapfs/volume.h"

namespace remapfs {

Status NewMemoryVolume(uint64_t main_bytes, uint64_t spare_bytes, std::unique_ptr<Volume>* out) {
  constexpr uint32_t kSectorSize = 512;
  if (main_bytes == 0 || main_bytes % kSectorSize != 0 || spare_bytes % kSectorSize != 0)
    return Status::InvalidArgument("sizes must be non-zero multiples of 512 bytes");
  Geometry g;
  g.sector_size = kSectorSize;
  g.main_sectors = main_bytes / kSectorSize;
  g.spare_sectors = spare_bytes / kSectorSize;
  REMAPFS_RETURN_IF_ERROR(
      ComputePlacement(kSectorSize, g.spare_sectors, Strategy::kAuto, &g.placement));
  std::unique_ptr<BlockDevice> spare = NewMemoryDevice(spare_bytes);
  std::unique_ptr<MetadataStore> formatted;
  REMAPFS_RETURN_IF_ERROR(MetadataStore::Format(spare.get(), g, &formatted));
  formatted.reset();
  return Volume::Open(NewMemoryDevice(main_bytes), std::move(spare), out);
}

}  // namespace remapfs
