// MetadataStore commits: what one costs in writes, and what a crash at any
// of its writes, a run of crashes, or a copy whose write fails leaves: the
// old table or the new, never less than what was acknowledged.
#include <map>
#include <optional>
#include <random>

#include "metadata_fixture.h"
#include "remapfs/format.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

TEST_CASE("A one-slot commit writes at most two sectors per copy, whatever "
          "the table size",
          "[metadata_commit]") {
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

  explicit CrashRig(const std::vector<uint8_t>& image) : mem(NewMemoryDevice(image.size())) {
    REQUIRE_OK(mem->Write(0, image.data(), image.size()));
    Reopen();
  }
  explicit CrashRig(std::shared_ptr<BlockDevice> m) : mem(std::move(m)) { Reopen(); }
  // A fresh store over the same bytes: the disk after a reboot.
  void Reopen() {
    store.reset();
    owner = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(mem), kSector);
    dev = owner.get();
    REQUIRE_OK(OpenStore(dev, &store));
  }
};

TEST_CASE("A crash at any write of a commit leaves exactly the old or the "
          "new table",
          "[metadata_commit]") {
  MetadataFixture f;
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

  // Tears inside the first sector of a write, and inside the second of a
  // multi-sector one (a commit writes consecutive table sectors at once).
  const size_t torn = GENERATE(size_t{0}, size_t{1}, size_t{kSector / 2}, size_t{kSector * 3 / 2});
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

TEST_CASE("Every acknowledged commit survives a run of crashes", "[metadata_commit]") {
  MetadataFixture f;
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
          "and the next one makes every copy agree",
          "[metadata_commit]") {
  MetadataFixture f;
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
