// MetadataStore::Open against damaged, foreign and old spares: SPEC
// invariants 9 (sector-by-sector recovery) and 10 (a format, and a MAIN, of
// its own), a version-1 spare, and headers that lie about their sizes.
#include <cstring>
#include <sstream>

#include "crc32c.h"
#include "metadata_codec.h"
#include "remapfs/faulty_device.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/spare_resize.h"
#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;

Status OpenStore(BlockDevice* spare, std::unique_ptr<MetadataStore>* out, bool repair = true) {
  MetadataOpenOptions o;
  o.repair = repair;
  return MetadataStore::Open(spare, o, out);
}

uint64_t CopyByte(const Geometry& g, size_t copy, uint64_t sector, uint64_t byte = 0) {
  return (g.placement.copy_starts[copy] + sector) * g.sector_size + byte;
}

void Damage(BlockDevice* dev, uint64_t offset) {
  const std::vector<uint8_t> junk(8, 0xEE);
  REQUIRE_OK(dev->Write(offset, junk.data(), junk.size()));
}

// A formatted spare of `bytes` with `commits` commits, remapping main
// sectors first_main, first_main+1, ... to slots 0, 62, 124, ... (one per
// table sector, so every table sector holds something).
std::unique_ptr<MetadataStore> Formatted(BlockDevice* dev, uint64_t commits,
                                         uint64_t first_main = 0) {
  const Geometry g = MakeGeometry(kSector, kMainBytes, dev->Size());
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(MetadataStore::Format(dev, g, &s));
  const uint64_t per = format::SlotsPerTableSector(kSector);
  for (uint64_t i = 0; i < commits; ++i) {
    const uint64_t slot = (i * per) % s->slot_count();
    REQUIRE_OK(s->Commit({{slot, SlotEntry{true, false, first_main + i}}}));
  }
  return s;
}

// A spare as Formatted leaves it, its store closed: the table it holds
// (TableText) and its geometry, for tests that damage it before opening it.
struct ClosedSpare {
  std::string table;
  Geometry geometry;
};
ClosedSpare FormattedAndClosed(BlockDevice* dev, uint64_t commits) {
  const std::unique_ptr<MetadataStore> store = Formatted(dev, commits);
  return {TableText(*store), store->geometry()};
}

// Damages table sector c of copy c, for every copy c: each sector is still
// intact in some copy, yet no copy is whole.
void DamageOneSectorPerCopy(BlockDevice* dev, const Geometry& g) {
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c)
    Damage(dev, CopyByte(g, c, 1 + c, 40));
}

TEST_CASE("One damaged table sector in each copy loses nothing", "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);  // linear: 4 copies, 16 table sectors
  const auto [expected, g] = FormattedAndClosed(mem.get(), 16);
  DamageOneSectorPerCopy(mem.get(), g);

  std::unique_ptr<MetadataStore> looked;
  REQUIRE_OK(OpenStore(mem.get(), &looked, /*repair=*/false));
  CHECK(TableText(*looked) == expected);
  CHECK(looked->valid_copies() == 0);
  for (const CopyReport& r : looked->copy_reports()) {
    CHECK(r.state == CopyState::kCorrupt);
    CHECK(r.problem.find("1 damaged table sector") != std::string::npos);
  }
  std::unique_ptr<MetadataStore> repaired;
  REQUIRE_OK(OpenStore(mem.get(), &repaired));
  CHECK(TableText(*repaired) == expected);
  CHECK(repaired->repaired_copies() == g.placement.copy_starts.size());
  repaired.reset();
  REQUIRE_OK(OpenStore(mem.get(), &looked, /*repair=*/false));
  CHECK(looked->valid_copies() == g.placement.copy_starts.size());
  CHECK(TableText(*looked) == expected);
}

