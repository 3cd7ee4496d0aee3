// MetadataStore: format, open, commit, and what it does with corrupt, stale
// and torn copies. The spare is plain memory the tests corrupt directly.
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "remapfs/format.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;

using Table = std::map<uint64_t, SlotEntry>;  // used slots only

// The model's table, in the format of TableText(const MetadataStore&).
using testing::TableText;
std::string TableText(const Table& t) {
  std::ostringstream os;
  for (const auto& [i, e] : t) {
    if (e == SlotEntry{}) continue;
    os << i << ':' << e.used << e.pending << ':' << e.main_sector << '\n';
  }
  return os.str();
}

Table Apply(Table t, const std::vector<SlotChange>& changes) {
  for (const SlotChange& c : changes) t[c.slot] = c.entry;
  return t;
}

SlotEntry Used(uint64_t main, bool pending = false) {
  return SlotEntry{true, pending, main};
}

Status OpenStore(BlockDevice* spare, std::unique_ptr<MetadataStore>* out,
                 bool repair = true) {
  MetadataOpenOptions o;
  o.repair = repair;
  return MetadataStore::Open(spare, o, out);
}

uint64_t CopyByte(const Geometry& g, size_t copy, uint64_t sector,
                  uint64_t byte) {
  return (g.placement.copy_starts[copy] + sector) * g.sector_size + byte;
}

void FlipByte(BlockDevice* dev, uint64_t offset) {
  uint8_t b = 0;
  REQUIRE_OK(dev->Read(offset, &b, 1));
  b ^= 0x5A;
  REQUIRE_OK(dev->Write(offset, &b, 1));
}

void RequireAllValidWithoutRepair(BlockDevice* spare) {
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(spare, &s, /*repair=*/false));
  for (const CopyReport& r : s->copy_reports()) {
    INFO("copy at " << r.start << ": " << r.problem);
    CHECK(r.state == CopyState::kValid);
  }
  CHECK(s->valid_copies() == s->geometry().placement.copy_starts.size());
}

// A formatted 512 KiB spare (linear: 4 copies of 17 sectors, 956 slots)
// holding one committed change set.
struct Fixture {
  Geometry g = MakeGeometry(kSector, kMainBytes, 512 << 10);
  std::shared_ptr<BlockDevice> mem = NewMemoryDevice(512 << 10);
  std::unique_ptr<MetadataStore> store;
  Table table;
  size_t copies() const { return g.placement.copy_starts.size(); }

  Fixture() {
    REQUIRE_OK(MetadataStore::Format(mem.get(), g, &store));
    Commit({{0, Used(10)}, {70, Used(11, true)}, {955, Used(1000)}});
  }
  void Commit(const std::vector<SlotChange>& changes) {
    REQUIRE_OK(store->Commit(changes));
    table = Apply(table, changes);
  }
};

TEST_CASE("A formatted spare opens with its geometry, sequence 1 and no remap",
          "[metadata]") {
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
  Fixture f;
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
  for (const SlotEntry& e : {SlotEntry{}, Used(0), Used(5, true),
                             Used(format::kSlotMainMask)}) {
    CHECK(DecodeSlot(EncodeSlot(e)) == e);
  }
  CHECK(EncodeSlot(SlotEntry{}) == 0);
  CHECK(EncodeSlot(Used(7, true)) ==
        (format::kSlotUsed | format::kSlotPending | 7));
}

