// Fuzzes the metadata header decoder (codec::DecodeHeader) and encoder.
//
// The input is a header sector (zero padded to 4096 bytes). It is decoded
// as it is, and again with its CRC recomputed so that the fuzzer reaches
// the geometry checks behind the checksum. Invariants beyond "no crash":
//  - a header with a wrong CRC never decodes (the raw and resealed inputs
//    decode alike when the CRC was right);
//  - a decoded header is self-consistent: a valid sector size, 1..8 copies
//    that lie inside the spare without overlapping, each long enough for the
//    header and a table of every slot, slot_count = the sectors left over,
//    sizes that fit in 64 bits in bytes;
//  - Decode(Encode(h)) equals h field by field (the version becomes the
//    current one), and encoding is deterministic: Encode of both is equal.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crc32c.h"
#include "fuzz_util.h"
#include "metadata_codec.h"
#include "remapfs/format.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

constexpr size_t kMaxSector = 4096;

void CheckConsistent(const codec::Header& h) {
  const Geometry& g = h.geometry;
  const Placement& p = g.placement;
  FUZZ_CHECK(IsValidSectorSize(g.sector_size), "sector size {}", g.sector_size);
  FUZZ_CHECK(!p.copy_starts.empty() && p.copy_starts.size() <= format::kMaxCopies &&
                 h.copy_index < p.copy_starts.size(),
             "{} copies, copy index {}", p.copy_starts.size(), h.copy_index);
  FUZZ_CHECK(p.strategy != Strategy::kAuto, "strategy auto on disk");
  uint64_t product = 0;
  FUZZ_CHECK(!__builtin_mul_overflow(g.main_sectors, g.sector_size, &product) &&
                 !__builtin_mul_overflow(g.spare_sectors, g.sector_size, &product),
             "sizes overflow: main {} spare {}", g.main_sectors, g.spare_sectors);
  uint64_t end = 0;  // copies ascend without overlap, inside the spare
  for (uint64_t start : p.copy_starts) {
    FUZZ_CHECK(start >= end && p.copy_sectors <= g.spare_sectors &&
                   start <= g.spare_sectors - p.copy_sectors,
               "copy at {} (L {}) overlaps or leaves a spare of {}", start, p.copy_sectors,
               g.spare_sectors);
    end = start + p.copy_sectors;
  }
  FUZZ_CHECK(p.copy_sectors >= format::kMinCopySectors && p.copy_sectors >= 1 + h.table_sectors,
             "copy of {} sectors cannot hold a header and {} table sectors", p.copy_sectors,
             h.table_sectors);
  FUZZ_CHECK(h.slot_count == g.spare_sectors - p.reserved_sectors(),
             "slot count {} for {} free sectors", h.slot_count,
             g.spare_sectors - p.reserved_sectors());
  const uint64_t per = format::SlotsPerTableSector(g.sector_size);
  FUZZ_CHECK(h.table_sectors == h.slot_count / per + (h.slot_count % per != 0),
             "{} table sectors for {} slots", h.table_sectors, h.slot_count);
}

void CheckSame(const codec::Header& a, const codec::Header& b) {
  const Geometry &x = a.geometry, &y = b.geometry;
  FUZZ_CHECK(x.sector_size == y.sector_size && x.main_sectors == y.main_sectors &&
                 x.spare_sectors == y.spare_sectors &&
                 x.placement.strategy == y.placement.strategy &&
                 x.placement.copy_sectors == y.placement.copy_sectors &&
                 x.placement.copy_starts == y.placement.copy_starts,
             "geometry changed in the round trip");
  FUZZ_CHECK(a.copy_index == b.copy_index && a.sequence == b.sequence &&
                 a.slot_count == b.slot_count && a.table_sectors == b.table_sectors,
             "copy index, sequence or table size changed in the round trip");
  FUZZ_CHECK(a.binding.volume_id == b.binding.volume_id &&
                 a.binding.generation == b.binding.generation &&
                 b.binding.version == format::kVersion,
             "binding changed in the round trip (version {})", b.binding.version);
  FUZZ_CHECK(a.main_id == b.main_id && a.main_path == b.main_path,
             "MAIN id '{}' path '{}' came back as '{}' '{}'", a.main_id, a.main_path, b.main_id,
             b.main_path);
}

void CheckRoundTrip(const codec::Header& h) {
  std::vector<uint8_t> first(kMaxSector), second(kMaxSector);
  codec::EncodeHeader(h, first.data());
  codec::Header back;
  const Status st = codec::DecodeHeader(first.data(), &back);
  FUZZ_CHECK(st.ok(), "a header we encoded does not decode: {}", st.ToString());
  CheckSame(h, back);
  codec::EncodeHeader(back, second.data());
  FUZZ_CHECK(first == second, "encoding the decoded header gave other bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> raw(kMaxSector, 0);
  std::memcpy(raw.data(), data, std::min(size, raw.size()));
  codec::Header h;
  const bool raw_ok = codec::DecodeHeader(raw.data(), &h).ok();
  if (raw_ok) {
    CheckConsistent(h);
    CheckRoundTrip(h);
  }
  std::vector<uint8_t> sealed = raw;
  const uint32_t crc = Crc32c(sealed.data(), format::kOffHeaderCrc);
  std::memcpy(sealed.data() + format::kOffHeaderCrc, &crc, sizeof crc);
  const bool crc_was_right = sealed == raw;
  codec::Header hs;
  const bool sealed_ok = codec::DecodeHeader(sealed.data(), &hs).ok();
  FUZZ_CHECK(!raw_ok || crc_was_right, "a header with a wrong CRC decoded");
  FUZZ_CHECK(!crc_was_right || raw_ok == sealed_ok, "same bytes, different verdicts");
  if (sealed_ok) {
    CheckConsistent(hs);
    CheckRoundTrip(hs);
  }
  return 0;
}