TEST_CASE("A table sector damaged in every newest copy is reported lost, by "
          "number",
          "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);
  const Geometry g = FormattedAndClosed(mem.get(), 16).geometry;
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c)
    Damage(mem.get(), CopyByte(g, c, 1 + 5));
  std::unique_ptr<MetadataStore> s;
  const Status st = OpenStore(mem.get(), &s);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("table sector 5 is damaged in every metadata copy") != std::string::npos);
}

TEST_CASE("A table sector of an earlier format is never taken, even with a "
          "valid checksum of its own",
          "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);
  const Geometry g = MakeGeometry(kSector, kMainBytes, 512 << 10);
  auto earlier = Formatted(mem.get(), 16, /*first_main=*/5000 % (kMainBytes / kSector));
  earlier.reset();
  const std::vector<uint8_t> old_sector = ReadRange(mem.get(), CopyByte(g, 0, 2), kSector);
  auto current = Formatted(mem.get(), 3, /*first_main=*/7);
  const std::string expected = TableText(*current);
  current.reset();
  REQUIRE_OK(mem->Write(CopyByte(g, 0, 2), old_sector.data(), kSector));
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(mem.get(), &s, /*repair=*/false));
  CHECK(TableText(*s) == expected);
  CHECK(s->copy_reports()[0].state == CopyState::kCorrupt);
  CHECK(s->copy_reports()[0].problem.find("table sector 1: checksum mismatch") !=
        std::string::npos);
}

// The spare of an earlier, larger format whose tail still lies beyond the
// end of a later, smaller one, then the file grows back.
struct ShrunkAndRegrown {
  std::shared_ptr<BlockDevice> grown = NewMemoryDevice(3 << 20);
  std::string current_table;

  ShrunkAndRegrown() {
    auto big = NewMemoryDevice(3 << 20);
    Formatted(big.get(), 30, /*first_main=*/100);  // sequence 31, higher than what follows
    const std::vector<uint8_t> old_bytes = Snapshot(big.get());
    auto small = NewMemoryDevice(2 << 20);
    REQUIRE_OK(small->Write(0, old_bytes.data(), 2 << 20));
    auto store = Formatted(small.get(), 2, /*first_main=*/7);
    current_table = TableText(*store);
    const std::vector<uint8_t> small_bytes = Snapshot(small.get());
    REQUIRE_OK(grown->Write(0, old_bytes.data(), old_bytes.size()));
    REQUIRE_OK(grown->Write(0, small_bytes.data(), small_bytes.size()));
  }
};

TEST_CASE("Headers an earlier format left beyond the end never come back", "[recovery]") {
  ShrunkAndRegrown spare;
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(spare.grown.get(), &s, /*repair=*/false));
  CHECK(s->geometry().spare_sectors == (2 << 20) / kSector);
  CHECK(TableText(*s) == spare.current_table);
}

TEST_CASE("resize-spare grows over an earlier format's copies without "
          "adopting them",
          "[recovery]") {
  ShrunkAndRegrown spare;
  ResizeResult result;
  REQUIRE_OK(ResizeSpare(
      spare.grown.get(), (3 << 20) / kSector, [](const std::string&, uint64_t, uint64_t) {},
      &result));
  CHECK(result.old_geometry.spare_sectors == (2 << 20) / kSector);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(spare.grown.get(), &s, /*repair=*/false));
  CHECK(s->geometry().spare_sectors == (3 << 20) / kSector);
  std::ostringstream mains;
  for (uint64_t i = 0; i < s->slot_count(); ++i)
    if (s->slot(i).used) mains << s->slot(i).main_sector << ' ';
  CHECK(mains.str() == "7 8 ");
}

