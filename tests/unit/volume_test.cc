// Volume: byte-range I/O over MAIN and the spare, AddBad/Remove, pending
// sectors, the failing-disk paths and Sync's writeback errors, checked
// against the raw memory.
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

std::vector<uint8_t> Fill(size_t len, uint8_t byte) { return std::vector<uint8_t>(len, byte); }

uint64_t SpareSectorOf(Volume& v, uint64_t main_sector) {
  for (const RemapEntry& r : v.Remaps()) {
    if (r.main_sector == main_sector) return r.spare_sector;
  }
  FAIL("main sector " << main_sector << " is not remapped");
  return 0;
}

void CheckStatsConsistent(Volume& v) {
  const VolumeStats st = v.Stats();
  CHECK(st.spare_used + st.spare_free == st.spare_capacity);
  CHECK(st.reserved_sectors + st.spare_capacity == st.spare_sectors);
  CHECK(st.remapped + st.pending == v.Remaps().size());
  CHECK(st.metadata_valid_copies == st.metadata_copies);
}

TEST_CASE("Unaligned writes read back, and land in MAIN when nothing is "
          "remapped",
          "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  std::vector<uint8_t> model = Pattern(0, mv.options().main_bytes, 1);
  const std::vector<uint8_t> data = Pattern(0, 3 * kSector + 77, 3);
  REQUIRE_OK(mv->Write(kSector - 13, data.data(), data.size()));
  std::copy(data.begin(), data.end(), model.begin() + kSector - 13);

  mv.main_count()->Reset();
  mv.spare_count()->Reset();
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, model.size()), model) == "");
  CHECK(mv.main_count()->reads == 1);  // no remap: one device call
  CHECK(mv.spare_count()->reads == 0);
  const std::vector<uint8_t> window = ReadVolume(mv.vol(), 1001, 999);
  CHECK(ByteDiff(window, {model.begin() + 1001, model.begin() + 2000}) == "");
  CHECK(ByteDiff(Snapshot(mv.main_mem()), model) == "");
}

TEST_CASE("A write reaching past the end fails with ENOSPC and writes "
          "nothing",
          "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t size = mv->size_bytes();
  REQUIRE(size == mv.options().main_bytes);
  const std::vector<uint8_t> main = Snapshot(mv.main_mem());
  const std::vector<uint8_t> data = Fill(2 * kSector, 0xAB);
  for (uint64_t offset : {size - 10, size, size + kSector}) {
    INFO("offset " << offset);
    const Status st = mv->Write(offset, data.data(), data.size());
    CHECK(st.IsNoSpace());
    CHECK(st.errno_value() == ENOSPC);
  }
  CHECK(ByteDiff(Snapshot(mv.main_mem()), main) == "");
  CHECK_OK(mv->Write(size - 10, data.data(), 10));  // exactly to the end
}

TEST_CASE("A read reaching past the end fails with EINVAL", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  std::vector<uint8_t> buf(20);
  const Status st = mv->Read(mv->size_bytes() - 10, buf.data(), buf.size());
  CHECK(st.IsInvalidArgument());
  CHECK(st.errno_value() == EINVAL);
  CHECK_OK(mv->Read(mv->size_bytes() - 10, buf.data(), 10));
}

TEST_CASE("AddBad keeps the sector's content and later writes go to the "
          "spare",
          "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t s = 9;
  const std::vector<uint8_t> before = ReadVolume(mv.vol(), 0, 32 * kSector);
  REQUIRE_OK(mv->AddBad(Sectors({s})));
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, 32 * kSector), before) == "");
  const uint64_t spare = SpareSectorOf(mv.vol(), s);
  CHECK(ByteDiff(ReadRange(mv.spare_mem(), spare * kSector, kSector),
                 Pattern(s * kSector, kSector, 1)) == "");

  // Across the remapped sector and into both neighbours.
  const std::vector<uint8_t> data = Fill(kSector + 200, 0xC3);
  const uint64_t at = s * kSector - 100;
  REQUIRE_OK(mv->Write(at, data.data(), data.size()));
  CHECK(ByteDiff(ReadVolume(mv.vol(), at, data.size()), data) == "");
  CHECK(ByteDiff(ReadRange(mv.main_mem(), s * kSector, kSector),
                 Pattern(s * kSector, kSector, 1)) == "");
  CHECK(ByteDiff(ReadRange(mv.main_mem(), at, 100), Fill(100, 0xC3)) == "");
  CHECK(ByteDiff(ReadRange(mv.main_mem(), (s + 1) * kSector, 100), Fill(100, 0xC3)) == "");
  CHECK(ByteDiff(ReadRange(mv.spare_mem(), spare * kSector, kSector), Fill(kSector, 0xC3)) == "");
  CHECK(mv->Stats().remapped == 1);
  CheckStatsConsistent(mv.vol());
}

