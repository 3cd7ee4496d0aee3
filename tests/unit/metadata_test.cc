// MetadataStore: format, open, commit, and what it does with corrupt and
// stale copies. The spare is plain memory the tests corrupt directly. What
// a commit costs, and how it survives crashes and failing copies, is in
// metadata_commit_test.cc.

#include "metadata_fixture.h"
#include "remapfs/format.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

TEST_CASE("A formatted spare opens with its geometry, sequence 1 and no remap", "[metadata]") {
  const Geometry g = MakeGeometry(kSector, kMainBytes, 64 << 10);
  auto mem = NewMemoryDevice(64 << 10);
  std::unique_ptr<MetadataStore> formatted, opened;
  REQUIRE_OK(MetadataStore::Format(mem.get(), g, &formatted));
  CHECK(MetadataStore::LooksFormatted(mem.get()));
  REQUIRE_OK(OpenStore(mem.get(), &opened));

  CHECK(opened->sequence() == 1);
  CHECK(opened->volume_id() == formatted->volume_id());
  CHECK(opened->volume_id() != std::array<uint8_t, 16>{});
  CHECK(opened->geometry().sector_size == kSector);
  CHECK(opened->geometry().main_sectors == kMainBytes / kSector);
  CHECK(opened->geometry().spare_sectors == 128);
  CHECK(opened->geometry().placement.strategy == g.placement.strategy);
  CHECK(opened->geometry().placement.copy_sectors == g.placement.copy_sectors);
  CHECK(opened->geometry().placement.copy_starts == g.placement.copy_starts);
  CHECK(opened->slot_count() == g.spare_capacity());
  CHECK(TableText(*opened).empty());
  CHECK(opened->valid_copies() == g.placement.copy_starts.size());
  CHECK(opened->repaired_copies() == 0);
  for (const CopyReport& r : opened->copy_reports()) {
    CHECK(r.state == CopyState::kValid);
    CHECK(r.sequence == 1);
    CHECK_FALSE(r.rewritten);
  }
}

TEST_CASE("Committed changes are visible after reopening", "[metadata]") {
  MetadataFixture f;
  CHECK(f.store->sequence() == 2);
  f.Commit({{0, SlotEntry{}}, {71, Used(12)}});
  CHECK(f.store->sequence() == 3);
  CHECK(TableText(*f.store) == TableText(f.table));

  std::unique_ptr<MetadataStore> reopened;
  REQUIRE_OK(OpenStore(f.mem.get(), &reopened));
  CHECK(reopened->sequence() == 3);
  CHECK(TableText(*reopened) == TableText(f.table));
  CHECK(reopened->slot(70) == Used(11, true));
  CHECK(reopened->slot(0) == SlotEntry{});
}

TEST_CASE("Slot entries encode and decode losslessly", "[metadata]") {
  for (const SlotEntry& e : {SlotEntry{}, Used(0), Used(5, true), Used(format::kSlotMainMask)}) {
    CHECK(DecodeSlot(EncodeSlot(e)) == e);
  }
  CHECK(EncodeSlot(SlotEntry{}) == 0);
  CHECK(EncodeSlot(Used(7, true)) == (format::kSlotUsed | format::kSlotPending | 7));
}

TEST_CASE("Corrupt copies are detected and rewritten from a valid one", "[metadata]") {
  MetadataFixture f;
  // Where to corrupt: the header, a table entry, a table sector's trailer.
  const auto where = GENERATE(as<std::pair<uint64_t, uint64_t>>{},
                              std::make_pair(0, format::kOffSequence),
                              std::make_pair(0, format::kOffMagic), std::make_pair(2, 100),
                              std::make_pair(1, kSector - 3));
  INFO("sector " << where.first << " byte " << where.second);
  const size_t n = f.copies();
  const size_t corrupt = GENERATE_COPY(size_t{1}, n - 1);
  INFO(corrupt << " of " << n << " copies corrupt");
  for (size_t c = 0; c < corrupt; ++c) {
    FlipByte(f.mem.get(), CopyByte(f.g, c, where.first, where.second));
  }

  const std::vector<uint8_t> image = Snapshot(f.mem.get());
  std::unique_ptr<MetadataStore> checked;
  REQUIRE_OK(OpenStore(f.mem.get(), &checked, /*repair=*/false));
  CHECK(checked->valid_copies() == n - corrupt);
  CHECK(ByteDiff(Snapshot(f.mem.get()), image) == "");  // no repair, no write

  std::unique_ptr<MetadataStore> repaired;
  REQUIRE_OK(OpenStore(f.mem.get(), &repaired));
  CHECK(TableText(*repaired) == TableText(f.table));
  CHECK(repaired->sequence() == f.store->sequence());
  CHECK(repaired->valid_copies() == n);
  CHECK(repaired->repaired_copies() == corrupt);
  const auto& reports = repaired->copy_reports();
  REQUIRE(reports.size() == n);
  for (size_t c = 0; c < n; ++c) {
    INFO("copy " << c);
    CHECK(reports[c].start == f.g.placement.copy_starts[c]);
    CHECK(reports[c].state == (c < corrupt ? CopyState::kCorrupt : CopyState::kValid));
    CHECK(reports[c].rewritten == (c < corrupt));
    CHECK(reports[c].problem.empty() == (c >= corrupt));
  }
  RequireAllValidWithoutRepair(f.mem.get());
}

