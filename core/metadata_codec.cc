#include "metadata_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "crc32c.h"
#include "remapfs/format.h"

namespace remapfs::codec {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the on-disk format is little-endian; add byte swapping");

template <typename T>
void Put(uint8_t* buf, size_t off, T v) { std::memcpy(buf + off, &v, sizeof v); }
template <typename T>
T Get(const uint8_t* buf, size_t off) {
  T v;
  std::memcpy(&v, buf + off, sizeof v);
  return v;
}

}  // namespace

void EncodeHeader(const Header& h, uint8_t* out) {
  using namespace format;
  const Geometry& g = h.geometry;
  std::memset(out, 0, g.sector_size);
  std::memcpy(out + kOffMagic, kMagic, sizeof kMagic);
  Put<uint32_t>(out, kOffVersion, kVersion);
  Put<uint32_t>(out, kOffSectorSize, g.sector_size);
  Put<uint64_t>(out, kOffMainSectors, g.main_sectors);
  Put<uint64_t>(out, kOffSpareSectors, g.spare_sectors);
  Put<uint32_t>(out, kOffStrategy, static_cast<uint32_t>(g.placement.strategy));
  Put<uint32_t>(out, kOffCopyCount, g.placement.copy_starts.size());
  Put<uint64_t>(out, kOffCopySectors, g.placement.copy_sectors);
  for (size_t i = 0; i < g.placement.copy_starts.size(); ++i)
    Put<uint64_t>(out, kOffCopyStarts + 8 * i, g.placement.copy_starts[i]);
  Put<uint32_t>(out, kOffCopyIndex, h.copy_index);
  Put<uint64_t>(out, kOffSequence, h.sequence);
  Put<uint64_t>(out, kOffSlotCount, h.slot_count);
  Put<uint64_t>(out, kOffTableSectors, h.table_sectors);
  std::memcpy(out + kOffVolumeId, h.volume_id.data(), h.volume_id.size());
  Put<uint32_t>(out, kOffHeaderCrc, Crc32c(out, kOffHeaderCrc));
}

Status DecodeHeader(const uint8_t* buf, Header* out) {
  using namespace format;
  if (std::memcmp(buf + kOffMagic, kMagic, sizeof kMagic) != 0)
    return Status::Corruption("no remapfs magic");
  if (Get<uint32_t>(buf, kOffHeaderCrc) != Crc32c(buf, kOffHeaderCrc))
    return Status::Corruption("header checksum mismatch");
  const uint32_t version = Get<uint32_t>(buf, kOffVersion);
  if (version != kVersion)
    return Status::Corruption("unsupported format version " + std::to_string(version));
  Header h;
  Geometry& g = h.geometry;
  g.sector_size = Get<uint32_t>(buf, kOffSectorSize);
  g.main_sectors = Get<uint64_t>(buf, kOffMainSectors);
  g.spare_sectors = Get<uint64_t>(buf, kOffSpareSectors);
  g.placement.strategy = static_cast<Strategy>(Get<uint32_t>(buf, kOffStrategy));
  g.placement.copy_sectors = Get<uint64_t>(buf, kOffCopySectors);
  const uint32_t copies = Get<uint32_t>(buf, kOffCopyCount);
  if (!IsValidSectorSize(g.sector_size) || copies == 0 || copies > kMaxCopies)
    return Status::Corruption("header geometry out of range");
  for (uint32_t i = 0; i < copies; ++i)
    g.placement.copy_starts.push_back(Get<uint64_t>(buf, kOffCopyStarts + 8 * i));
  h.copy_index = Get<uint32_t>(buf, kOffCopyIndex);
  h.sequence = Get<uint64_t>(buf, kOffSequence);
  h.slot_count = Get<uint64_t>(buf, kOffSlotCount);
  h.table_sectors = Get<uint64_t>(buf, kOffTableSectors);
  std::memcpy(h.volume_id.data(), buf + kOffVolumeId, h.volume_id.size());
  // The placement must be exactly what its own rules compute: a header that
  // disagrees with them was not written by us.
  Placement expected;
  if (g.placement.strategy == Strategy::kAuto ||
      !ComputePlacement(g.sector_size, g.spare_sectors, g.placement.strategy, &expected).ok() ||
      expected.copy_starts != g.placement.copy_starts ||
      expected.copy_sectors != g.placement.copy_sectors ||
      h.copy_index >= copies || h.slot_count != g.spare_capacity() ||
      h.table_sectors != TableSectorsFor(g.sector_size, h.slot_count))
    return Status::Corruption("header geometry is inconsistent");
  *out = std::move(h);
  return Status::Ok();
}

void EncodeTableSector(const std::vector<uint64_t>& slots, uint64_t index,
                       uint64_t sequence, uint32_t sector_size, uint8_t* out) {
  using namespace format;
  const uint64_t per = SlotsPerTableSector(sector_size);
  std::memset(out, 0, sector_size);
  const uint64_t first = index * per;
  const uint64_t end = std::min<uint64_t>(slots.size(), first + per);
  for (uint64_t s = first; s < end; ++s)
    Put<uint64_t>(out, (s - first) * kSlotEntryBytes, slots[s]);
  uint8_t* trailer = out + sector_size - kTrailerBytes;
  Put<uint64_t>(trailer, kTrailerOffSequence, sequence);
  Put<uint32_t>(trailer, kTrailerOffIndex, static_cast<uint32_t>(index));
  Put<uint32_t>(trailer, kTrailerOffCrc,
                Crc32c(out, sector_size - kTrailerBytes + kTrailerOffCrc));
}

Status DecodeTableSector(const uint8_t* buf, uint64_t index,
                         uint64_t max_sequence, uint32_t sector_size,
                         uint64_t slot_count, std::vector<uint64_t>* slots) {
  using namespace format;
  const uint8_t* trailer = buf + sector_size - kTrailerBytes;
  const std::string where = "table sector " + std::to_string(index);
  if (Get<uint32_t>(trailer, kTrailerOffCrc) !=
      Crc32c(buf, sector_size - kTrailerBytes + kTrailerOffCrc))
    return Status::Corruption(where + ": checksum mismatch");
  if (Get<uint32_t>(trailer, kTrailerOffIndex) != static_cast<uint32_t>(index))
    return Status::Corruption(where + ": holds another sector's index");
  if (Get<uint64_t>(trailer, kTrailerOffSequence) > max_sequence)
    return Status::Corruption(where + ": newer than its header (torn commit)");
  const uint64_t per = SlotsPerTableSector(sector_size);
  const uint64_t first = index * per;
  for (uint64_t s = first; s < std::min(slot_count, first + per); ++s)
    slots->push_back(Get<uint64_t>(buf, (s - first) * kSlotEntryBytes));
  return Status::Ok();
}

}  // namespace remapfs::codec