TEST_CASE("Corrupt copies are detected and rewritten from a valid one",
          "[metadata]") {
  Fixture f;
  // Where to corrupt: the header, a table entry, a table sector's trailer.
  const auto where = GENERATE(as<std::pair<uint64_t, uint64_t>>{},
                              std::make_pair(0, format::kOffSequence),
                              std::make_pair(0, format::kOffMagic),
                              std::make_pair(2, 100),
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
  Fixture f;
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
          "MAIN untouched", "[metadata]") {
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

TEST_CASE("A stale copy is detected, loses to the newest, and is rewritten",
          "[metadata]") {
  Fixture f;
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
          "one, but accepts a larger one", "[metadata]") {
  Fixture f;
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

TEST_CASE("A spare with one intact magic still looks formatted",
          "[metadata]") {
  Fixture f;
  for (size_t c = 0; c + 1 < f.copies(); ++c) {
    FlipByte(f.mem.get(), CopyByte(f.g, c, 0, format::kOffMagic));
  }
  CHECK(MetadataStore::LooksFormatted(f.mem.get()));
  FlipByte(f.mem.get(), CopyByte(f.g, f.copies() - 1, 0, format::kOffMagic));
  CHECK_FALSE(MetadataStore::LooksFormatted(f.mem.get()));
}

TEST_CASE("A one-slot commit writes at most two sectors per copy, whatever "
          "the table size", "[metadata]") {
  const uint64_t spare_bytes = GENERATE(64 << 10, 512 << 10, 4 << 20);
  INFO("spare of " << spare_bytes << " bytes");
  const Geometry g = MakeGeometry(kSector, 8 << 20, spare_bytes);
  FaultyDevice dev(NewMemoryDevice(spare_bytes), kSector);
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(MetadataStore::Format(&dev, g, &s));
  const uint64_t copies = g.placement.copy_starts.size();
  // The first slot of a table sector, so slot and slot + 1 share it.
  const uint64_t per_sector = format::SlotsPerTableSector(kSector);
  const uint64_t slot = s->slot_count() / 2 / per_sector * per_sector;

  uint64_t before = dev.writes_seen();
  REQUIRE_OK(s->Commit({{slot, Used(42)}}));
  CHECK(dev.writes_seen() - before <= 2 * copies);
  CHECK(dev.writes_seen() - before >= copies);

  before = dev.writes_seen();
  REQUIRE_OK(s->Commit({{slot, SlotEntry{}}, {slot + 1, Used(43, true)}}));
  CHECK(dev.writes_seen() - before <= 2 * copies);
}

// A spare image in memory, opened through a FaultyDevice that can crash.
struct CrashRig {
  std::shared_ptr<BlockDevice> mem;
  FaultyDevice* dev = nullptr;
  std::unique_ptr<FaultyDevice> owner;
  std::unique_ptr<MetadataStore> store;

  explicit CrashRig(const std::vector<uint8_t>& image)
      : mem(NewMemoryDevice(image.size())) {
    REQUIRE_OK(mem->Write(0, image.data(), image.size()));
    Reopen();
  }
  explicit CrashRig(std::shared_ptr<BlockDevice> m) : mem(std::move(m)) {
    Reopen();
  }
  // A fresh store over the same bytes: the disk after a reboot.
  void Reopen() {
    store.reset();
    owner = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(mem),
                                           kSector);
    dev = owner.get();
    REQUIRE_OK(OpenStore(dev, &store));
  }
};

TEST_CASE("A crash at any write of a commit leaves exactly the old or the "
          "new table", "[metadata]") {
  Fixture f;
  const std::vector<uint8_t> image = Snapshot(f.mem.get());
  const std::vector<SlotChange> changes = {
      {0, SlotEntry{}}, {69, Used(500)}, {70, Used(11)}, {900, Used(9, true)}};
  const std::string old_text = TableText(f.table);
  const std::string new_text = TableText(Apply(f.table, changes));

  CrashRig probe(image);
  const uint64_t before = probe.dev->writes_seen();
  REQUIRE_OK(probe.store->Commit(changes));
  const uint64_t writes = probe.dev->writes_seen() - before;
  REQUIRE(writes >= f.copies());

  const size_t torn = GENERATE(size_t{0}, size_t{1}, size_t{kSector / 2});
  for (uint64_t k = 0; k <= writes; ++k) {
    INFO("crash after " << k << " of " << writes << " writes, torn " << torn);
    CrashRig rig(image);
    rig.dev->ArmCrash(k, torn);
    const Status st = rig.store->Commit(changes);
    // A commit succeeds once one copy holds the new table in full.
    if (k == writes) CHECK(st.ok());
    if (!st.ok()) {
      CHECK(st.errno_value() == EIO);
      CHECK(TableText(*rig.store) == old_text);  // memory unchanged too
    }
    rig.dev->DisarmCrash();
    rig.Reopen();
    const std::string found = TableText(*rig.store);
    CHECK((found == old_text || found == new_text));
    if (st.ok()) CHECK(found == new_text);
    CHECK(rig.store->valid_copies() == f.copies());
    RequireAllValidWithoutRepair(rig.mem.get());
  }
}

TEST_CASE("Every acknowledged commit survives a run of crashes", "[metadata]") {
  Fixture f;
  CrashRig rig(f.mem);
  f.store.reset();
  std::mt19937_64 rng(20240611);
  Table model = f.table;
  std::optional<Table> unacknowledged;
  for (int round = 0; round < 60; ++round) {
    INFO("round " << round);
    const std::string found = TableText(*rig.store);
    if (unacknowledged && found == TableText(*unacknowledged)) {
      model = *unacknowledged;
    }
    REQUIRE(found == TableText(model));
    REQUIRE(rig.store->valid_copies() == f.copies());
    unacknowledged.reset();

    // Distinct slots; main sector 1024 + slot keeps main sectors unique.
    std::map<uint64_t, SlotEntry> picked;
    for (int i = 1 + rng() % 3; i > 0; --i) {
      const uint64_t slot = rng() % rig.store->slot_count();
      picked[slot] = rng() % 4 == 0 ? SlotEntry{} : Used(1024 + slot, rng() % 5 == 0);
    }
    std::vector<SlotChange> changes;
    for (const auto& [slot, e] : picked) changes.push_back({slot, e});
    rig.dev->ArmCrash(rng() % 14, (rng() % 3) * kSector / 2 + rng() % 2);
    const Status st = rig.store->Commit(changes);
    if (st.ok()) {
      model = Apply(model, changes);
    } else {
      unacknowledged = Apply(model, changes);
    }
    rig.dev->DisarmCrash();
    rig.Reopen();
  }
}

TEST_CASE("A commit whose write fails on one copy succeeds on the others, "
          "and the next one makes every copy agree", "[metadata]") {
  Fixture f;
  CrashRig rig(f.mem);
  f.store.reset();
  const size_t n = f.copies();
  const uint64_t header = f.g.placement.copy_starts[2];
  rig.dev->AddFault(header, header, FaultMode::kWrite);
  const std::vector<SlotChange> first = {{300, Used(1300)}};
  REQUIRE_OK(rig.store->Commit(first));
  CHECK(rig.store->healthy());
  CHECK(rig.store->valid_copies() == n - 1);
  CHECK(rig.store->copy_reports()[2].state == CopyState::kCorrupt);
  const std::string after_first = TableText(Apply(f.table, first));
  CHECK(TableText(*rig.store) == after_first);
  rig.Reopen();  // the fault stays: copy 2 cannot be repaired yet
  CHECK(TableText(*rig.store) == after_first);

  rig.dev->ClearAllFaults();
  const std::vector<SlotChange> next = {{0, SlotEntry{}}};
  REQUIRE_OK(rig.store->Commit(next));
  CHECK(rig.store->valid_copies() == n);
  const std::string expected = TableText(Apply(Apply(f.table, first), next));
  CHECK(TableText(*rig.store) == expected);
  RequireAllValidWithoutRepair(rig.mem.get());
  rig.Reopen();
  CHECK(TableText(*rig.store) == expected);
}

}  // namespace
}  // namespace remapfs::testing