TEST_CASE("Remove copies the data back to MAIN and frees the slot", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t capacity = mv->Stats().spare_capacity;
  REQUIRE_OK(mv->AddBad(SectorRun(20, 3)));
  const uint64_t lowest = SpareSectorOf(mv.vol(), 20);
  const std::vector<uint8_t> data = Pattern(0, kSector, 7);
  REQUIRE_OK(mv->Write(21 * kSector, data.data(), kSector));
  CHECK(mv->Stats().spare_free == capacity - 3);

  REQUIRE_OK(mv->Remove(SectorRun(21, 1)));
  CHECK(mv->Remaps().size() == 2);
  CHECK(mv->Stats().spare_free == capacity - 2);
  CHECK(ByteDiff(ReadRange(mv.main_mem(), 21 * kSector, kSector), data) == "");
  CHECK(ByteDiff(ReadVolume(mv.vol(), 21 * kSector, kSector), data) == "");
  REQUIRE_OK(mv->Remove(SectorRun(0, 100)));  // unremapped ones skipped
  CHECK(mv->Remaps().empty());
  CHECK(mv->Stats().spare_free == capacity);

  REQUIRE_OK(mv->AddBad(Sectors({21})));  // the lowest slot is reused
  CHECK(mv->Remaps().front().spare_sector == lowest);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 21 * kSector, kSector), data) == "");
  CheckStatsConsistent(mv.vol());
}

TEST_CASE("Marking a remapped sector again changes nothing", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(SectorRun(5, 2)));
  const uint64_t sequence = mv->Stats().metadata_sequence;
  const std::string remaps = Describe(mv->Remaps());
  REQUIRE_OK(mv->AddBad(Sectors({6, 5})));
  CHECK(mv->Stats().metadata_sequence == sequence);
  CHECK(Describe(mv->Remaps()) == remaps);
}

TEST_CASE("Stats stay consistent across remaps and a reopen", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  VolumeStats st = mv->Stats();
  CHECK(st.sector_size == kSector);
  CHECK(st.main_sectors == mv.main_sectors());
  CHECK(st.spare_sectors == mv.spare_sectors());
  CHECK(st.spare_used == 0);
  CHECK(st.last_error == "none");
  REQUIRE_OK(mv->AddBad(SectorRun(100, 10)));
  REQUIRE_OK(mv->Remove(SectorRun(104, 2)));
  st = mv->Stats();
  CHECK(st.spare_used == 8);
  CHECK(st.remapped == 8);
  CheckStatsConsistent(mv.vol());
  REQUIRE_OK(mv.Reopen());
  CHECK(mv->Stats().spare_used == 8);
  CHECK(mv->Stats().metadata_sequence == st.metadata_sequence);
  CheckStatsConsistent(mv.vol());
}

TEST_CASE("A 1 MiB request over three remapped sectors takes at most seven "
          "device calls",
          "[volume]") {
  MemVolumeOptions o;
  o.main_bytes = 2 << 20;
  MemVolume mv(o);
  REQUIRE_OK(mv->AddBad(Sectors({100, 1000, 1800})));
  std::vector<uint8_t> model = Pattern(0, 1 << 20, 1);
  for (uint64_t s : {100, 1000, 1800}) {
    const std::vector<uint8_t> d = Fill(kSector, static_cast<uint8_t>(s));
    REQUIRE_OK(mv->Write(s * kSector, d.data(), kSector));
    std::copy(d.begin(), d.end(), model.begin() + s * kSector);
  }
  mv.main_count()->Reset();
  mv.spare_count()->Reset();
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, 1 << 20), model) == "");
  CHECK(mv.main_count()->reads + mv.spare_count()->reads <= 7);

  const std::vector<uint8_t> data = Pattern(0, 1 << 20, 5);
  REQUIRE_OK(mv->Write(0, data.data(), data.size()));
  CHECK(mv.main_count()->writes + mv.spare_count()->writes <= 7);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 0, 1 << 20), data) == "");
}

