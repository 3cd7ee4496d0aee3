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
void Put(uint8_t* buf, size_t off, T v) {
  std::memcpy(buf + off, &v, sizeof v);
}
template <typename T>
T Get(const uint8_t* buf, size_t off) {
  T v;
  std::memcpy(&v, buf + off, sizeof v);
  return v;
}

// Fixed-size text fields: NUL padded, cut to the field.
void PutText(uint8_t* buf, size_t off, size_t size, const std::string& text) {
  std::memcpy(buf + off, text.data(), std::min(size, text.size()));
}
std::string GetText(const uint8_t* buf, size_t off, size_t size) {
  const auto* begin = reinterpret_cast<const char*>(buf + off);
  return std::string(begin, strnlen(begin, size));
}

// a * b, or false when it does not fit in 64 bits.
bool MultiplyFits(uint64_t a, uint64_t b) {
  uint64_t product;
  return !__builtin_mul_overflow(a, b, &product);
}

}  // namespace

uint32_t TableCrcSeed(const Binding& b) {
  if (b.version == format::kVersionLegacy) return 0;
  uint8_t bytes[sizeof b.volume_id + sizeof b.generation];
  std::memcpy(bytes, b.volume_id.data(), b.volume_id.size());
  std::memcpy(bytes + b.volume_id.size(), &b.generation, sizeof b.generation);
  return Crc32c(bytes, sizeof bytes);
}

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
  std::memcpy(out + kOffVolumeId, h.binding.volume_id.data(), h.binding.volume_id.size());
  Put<uint64_t>(out, kOffGeneration, h.binding.generation);
  PutText(out, kOffMainId, kMainIdBytes, h.main_id);
  PutText(out, kOffMainPath, kMainPathBytes, h.main_path);
  Put<uint32_t>(out, kOffHeaderCrc, Crc32c(out, kOffHeaderCrc));
}

namespace {

// The fields past the magic, version and CRC; geometry not yet checked.
Header ReadHeaderFields(const uint8_t* buf, uint32_t version) {
  using namespace format;
  Header h;
  Geometry& g = h.geometry;
  g.sector_size = Get<uint32_t>(buf, kOffSectorSize);
  g.main_sectors = Get<uint64_t>(buf, kOffMainSectors);
  g.spare_sectors = Get<uint64_t>(buf, kOffSpareSectors);
  g.placement.strategy = static_cast<Strategy>(Get<uint32_t>(buf, kOffStrategy));
  g.placement.copy_sectors = Get<uint64_t>(buf, kOffCopySectors);
  h.copy_index = Get<uint32_t>(buf, kOffCopyIndex);
  h.sequence = Get<uint64_t>(buf, kOffSequence);
  h.slot_count = Get<uint64_t>(buf, kOffSlotCount);
  h.table_sectors = Get<uint64_t>(buf, kOffTableSectors);
  h.binding.version = version;
  std::memcpy(h.binding.volume_id.data(), buf + kOffVolumeId, h.binding.volume_id.size());
  if (version != kVersionLegacy) {
    h.binding.generation = Get<uint64_t>(buf, kOffGeneration);
    h.main_id = GetText(buf, kOffMainId, kMainIdBytes);
    h.main_path = GetText(buf, kOffMainPath, kMainPathBytes);
  }
  return h;
}

}  // namespace