// Rewrites every copy of a current-version spare as remapfs 0.1 wrote it:
// version 1, no generation or MAIN, unseeded table CRCs.
void DowngradeToVersion1(BlockDevice* dev, const MetadataStore& store) {
  const Geometry& g = store.geometry();
  codec::Binding legacy{format::kVersionLegacy, store.volume_id(), 0};
  std::vector<uint64_t> slots(store.slot_count());
  for (uint64_t i = 0; i < slots.size(); ++i) slots[i] = EncodeSlot(store.slot(i));
  const uint64_t tables = TableSectorsFor(kSector, slots.size());
  std::vector<uint8_t> buf(kSector);
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c) {
    for (uint64_t t = 0; t < tables; ++t) {
      codec::EncodeTableSector(slots, t, store.sequence(), kSector, legacy, buf.data());
      REQUIRE_OK(dev->Write(CopyByte(g, c, 1 + t), buf.data(), kSector));
    }
    REQUIRE_OK(dev->Read(CopyByte(g, c, 0), buf.data(), kSector));
    const uint32_t v1 = format::kVersionLegacy;
    std::memcpy(buf.data() + format::kOffVersion, &v1, sizeof v1);
    std::memset(buf.data() + format::kOffGeneration, 0,
                format::kOffHeaderCrc - format::kOffGeneration);
    const uint32_t crc = Crc32c(buf.data(), format::kOffHeaderCrc);
    std::memcpy(buf.data() + format::kOffHeaderCrc, &crc, sizeof crc);
    REQUIRE_OK(dev->Write(CopyByte(g, c, 0), buf.data(), kSector));
  }
}

TEST_CASE("A version-1 spare opens, and mount upgrades it in place", "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);
  auto store = Formatted(mem.get(), 5);
  const std::string expected = TableText(*store);
  DowngradeToVersion1(mem.get(), *store);
  store.reset();
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(mem.get(), &s, /*repair=*/false));
  CHECK(s->loaded_version() == format::kVersionLegacy);
  CHECK(TableText(*s) == expected);
  REQUIRE_OK(OpenStore(mem.get(), &s, /*repair=*/true));
  REQUIRE_OK(OpenStore(mem.get(), &s, /*repair=*/false));
  CHECK(s->loaded_version() == format::kVersion);
  CHECK(s->valid_copies() == s->geometry().placement.copy_starts.size());
  CHECK(TableText(*s) == expected);
}

TEST_CASE("A header whose sizes overflow 64 bits is refused", "[recovery]") {
  auto mem = NewMemoryDevice(64 << 10);
  auto store = Formatted(mem.get(), 0);
  store.reset();
  std::vector<uint8_t> buf = ReadRange(mem.get(), 0, kSector);
  // 2^55 + 2048 sectors of 512 bytes is 2^64 + 1 MiB: 1 MiB modulo 2^64.
  const uint64_t wrapping = (uint64_t{1} << 55) + 2048;
  std::memcpy(buf.data() + format::kOffMainSectors, &wrapping, sizeof wrapping);
  const uint32_t crc = Crc32c(buf.data(), format::kOffHeaderCrc);
  std::memcpy(buf.data() + format::kOffHeaderCrc, &crc, sizeof crc);
  codec::Header h;
  const Status st = codec::DecodeHeader(buf.data(), &h);
  CHECK(st.IsCorruption());
  CHECK(st.message().find("overflow") != std::string::npos);
}

TEST_CASE("A spare cut to a size that is not whole sectors is reported "
          "truncated, never as unformatted",
          "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);
  Formatted(mem.get(), 3);
  const std::vector<uint8_t> bytes = Snapshot(mem.get());
  auto cut = NewMemoryDevice((512 << 10) - 100);
  REQUIRE_OK(cut->Write(0, bytes.data(), cut->Size()));
  CHECK(MetadataStore::LooksFormatted(cut.get()));
  std::unique_ptr<MetadataStore> s;
  const Status st = OpenStore(cut.get(), &s, /*repair=*/false);
  CHECK(st.IsInvalidArgument());
  CHECK(st.message().find("truncated") != std::string::npos);
  CHECK(st.message().find("do NOT run 'remapfs format'") != std::string::npos);
}

