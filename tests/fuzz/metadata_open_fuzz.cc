// Fuzzes MetadataStore::Open, the reader of a whole spare: header search,
// format choice, table merge across copies, semantic checks and repair.
//
// Input: one mode byte, then the spare image itself (any size; the seeds
// are small formatted spares). Mode bits:
//   bit 0  reseal: recompute the CRC of every header and of the table
//          sectors each header names, so mutations reach the checks behind
//          the checksums instead of dying at them
//   bit 1  verify_table off (what `check` and `info` use)
//   bit 2  repair off (`check` without --repair)
// Invariants beyond "no crash", when Open succeeds:
//  - the geometry's placement is what its own rules compute, and the
//    reservations are exactly the copies' extents, inside the spare;
//  - every slot maps to a spare sector inside the spare and outside every
//    copy, strictly ascending: no remap can land on metadata or share a
//    spare sector (SPEC invariants 1-3);
//  - with verify_table, every used entry names a main sector inside MAIN,
//    and no main sector twice;
//  - without repair the image is left byte for byte as it was;
//  - with repair, opening again finds the same format, sequence and table.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "crc32c.h"
#include "fuzz_util.h"
#include "metadata_codec.h"
#include "remapfs/block_device.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

constexpr size_t kMaxResealedHeaders = 16;

void PutCrc(std::vector<uint8_t>& img, size_t at, uint32_t crc) {
  std::memcpy(img.data() + at, &crc, sizeof crc);
}

// Reseals every header with our magic, then the table sectors of the first
// few headers that decode, with their format's CRC seed.
void Reseal(std::vector<uint8_t>& img) {
  std::vector<codec::Header> headers;
  for (size_t off = 0; off + format::kHeaderBytes <= img.size(); off += 512) {
    if (std::memcmp(img.data() + off, format::kMagic, sizeof format::kMagic) != 0) continue;
    PutCrc(img, off + format::kOffHeaderCrc, Crc32c(img.data() + off, format::kOffHeaderCrc));
    codec::Header h;
    if (headers.size() < kMaxResealedHeaders && codec::DecodeHeader(img.data() + off, &h).ok())
      headers.push_back(std::move(h));
  }
  for (const codec::Header& h : headers) {
    const uint64_t ss = h.geometry.sector_size;
    const size_t crc_in_sector = ss - format::kTrailerBytes + format::kTrailerOffCrc;
    for (uint64_t start : h.geometry.placement.copy_starts) {
      for (uint64_t t = 0; t < h.table_sectors; ++t) {
        const uint64_t sector = start + 1 + t;
        if (sector >= img.size() / ss || (sector + 1) * ss > img.size()) break;
        uint8_t* at = img.data() + sector * ss;
        PutCrc(img, sector * ss + crc_in_sector,
               Crc32c(at, crc_in_sector, codec::TableCrcSeed(h.binding)));
      }
    }
  }
}

std::vector<uint8_t> Contents(BlockDevice* dev) {
  std::vector<uint8_t> bytes(dev->Size());
  FUZZ_CHECK(dev->Read(0, bytes.data(), bytes.size()).ok(), "memory read failed");
  return bytes;
}

void CheckPlacement(const MetadataStore& store) {
  const Geometry& g = store.geometry();
  Placement expected;
  FUZZ_CHECK(
      ComputePlacement(g.sector_size, g.spare_sectors, g.placement.strategy, &expected).ok() &&
          expected.copy_starts == g.placement.copy_starts &&
          expected.copy_sectors == g.placement.copy_sectors,
      "placement is not what its rules compute");
  const std::vector<Extent>& extents = store.reservations().extents();
  FUZZ_CHECK(extents.size() == g.placement.copy_starts.size(), "{} extents for {} copies",
             extents.size(), g.placement.copy_starts.size());
  for (size_t i = 0; i < extents.size(); ++i)
    FUZZ_CHECK(extents[i].first == g.placement.copy_starts[i] &&
                   extents[i].last == extents[i].first + g.placement.copy_sectors - 1 &&
                   extents[i].last < g.spare_sectors,
               "reservation {} is [{},{}]", i, extents[i].first, extents[i].last);
}

bool InSomeCopy(const Geometry& g, uint64_t sector) {
  for (uint64_t start : g.placement.copy_starts)
    if (sector >= start && sector - start < g.placement.copy_sectors) return true;
  return false;
}

void CheckSlots(const MetadataStore& store, bool verify_table) {
  const Geometry& g = store.geometry();
  const ReservationSet& res = store.reservations();
  FUZZ_CHECK(store.slot_count() == res.slot_count() && store.slot_count() == g.spare_capacity(),
             "slot count {} vs reservations {} vs capacity {}", store.slot_count(),
             res.slot_count(), g.spare_capacity());
  std::unordered_set<uint64_t> mains;
  uint64_t previous = 0;
  for (uint64_t slot = 0; slot < store.slot_count(); ++slot) {
    const uint64_t sector = res.SlotToSector(slot);
    FUZZ_CHECK(sector < g.spare_sectors && !InSomeCopy(g, sector) &&
                   (slot == 0 || sector > previous),
               "slot {} maps to spare sector {} (spare {}, previous {})", slot, sector,
               g.spare_sectors, previous);
    previous = sector;
    const SlotEntry e = store.slot(slot);
    if (!verify_table || !e.used) continue;
    FUZZ_CHECK(e.main_sector < g.main_sectors, "slot {} maps main sector {} of {}", slot,
               e.main_sector, g.main_sectors);
    FUZZ_CHECK(mains.insert(e.main_sector).second, "main sector {} in two slots", e.main_sector);
  }
  FUZZ_CHECK(store.valid_copies() <= g.placement.copy_starts.size() &&
                 store.copy_reports().size() == g.placement.copy_starts.size(),
             "{} valid copies, {} reports", store.valid_copies(), store.copy_reports().size());
}

void CheckReopen(BlockDevice* spare, const MetadataOpenOptions& options,
                 const MetadataStore& first) {
  std::unique_ptr<MetadataStore> again;
  const Status st = MetadataStore::Open(spare, options, &again);
  FUZZ_CHECK(st.ok(), "reopen after repair fails: {}", st.ToString());
  FUZZ_CHECK(again->generation() == first.generation() && again->volume_id() == first.volume_id() &&
                 again->sequence() == first.sequence() && again->used_slots() == first.used_slots(),
             "reopen found generation {} sequence {}, first open {} {}, tables {}",
             again->generation(), again->sequence(), first.generation(), first.sequence(),
             again->used_slots() == first.used_slots() ? "equal" : "differ");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // Open warns about every bad copy
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> img(data + 1, data + size);
  if (mode & 1) Reseal(img);
  MetadataOpenOptions options;
  options.verify_table = (mode & 2) == 0;
  options.repair = (mode & 4) == 0;
  std::unique_ptr<BlockDevice> spare = NewMemoryDevice(img.size());
  FUZZ_CHECK(spare->Write(0, img.data(), img.size()).ok(), "memory write failed");

  std::unique_ptr<MetadataStore> store;
  const Status st = MetadataStore::Open(spare.get(), options, &store);
  if (!options.repair) FUZZ_CHECK(Contents(spare.get()) == img, "Open without repair wrote");
  if (!st.ok()) {
    FUZZ_CHECK(!st.message().empty() && store == nullptr, "{}", st.ToString());
    return 0;
  }
  CheckPlacement(*store);
  CheckSlots(*store, options.verify_table);
  if (options.repair) CheckReopen(spare.get(), options, *store);
  return 0;
}