Status DecodeHeader(const uint8_t* buf, Header* out) {
  using namespace format;
  if (std::memcmp(buf + kOffMagic, kMagic, sizeof kMagic) != 0)
    return Status::Corruption("no remapfs magic");
  if (Get<uint32_t>(buf, kOffHeaderCrc) != Crc32c(buf, kOffHeaderCrc))
    return Status::Corruption("header checksum mismatch");
  const uint32_t version = Get<uint32_t>(buf, kOffVersion);
  if (version != kVersion && version != kVersionLegacy)
    return Status::Corruption("unsupported format version " + std::to_string(version));
  Header h = ReadHeaderFields(buf, version);
  Geometry& g = h.geometry;
  const uint32_t copies = Get<uint32_t>(buf, kOffCopyCount);
  if (!IsValidSectorSize(g.sector_size) || copies == 0 || copies > kMaxCopies)
    return Status::Corruption("header geometry out of range");
  // Sizes are compared in bytes elsewhere: one that wraps would compare
  // equal modulo 2^64 to a size it is not.
  if (!MultiplyFits(g.main_sectors, g.sector_size) || !MultiplyFits(g.spare_sectors, g.sector_size))
    return Status::Corruption("header sizes overflow 64 bits");
  for (uint32_t i = 0; i < copies; ++i)
    g.placement.copy_starts.push_back(Get<uint64_t>(buf, kOffCopyStarts + 8 * i));
  // The placement must be exactly what its own rules compute: a header that
  // disagrees with them was not written by us.
  Placement expected;
  if (g.placement.strategy == Strategy::kAuto ||
      !ComputePlacement(g.sector_size, g.spare_sectors, g.placement.strategy, &expected).ok() ||
      expected.copy_starts != g.placement.copy_starts ||
      expected.copy_sectors != g.placement.copy_sectors || h.copy_index >= copies ||
      h.slot_count != g.spare_capacity() ||
      h.table_sectors != TableSectorsFor(g.sector_size, h.slot_count))
    return Status::Corruption("header geometry is inconsistent");
  *out = std::move(h);
  return Status::Ok();
}

void EncodeTableSector(const std::vector<uint64_t>& slots, uint64_t index, uint64_t sequence,
                       uint32_t sector_size, const Binding& binding, uint8_t* out) {
  const uint64_t per = format::SlotsPerTableSector(sector_size);
  const uint64_t first = std::min<uint64_t>(slots.size(), index * per);
  const uint64_t end = std::min<uint64_t>(slots.size(), first + per);
  EncodeTableEntries(slots.data() + first, end - first, index, sequence, sector_size, binding, out);
}

void EncodeTableEntries(const uint64_t* entries, uint64_t count, uint64_t index, uint64_t sequence,
                        uint32_t sector_size, const Binding& binding, uint8_t* out) {
  using namespace format;
  std::memset(out, 0, sector_size);
  // Little-endian (asserted above). `entries` may be null when count is 0
  // (a sector past the table's end), which memcpy does not allow.
  if (count != 0) std::memcpy(out, entries, count * kSlotEntryBytes);
  uint8_t* trailer = out + sector_size - kTrailerBytes;
  Put<uint64_t>(trailer, kTrailerOffSequence, sequence);
  Put<uint32_t>(trailer, kTrailerOffIndex, static_cast<uint32_t>(index));
  Put<uint32_t>(trailer, kTrailerOffCrc,
                Crc32c(out, sector_size - kTrailerBytes + kTrailerOffCrc, TableCrcSeed(binding)));
}

Status CheckTableSector(const uint8_t* buf, uint64_t index, uint64_t max_sequence,
                        uint32_t sector_size, const Binding& binding, uint64_t* sequence) {
  using namespace format;
  const uint8_t* trailer = buf + sector_size - kTrailerBytes;
  const std::string where = "table sector " + std::to_string(index);
  if (Get<uint32_t>(trailer, kTrailerOffCrc) !=
      Crc32c(buf, sector_size - kTrailerBytes + kTrailerOffCrc, TableCrcSeed(binding)))
    return Status::Corruption(where + ": checksum mismatch");
  if (Get<uint32_t>(trailer, kTrailerOffIndex) != static_cast<uint32_t>(index))
    return Status::Corruption(where + ": holds another sector's index");
  *sequence = Get<uint64_t>(trailer, kTrailerOffSequence);
  if (*sequence > max_sequence)
    return Status::Corruption(where + ": newer than its header (torn commit)");
  return Status::Ok();
}

void ReadTableEntries(const uint8_t* buf, uint64_t index, uint32_t sector_size,
                      std::vector<uint64_t>* slots) {
  const uint64_t per = format::SlotsPerTableSector(sector_size);
  const uint64_t first = index * per;
  for (uint64_t s = first; s < std::min<uint64_t>(slots->size(), first + per); ++s)
    (*slots)[s] = Get<uint64_t>(buf, (s - first) * format::kSlotEntryBytes);
}

}  // namespace remapfs::codec
