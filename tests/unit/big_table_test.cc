// A table larger than one read window (1 MiB of table sectors): Open
// streams every copy window by window and still rebuilds the table sector by
// sector at the windows' edges (SPEC invariant 9); reads and writes of the
// metadata stay within 1 MiB, and the store holds the used slots only.
#include <algorithm>

#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/remap_table.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kSpareBytes = 256ull << 20;  // geometric, 5 copies of ~7800 table sectors
constexpr uint64_t kWindow = (1 << 20) / kSector;
constexpr uint64_t kMaxIo = 1 << 20;

// Remembers the largest read and write that passed through it, and sums.
class LargestIoDevice : public ForwardingDevice {
 public:
  using ForwardingDevice::ForwardingDevice;
  Status Read(uint64_t offset, void* buf, size_t len) override {
    largest_read = std::max(largest_read, len);
    bytes_read += len;
    return base()->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    largest_write = std::max(largest_write, len);
    bytes_written += len;
    ++writes;
    return base()->Write(offset, buf, len);
  }
  size_t largest_read = 0, largest_write = 0, writes = 0;
  uint64_t bytes_read = 0, bytes_written = 0;
};

struct BigSpare {
  ScratchDir dir;
  std::shared_ptr<BlockDevice> file;
  Geometry g;
  uint64_t table_sectors = 0;
  std::string table;  // TableText once formatted and committed

  // One used slot in every table sector, all committed at once.
  BigSpare() {
    CreateZeroFile(dir.File("spare.img"), kSpareBytes);
    file = OpenFileDeviceOrFail(dir.File("spare.img"));
    g = MakeGeometry(kSector, 1ull << 30, kSpareBytes);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Format(file.get(), g, &s));
    table_sectors = TableSectorsFor(kSector, s->slot_count());
    REQUIRE(table_sectors > 2 * kWindow);  // the edges below are inside the table
    const uint64_t per = format::SlotsPerTableSector(kSector);
    std::vector<SlotChange> changes;
    for (uint64_t t = 0; t < table_sectors; ++t) {
      const uint64_t in_sector = std::min(per, s->slot_count() - t * per);
      changes.push_back({t * per + t % in_sector, SlotEntry{true, t % 3 == 0, 5 * t}});
    }
    REQUIRE_OK(s->Commit(changes));
    table = TableText(*s);
    CHECK(s->used_slots().size() == table_sectors);
  }
  void Damage(size_t copy, uint64_t table_sector) {
    const std::vector<uint8_t> junk(8, 0xEE);
    const uint64_t at = (g.placement.copy_starts[copy] + 1 + table_sector) * kSector + 100;
    REQUIRE_OK(file->Write(at, junk.data(), junk.size()));
  }
};

TEST_CASE("Format of a spare known to be zero writes its copies and reads nothing", "[big_table]") {
  ScratchDir dir;
  CreateZeroFile(dir.File("spare.img"), kSpareBytes);
  LargestIoDevice dev(OpenFileDeviceOrFail(dir.File("spare.img")));
  const Geometry g = MakeGeometry(kSector, 1ull << 30, kSpareBytes);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(MetadataStore::Format(&dev, g, MainBinding{}, /*spare_is_zero=*/true, &s));
  CHECK(dev.bytes_read == 0);
  CHECK(dev.largest_write <= kMaxIo);
  // The copies, and the header positions of other placements wiped (a
  // zeroed spare has none, but the wipe is cheap and kept for any caller).
  const uint64_t copies = g.placement.reserved_sectors() * kSector;
  CHECK(dev.bytes_written >= copies);
  CHECK(dev.bytes_written <= copies + 64 * format::kHeaderBytes);
  s.reset();
  MetadataOpenOptions o;
  o.repair = false;
  REQUIRE_OK(MetadataStore::Open(&dev, o, &s));
  CHECK(s->valid_copies() == g.placement.copy_starts.size());
  s.reset();
  // Without the promise, it looks for earlier formats' headers everywhere.
  dev.bytes_read = 0;
  REQUIRE_OK(MetadataStore::Format(&dev, g, &s));
  CHECK(dev.bytes_read > 0);
}

Status Open(BlockDevice* dev, bool repair, std::unique_ptr<MetadataStore>* out) {
  MetadataOpenOptions o;
  o.repair = repair;
  return MetadataStore::Open(dev, o, out);
}