TEST_CASE("With every copy corrupt, Open fails with Corruption", "[metadata]") {
  MetadataFixture f;
  for (size_t c = 0; c < f.copies(); ++c) {
    FlipByte(f.mem.get(), CopyByte(f.g, c, c % 2, 40));
  }
  std::unique_ptr<MetadataStore> s;
  const Status st = OpenStore(f.mem.get(), &s);
  CHECK(st.IsCorruption());
  CHECK(st.errno_value() == EIO);
  CHECK_FALSE(st.message().empty());
}

TEST_CASE("With every copy corrupt, the Volume refuses to open and leaves "
          "MAIN untouched",
          "[metadata]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(Sectors({3, 4})));
  const Geometry g = mv->geometry();
  mv.Close();
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c) {
    FlipByte(mv.spare_mem(), CopyByte(g, c, 0, format::kOffHeaderCrc));
  }
  const std::vector<uint8_t> main = Snapshot(mv.main_mem());
  const Status st = mv.Reopen();
  CHECK(st.IsCorruption());
  CHECK(st.errno_value() == EIO);
  CHECK(ByteDiff(Snapshot(mv.main_mem()), main) == "");
}

TEST_CASE("A stale copy is detected, loses to the newest, and is rewritten", "[metadata]") {
  MetadataFixture f;
  const size_t stale = 2;
  const uint64_t len = f.g.placement.copy_sectors * kSector;
  const uint64_t at = f.g.placement.copy_starts[stale] * kSector;
  const std::vector<uint8_t> old_copy = ReadRange(f.mem.get(), at, len);
  const uint64_t old_sequence = f.store->sequence();
  f.Commit({{70, SlotEntry{}}, {300, Used(99)}});
  REQUIRE_OK(f.mem->Write(at, old_copy.data(), len));

  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(f.mem.get(), &s));
  CHECK(s->sequence() == old_sequence + 1);
  CHECK(TableText(*s) == TableText(f.table));
  const CopyReport& r = s->copy_reports().at(stale);
  CHECK(r.state == CopyState::kStale);
  CHECK(r.sequence == old_sequence);
  CHECK(r.rewritten);
  CHECK(s->repaired_copies() == 1);
  RequireAllValidWithoutRepair(f.mem.get());
}

TEST_CASE("Open refuses a spare bound to another main size, and a truncated "
          "one, but accepts a larger one",
          "[metadata]") {
  MetadataFixture f;
  std::unique_ptr<MetadataStore> s;
  MetadataOpenOptions o;
  o.expected_main_bytes = kMainBytes + kSector;
  Status st = MetadataStore::Open(f.mem.get(), o, &s);
  CHECK(st.IsInvalidArgument());
  CHECK(st.errno_value() == EINVAL);
  o.expected_main_bytes = kMainBytes;
  CHECK_OK(MetadataStore::Open(f.mem.get(), o, &s));

  // The same bytes on a spare twice as large (an interrupted grow): the
  // metadata governs its own extent.
  const std::vector<uint8_t> image = Snapshot(f.mem.get());
  auto bigger = NewMemoryDevice(2 * image.size());
  REQUIRE_OK(bigger->Write(0, image.data(), image.size()));
  REQUIRE_OK(OpenStore(bigger.get(), &s));
  CHECK(s->geometry().spare_sectors * kSector == image.size());

  // Cut short: the metadata's last sectors are gone.
  auto smaller = NewMemoryDevice(image.size() - kSector);
  REQUIRE_OK(smaller->Write(0, image.data(), smaller->Size()));
  st = OpenStore(smaller.get(), &s);
  CHECK_FALSE(st.ok());
}

TEST_CASE("A zeroed spare is not formatted and does not open", "[metadata]") {
  auto mem = NewMemoryDevice(64 << 10);
  CHECK_FALSE(MetadataStore::LooksFormatted(mem.get()));
  std::unique_ptr<MetadataStore> s;
  const Status st = OpenStore(mem.get(), &s);
  CHECK(st.IsCorruption());
  CHECK(st.errno_value() == EIO);
}

TEST_CASE("A spare with one intact magic still looks formatted", "[metadata]") {
  MetadataFixture f;
  for (size_t c = 0; c + 1 < f.copies(); ++c) {
    FlipByte(f.mem.get(), CopyByte(f.g, c, 0, format::kOffMagic));
  }
  CHECK(MetadataStore::LooksFormatted(f.mem.get()));
  FlipByte(f.mem.get(), CopyByte(f.g, f.copies() - 1, 0, format::kOffMagic));
  CHECK_FALSE(MetadataStore::LooksFormatted(f.mem.get()));
}

}  // namespace
}  // namespace remapfs::testing