TEST_CASE("Sync flushes both devices", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->Sync());
  CHECK(mv.main_count()->flushes >= 1);
  CHECK(mv.spare_count()->flushes >= 1);
}

TEST_CASE("A sector whose MAIN copy cannot be read becomes pending until a "
          "full write",
          "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t s = 40;
  mv.main_fault()->AddFault(s, s, FaultMode::kRead);
  REQUIRE_OK(mv->AddBad(Sectors({s})));
  std::vector<uint8_t> buf(3 * kSector);

  auto require_pending = [&] {
    const Status st = mv->Read(s * kSector, buf.data(), kSector);
    CHECK(st.IsIoError());
    CHECK(st.errno_value() == EIO);
    CHECK(mv->Read((s - 1) * kSector + 5, buf.data(), buf.size()).errno_value() == EIO);
    CHECK_OK(mv->Read((s + 1) * kSector, buf.data(), kSector));
    CHECK(mv->Stats().pending == 1);
    CHECK(mv->Stats().remapped == 0);
    const std::vector<RemapEntry> r = mv->Remaps();
    REQUIRE(r.size() == 1);
    CHECK(r[0].main_sector == s);
    CHECK(r[0].pending);
  };
  require_pending();
  REQUIRE_OK(mv.Reopen());  // persisted; the injected fault is gone
  require_pending();

  const std::vector<uint8_t> data = Fill(kSector, 0x5E);
  const Status partial = mv->Write(s * kSector + 1, data.data(), kSector - 1);
  CHECK(partial.errno_value() == EIO);
  require_pending();

  REQUIRE_OK(mv->Write(s * kSector, data.data(), kSector));
  CHECK(mv->Stats().pending == 0);
  CHECK(ByteDiff(ReadVolume(mv.vol(), s * kSector, kSector), data) == "");
  REQUIRE(mv->Remaps().size() == 1);
  CHECK_FALSE(mv->Remaps()[0].pending);
  REQUIRE_OK(mv.Reopen());
  CHECK(mv->Stats().pending == 0);
  CHECK(ByteDiff(ReadVolume(mv.vol(), s * kSector, kSector), data) == "");
  CheckStatsConsistent(mv.vol());
}

TEST_CASE("A write that fails on MAIN is remapped and succeeds", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t s = 77;
  mv.main_fault()->AddFault(s, s, FaultMode::kWrite);
  const std::vector<uint8_t> data = Fill(3 * kSector, 0x61);
  REQUIRE_OK(mv->Write((s - 1) * kSector, data.data(), data.size()));

  CHECK(ByteDiff(ReadVolume(mv.vol(), (s - 1) * kSector, data.size()), data) == "");
  const std::vector<RemapEntry> r = mv->Remaps();
  REQUIRE(r.size() == 1);
  CHECK(r[0].main_sector == s);
  CHECK_FALSE(r[0].pending);
  const VolumeStats st = mv->Stats();
  CHECK(st.auto_remaps == 1);
  CHECK(st.write_errors >= 1);
  CHECK(ByteDiff(ReadRange(mv.main_mem(), s * kSector, kSector),
                 Pattern(s * kSector, kSector, 1)) == "");
  REQUIRE_OK(mv.Reopen());
  CHECK(ByteDiff(ReadVolume(mv.vol(), (s - 1) * kSector, data.size()), data) == "");
}

TEST_CASE("A write that fails on MAIN with the spare exhausted fails with EIO", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(SectorRun(0, mv->Stats().spare_capacity)));
  const uint64_t s = mv.main_sectors() - 1;
  mv.main_fault()->AddFault(s, s, FaultMode::kWrite);
  const std::vector<uint8_t> data = Fill(kSector, 0x62);
  const Status st = mv->Write(s * kSector, data.data(), kSector);
  CHECK(st.errno_value() == EIO);
  CHECK(mv->Stats().write_errors >= 1);
  CHECK(mv->Stats().last_error != "none");
}