TEST_CASE("A spare is used only with the MAIN it is bound to, until rebound", "[recovery]") {
  std::shared_ptr<BlockDevice> spare = NewMemoryDevice(64 << 10);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(kSector, kMainBytes, 64 << 10),
                                   MainBinding{"file:ino=11", "/disks/a.img"}, &s));
  s.reset();
  MetadataOpenOptions other;
  other.expected_main = MainBinding{"file:ino=12", "/disks/b.img"};
  Status st = MetadataStore::Open(spare.get(), other, &s);
  CHECK(st.IsInvalidArgument());
  CHECK(st.message().find("'/disks/a.img' (file:ino=11)") != std::string::npos);
  CHECK(st.message().find("--rebind") != std::string::npos);

  VolumeOptions rebind;
  rebind.main = MainBinding{"file:ino=12", "/disks/b.img"};
  std::unique_ptr<Volume> v;
  CHECK(Volume::Open(NewMemoryDevice(kMainBytes), std::make_unique<SharedDevice>(spare), rebind, &v)
            .IsInvalidArgument());
  rebind.rebind = true;
  REQUIRE_OK(
      Volume::Open(NewMemoryDevice(kMainBytes), std::make_unique<SharedDevice>(spare), rebind, &v));
  v.reset();
  REQUIRE_OK(MetadataStore::Open(spare.get(), other, &s));
  CHECK(s->main().path == "/disks/b.img");
}

TEST_CASE("A crash at any write of a sector-by-sector repair loses nothing", "[recovery]") {
  auto mem = NewMemoryDevice(512 << 10);
  const auto [expected, g] = FormattedAndClosed(mem.get(), 16);
  // Table sector 5 survives only in copy 0, which is itself damaged (its
  // sector 1), so copy 0 is rewritten first.
  Damage(mem.get(), CopyByte(g, 0, 1 + 1, 40));
  for (size_t c = 1; c < g.placement.copy_starts.size(); ++c)
    Damage(mem.get(), CopyByte(g, c, 1 + 5, 40));
  const std::vector<uint8_t> image = Snapshot(mem.get());
  for (uint64_t k = 0; k < 80; ++k) {
    INFO("crash after " << k << " writes of the repair");
    std::shared_ptr<BlockDevice> disk = NewMemoryDevice(image.size());
    REQUIRE_OK(disk->Write(0, image.data(), image.size()));
    FaultyDevice crashing(std::make_unique<SharedDevice>(disk), kSector);
    crashing.ArmCrash(k, kSector / 2);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(OpenStore(&crashing, &s));  // the repair fails part way
    REQUIRE_OK(OpenStore(disk.get(), &s, /*repair=*/false));
    CHECK(TableText(*s) == expected);
  }
}

TEST_CASE("While the table lives only in the union of damaged copies, a "
          "commit never overwrites one of them",
          "[recovery]") {
  std::shared_ptr<BlockDevice> mem = NewMemoryDevice(512 << 10);
  const auto [expected, g] = FormattedAndClosed(mem.get(), 16);
  DamageOneSectorPerCopy(mem.get(), g);
  // A spare whose table sectors can no longer be written, while headers can:
  // the repair at open fails everywhere, and a commit could invalidate a
  // copy's header and then fail on its table.
  FaultyDevice failing(std::make_unique<SharedDevice>(mem), kSector);
  for (uint64_t start : g.placement.copy_starts)
    failing.AddFault(start + 1, start + g.placement.copy_sectors - 1, FaultMode::kWrite);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(&failing, &s));
  CHECK(s->valid_copies() == 0);
  CHECK(s->Commit({{7, SlotEntry{true, false, 900}}}).errno_value() == EIO);
  CHECK_FALSE(s->healthy());
  s.reset();
  REQUIRE_OK(OpenStore(mem.get(), &s, /*repair=*/false));
  CHECK(TableText(*s) == expected);
}

}  // namespace
}  // namespace remapfs::testing