TEST_CASE("Damage at the edges of the read windows, one sector per copy, loses nothing",
          "[big_table]") {
  BigSpare spare;
  REQUIRE(spare.g.placement.copy_starts.size() == 5);
  const uint64_t last = spare.table_sectors - 1;
  const uint64_t damaged[5] = {kWindow - 1, kWindow, 2 * kWindow - 1, 0, last};
  for (size_t c = 0; c < 5; ++c) spare.Damage(c, damaged[c]);

  LargestIoDevice dev(spare.file);
  std::unique_ptr<MetadataStore> looked;
  REQUIRE_OK(Open(&dev, /*repair=*/false, &looked));
  CHECK(TableText(*looked) == spare.table);
  for (const CopyReport& r : looked->copy_reports())
    CHECK(r.problem.find("1 damaged table sector") != std::string::npos);
  looked.reset();

  std::unique_ptr<MetadataStore> repaired;
  REQUIRE_OK(Open(&dev, /*repair=*/true, &repaired));
  CHECK(repaired->repaired_copies() == 5);
  CHECK(TableText(*repaired) == spare.table);
  CHECK(dev.largest_read <= kMaxIo);
  CHECK(dev.largest_write == kMaxIo);  // a whole copy goes in 1 MiB writes
  // Per copy: the table in 1 MiB writes, and its header.
  const uint64_t per_copy = (spare.table_sectors + kWindow - 1) / kWindow + 1;
  CHECK(dev.writes == 5 * per_copy);
  repaired.reset();
  REQUIRE_OK(Open(spare.file.get(), /*repair=*/false, &looked));
  CHECK(looked->valid_copies() == 5);
  CHECK(TableText(*looked) == spare.table);
}

TEST_CASE("A sector damaged in every copy is reported lost in any window", "[big_table]") {
  BigSpare spare;
  const uint64_t lost = GENERATE(uint64_t{kWindow}, uint64_t{2 * kWindow + 5});
  for (size_t c = 0; c < spare.g.placement.copy_starts.size(); ++c) spare.Damage(c, lost);
  std::unique_ptr<MetadataStore> s;
  const Status st = Open(spare.file.get(), /*repair=*/false, &s);
  CHECK(st.IsCorruption());
  CHECK_THAT(st.message(), Catch::Contains("table sector " + std::to_string(lost) + " is damaged"));
}

TEST_CASE("A big table commits and loads with memory for its used slots only", "[big_table]") {
  BigSpare spare;
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(Open(spare.file.get(), /*repair=*/true, &s));
  CHECK(s->used_slots().size() == spare.table_sectors);
  // 16 bytes an item, at most twice that, whatever the slot count.
  CHECK(s->used_slots().BytesHeld() <= 2 * 16 * spare.table_sectors + 4096);
  CHECK(s->used_slots().BytesHeld() < s->slot_count());  // the old table: 8 bytes a slot
  // A commit freeing every other used slot rewrites them in place.
  std::vector<SlotChange> frees;
  for (const auto& item : s->used_slots())
    if (frees.size() < spare.table_sectors / 2) frees.push_back({item.key, SlotEntry{}});
  REQUIRE_OK(s->Commit(frees));
  const std::string after = TableText(*s);
  std::unique_ptr<RemapTable> table;
  REQUIRE_OK(RemapTable::Load(std::move(s), &table));
  CHECK(table->Counters().remapped + table->Counters().pending ==
        spare.table_sectors - frees.size());
  table.reset();
  REQUIRE_OK(Open(spare.file.get(), /*repair=*/false, &s));
  CHECK(TableText(*s) == after);
  CHECK(s->valid_copies() == 5);
}

TEST_CASE("A commit writes consecutive changed table sectors in one write per copy",
          "[big_table]") {
  BigSpare spare;
  LargestIoDevice dev(spare.file);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(Open(&dev, /*repair=*/true, &s));
  const uint64_t per = format::SlotsPerTableSector(kSector);
  dev.writes = 0;
  // Sectors 10, 11, 12 and 40: two runs.
  REQUIRE_OK(s->Commit({{11 * per + 1, SlotEntry{true, false, 7}},
                        {10 * per + 2, SlotEntry{true, false, 8}},
                        {12 * per + 3, SlotEntry{}},
                        {40 * per + 4, SlotEntry{true, true, 9}}}));
  CHECK(dev.writes == 5 * 3);  // per copy: two runs and the header
}

}  // namespace
}  // namespace remapfs::testing