TEST_CASE("A read that fails on MAIN fails with EIO and leaves the sector "
          "pending",
          "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t s = 300;
  mv.main_fault()->AddFault(s, s, FaultMode::kRead);
  std::vector<uint8_t> buf(4 * kSector);
  const Status st = mv->Read((s - 2) * kSector, buf.data(), buf.size());
  CHECK(st.errno_value() == EIO);
  CHECK(mv->Stats().read_errors >= 1);
  mv.main_fault()->ClearAllFaults();
  CHECK(mv->Stats().pending == 1);
  CHECK(mv->Read(s * kSector, buf.data(), kSector).errno_value() == EIO);
  CHECK_OK(mv->Read((s - 2) * kSector, buf.data(), 2 * kSector));
  REQUIRE_OK(mv.Reopen());
  CHECK(mv->Stats().pending == 1);
}

TEST_CASE("An AddBad whose commit fails on one copy is committed on the others", "[volume]") {
  MemVolume mv(MemVolumeOptions{});
  const size_t copies = mv->geometry().placement.copy_starts.size();
  const uint64_t copy1 = mv->geometry().placement.copy_starts.at(1);
  mv.spare_fault()->AddFault(copy1, copy1, FaultMode::kWrite);
  REQUIRE_OK(mv->AddBad(Sectors({12})));
  CHECK(mv->Stats().metadata_valid_copies == copies - 1);
  const std::vector<uint8_t> data = Fill(kSector, 0x33);
  REQUIRE_OK(mv->Write(12 * kSector, data.data(), kSector));
  REQUIRE_OK(mv->Sync());
  REQUIRE_OK(mv.Reopen());
  REQUIRE(mv->Remaps().size() == 1);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 12 * kSector, kSector), data) == "");
  CHECK(mv->Stats().metadata_valid_copies == copies);
  CheckStatsConsistent(mv.vol());
}

TEST_CASE("NewMemoryVolume formats and opens, and refuses odd sizes", "[volume]") {
  std::unique_ptr<Volume> v;
  REQUIRE_OK(NewMemoryVolume(1 << 20, 64 << 10, &v));
  CHECK(v->size_bytes() == (1u << 20));
  CHECK(v->Stats().strategy == Strategy::kMinimal);
  CHECK(NewMemoryVolume(1000, 64 << 10, &v).IsInvalidArgument());
  CHECK(NewMemoryVolume(1 << 20, 16 << 10, &v).IsInvalidArgument());  // under 72 sectors
}

// A writeback error (a failed Flush) surfaces at Sync, counted and named.
TEST_CASE("givenMainFlushFails_whenSynced_thenEioIsReturnedAndRecorded", "[volume]") {
  MemVolume mv({});
  const uint64_t errors_before = mv->Stats().write_errors;
  const auto data = Pattern(0, 4096, 11);
  REQUIRE_OK(mv->Write(0, data.data(), data.size()));
  mv.main_fault()->FailNextFlush();
  Status st = mv->Sync();
  REQUIRE(st.IsIoError());
  REQUIRE(st.errno_value() == EIO);
  VolumeStats stats = mv->Stats();
  REQUIRE(stats.write_errors == errors_before + 1);
  REQUIRE(stats.last_error.find("flush main") != std::string::npos);
  REQUIRE(stats.last_error.find("injected writeback error") != std::string::npos);
  // fdatasync reports a writeback error once; the next Sync is clean.
  REQUIRE_OK(mv->Sync());
  REQUIRE(mv->Stats().write_errors == errors_before + 1);
}

TEST_CASE("givenSpareFlushFails_whenSynced_thenEioIsReturnedAndRecorded", "[volume]") {
  MemVolume mv({});
  mv.spare_fault()->FailNextFlush();
  Status st = mv->Sync();
  REQUIRE(st.errno_value() == EIO);
  REQUIRE(mv->Stats().write_errors == 1);
  REQUIRE(mv->Stats().last_error.find("flush spare") != std::string::npos);
}

}  // namespace
}  // namespace remapfs::testing
