// Scrub: flaky (weak) sectors in FaultyDevice, Volume::ScrubRange's
// bisection and its pending/remapped outcomes, and the Scrubber thread's
// progress, states and stop. Nothing here asserts on time.
#include <algorithm>

#include "remapfs/scrubber.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

std::vector<uint64_t> MainSectors(const std::vector<RemapEntry>& remaps, bool pending) {
  std::vector<uint64_t> out;
  for (const RemapEntry& r : remaps) {
    if (r.pending == pending) out.push_back(r.main_sector);
  }
  return out;
}

void InjectReadFaults(FaultyDevice* dev, const std::vector<uint64_t>& sectors) {
  for (uint64_t s : sectors) dev->AddFault(s, s, FaultMode::kRead);
}

Status ReadSector(Volume& v, uint64_t sector) {
  std::vector<uint8_t> buf(kSector);
  return v.Read(sector * kSector, buf.data(), kSector);
}

// A Volume over memory that retries a failed MAIN read `retries` times, so
// a sector failing fewer reads than that (and more than a bisection makes)
// is weak wherever it sits in a chunk.
struct RetryingVolume {
  explicit RetryingVolume(uint32_t retries) {
    main_mem = NewMemoryDevice(1 << 20);
    auto spare_mem = NewMemoryDevice(64 << 10);
    FillPattern(main_mem.get(), 1);
    std::unique_ptr<MetadataStore> store;
    REQUIRE_OK(
        MetadataStore::Format(spare_mem.get(), MakeGeometry(kSector, 1 << 20, 64 << 10), &store));
    store.reset();
    auto faulty = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(main_mem), kSector);
    main_fault = faulty.get();
    VolumeOptions options;
    options.read_retries = retries;
    REQUIRE_OK(Volume::Open(std::move(faulty), std::move(spare_mem), options, &volume));
  }
  std::shared_ptr<BlockDevice> main_mem;
  FaultyDevice* main_fault = nullptr;
  std::unique_ptr<Volume> volume;
};

// --- FaultyDevice flaky reads ---

TEST_CASE("A flaky sector fails its next N reads, counted per sector, then "
          "reads its data",
          "[scrub]") {
  FaultyDevice dev(NewMemoryDevice(64 * kSector), kSector);
  FillPattern(&dev, 3);
  dev.AddFlakyRead(10, 12, 2);
  std::vector<uint8_t> buf(3 * kSector);
  CHECK(dev.Read(11 * kSector, buf.data(), kSector).errno_value() == EIO);
  CHECK(dev.Read(10 * kSector, buf.data(), 3 * kSector).errno_value() == EIO);
  // Sector 11 has failed twice, 10 and 12 once each.
  const std::vector<Fault> left = dev.Faults();
  REQUIRE(left.size() == 2);
  CHECK((left[0].first == 10 && left[0].last == 10 && left[1].first == 12));
  CHECK(left[0].mode == FaultMode::kFlakyRead);
  CHECK(left[0].failures_left == 1);
  CHECK_OK(dev.Read(11 * kSector, buf.data(), kSector));
  CHECK(ByteDiff(std::vector<uint8_t>(buf.begin(), buf.begin() + kSector),
                 Pattern(11 * kSector, kSector, 3)) == "");
  CHECK(dev.Read(12 * kSector, buf.data(), kSector).errno_value() == EIO);
  CHECK(dev.Read(10 * kSector, buf.data(), kSector).errno_value() == EIO);
  CHECK(dev.Faults().empty());
  CHECK_OK(dev.Read(10 * kSector, buf.data(), 3 * kSector));
}

TEST_CASE("Flaky sectors leave writes alone and are replaced or cleared like "
          "other faults",
          "[scrub]") {
  FaultyDevice dev(NewMemoryDevice(64 * kSector), kSector);
  std::vector<uint8_t> buf(kSector, 0x4D);
  dev.AddFlakyRead(5, 9, 3);
  CHECK_OK(dev.Write(5 * kSector, buf.data(), kSector));
  dev.AddFault(7, 7, FaultMode::kWrite);
  std::vector<Fault> faults = dev.Faults();
  REQUIRE(faults.size() == 3);
  CHECK((faults[0].first == 5 && faults[0].last == 6 && faults[0].failures_left == 3));
  CHECK((faults[1].first == 7 && faults[1].mode == FaultMode::kWrite));
  CHECK((faults[2].first == 8 && faults[2].last == 9 && faults[2].mode == FaultMode::kFlakyRead));
  CHECK_OK(dev.Read(7 * kSector, buf.data(), kSector));
  dev.ClearFaults(0, 6);
  CHECK_OK(dev.Read(5 * kSector, buf.data(), kSector));
  dev.ClearAllFaults();
  CHECK(dev.Faults().empty());
  CHECK_OK(dev.Read(8 * kSector, buf.data(), kSector));
}

// --- Volume::ScrubRange ---

TEST_CASE("ScrubRange over a healthy range finds nothing and commits nothing", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  mv.main_fault()->AddFault(100, 100, FaultMode::kWrite);  // reads still work
  const uint64_t sequence = mv->Stats().metadata_sequence;
  Volume::ScrubFindings found;
  REQUIRE_OK(mv->ScrubRange(0, mv.main_sectors(), &found));
  CHECK(found.pending == 0);
  CHECK(found.remapped == 0);
  CHECK(mv->Remaps().empty());
  CHECK(mv->Stats().metadata_sequence == sequence);
}

TEST_CASE("ScrubRange bisects a failing range down to every injected read "
          "fault and makes exactly those pending",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  const std::vector<uint64_t> bad = {0, 1, 513, 1000, 1001, 1002, 1003, 2047};
  InjectReadFaults(mv.main_fault(), bad);
  mv.main_fault()->AddFault(2048, 2048, FaultMode::kRead);  // outside the range
  Volume::ScrubFindings found;
  REQUIRE_OK(mv->ScrubRange(0, 2048, &found));
  CHECK(found.pending == bad.size());
  CHECK(found.remapped == 0);
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == bad);
  CHECK(MainSectors(mv->Remaps(), /*pending=*/false).empty());
  CHECK(mv->Stats().pending == bad.size());

  mv.main_fault()->ClearAllFaults();  // a pending sector stays EIO regardless
  for (uint64_t s : bad) CHECK(ReadSector(mv.vol(), s).errno_value() == EIO);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 2 * kSector, 511 * kSector),
                 Pattern(2 * kSector, 511 * kSector, 1)) == "");
  REQUIRE_OK(mv.Reopen());
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == bad);
}

TEST_CASE("ScrubRange remaps a sector that reads only after a retry, with its "
          "data",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t s = 321;
  // One chunk read and one bisection read fail; the first retry reads.
  mv.main_fault()->AddFlakyRead(s, s, 2);
  Volume::ScrubFindings found;
  REQUIRE_OK(mv->ScrubRange(s, 1, &found));
  CHECK(found.remapped == 1);
  CHECK(found.pending == 0);
  REQUIRE(MainSectors(mv->Remaps(), /*pending=*/false) == std::vector<uint64_t>{s});
  // The data now lives on the spare: wiping MAIN's copy changes nothing.
  const std::vector<uint8_t> zeros(kSector, 0);
  REQUIRE_OK(mv.main_mem()->Write(s * kSector, zeros.data(), kSector));
  CHECK(ByteDiff(ReadVolume(mv.vol(), s * kSector, kSector), Pattern(s * kSector, kSector, 1)) ==
        "");
  REQUIRE_OK(mv.Reopen());
  CHECK(ByteDiff(ReadVolume(mv.vol(), s * kSector, kSector), Pattern(s * kSector, kSector, 1)) ==
        "");
}

TEST_CASE("In one chunk, weak sectors are remapped with their data and dead "
          "ones become pending",
          "[scrub]") {
  RetryingVolume rv(/*retries=*/64);
  const std::vector<uint64_t> weak = {3, 700, 1500};
  const std::vector<uint64_t> dead = {4, 1999};
  for (uint64_t s : weak) rv.main_fault->AddFlakyRead(s, s, 40);
  InjectReadFaults(rv.main_fault, dead);
  Volume::ScrubFindings found;
  REQUIRE_OK(rv.volume->ScrubRange(0, 2048, &found));
  CHECK(found.remapped == weak.size());
  CHECK(found.pending == dead.size());
  CHECK(MainSectors(rv.volume->Remaps(), /*pending=*/false) == weak);
  CHECK(MainSectors(rv.volume->Remaps(), /*pending=*/true) == dead);
  rv.main_fault->ClearAllFaults();
  for (uint64_t s : weak) {
    CHECK(ByteDiff(ReadVolume(*rv.volume, s * kSector, kSector),
                   Pattern(s * kSector, kSector, 1)) == "");
  }
}

TEST_CASE("ScrubRange skips sectors that are already remapped", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  const std::vector<uint8_t> data(kSector, 0x7A);
  REQUIRE_OK(mv->AddBad(Sectors({50})));
  REQUIRE_OK(mv->Write(50 * kSector, data.data(), kSector));
  const std::vector<RemapEntry> before = mv->Remaps();
  const uint64_t sequence = mv->Stats().metadata_sequence;
  mv.main_fault()->AddFault(50, 50, FaultMode::kRead);
  Volume::ScrubFindings found;
  REQUIRE_OK(mv->ScrubRange(0, 128, &found));
  CHECK(found.pending + found.remapped == 0);
  CHECK(Describe(mv->Remaps()) == Describe(before));
  CHECK(mv->Stats().metadata_sequence == sequence);
  CHECK(ByteDiff(ReadVolume(mv.vol(), 50 * kSector, kSector), data) == "");
}

TEST_CASE("ScrubRange with the spare running out commits what fits and "
          "returns NoSpace",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  const uint64_t capacity = mv->Stats().spare_capacity;
  REQUIRE_OK(mv->AddBad(SectorRun(1000, capacity - 2)));
  InjectReadFaults(mv.main_fault(), {10, 20, 30, 40});
  Volume::ScrubFindings found;
  const Status st = mv->ScrubRange(0, 64, &found);
  CHECK(st.IsNoSpace());
  CHECK(found.pending == 2);
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == std::vector<uint64_t>{10, 20});
  CHECK(mv->Stats().spare_free == 0);
  REQUIRE_OK(mv.Reopen());
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == std::vector<uint64_t>{10, 20});
}

TEST_CASE("ScrubRange refuses a range outside MAIN", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  Volume::ScrubFindings found;
  CHECK(mv->ScrubRange(0, 0, &found).IsInvalidArgument());
  CHECK(mv->ScrubRange(mv.main_sectors(), 1, &found).IsInvalidArgument());
  CHECK(mv->ScrubRange(mv.main_sectors() - 1, 2, &found).IsInvalidArgument());
}

// --- Scrubber ---

ScrubOptions Unlimited(uint64_t chunk_sectors) {
  return ScrubOptions{chunk_sectors, /*bytes_per_second=*/0};
}

// One sector a second: a scan that cannot end while a test looks at it.
ScrubOptions Crawling() { return ScrubOptions{1, kSector}; }

TEST_CASE("A whole-volume scrub reaches its total and counts every fault", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  const std::vector<uint64_t> bad = {63, 64, 500, mv.main_sectors() - 1};
  InjectReadFaults(mv.main_fault(), bad);
  Scrubber scrubber(&mv.vol(), Unlimited(64));
  CHECK(scrubber.Progress().state == ScrubState::kIdle);
  REQUIRE_OK(scrubber.StartWholeVolume());
  scrubber.Wait();
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kDone);
  CHECK(p.total == mv.main_sectors());
  CHECK(p.done == p.total);
  CHECK(p.found == bad.size());
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == bad);
}

TEST_CASE("A scrub of several ranges scans exactly those, clipping the last "
          "chunk",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  InjectReadFaults(mv.main_fault(), {5, 150, 199, 200, 300});
  Scrubber scrubber(&mv.vol(), Unlimited(64));
  REQUIRE_OK(scrubber.Start({SectorRange{100, 199}, SectorRange{0, 9}}));
  scrubber.Wait();
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kDone);
  CHECK(p.total == 110);
  CHECK(p.done == 110);
  CHECK(p.found == 3);
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == std::vector<uint64_t>{5, 150, 199});
}

TEST_CASE("Stop ends a scan in its rate pause; a running scan refuses a "
          "second start",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  Scrubber scrubber(&mv.vol(), Crawling());
  REQUIRE_OK(scrubber.StartWholeVolume());
  CHECK(scrubber.Progress().state == ScrubState::kRunning);
  const Status again = scrubber.Start({SectorRange{0, 0}});
  CHECK(again.errno_value() == EBUSY);
  scrubber.Stop();
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kStopped);
  CHECK(p.done < p.total);
  scrubber.Stop();  // idempotent
  CHECK(scrubber.Progress().state == ScrubState::kStopped);
}

TEST_CASE("A finished scrub can be started again, with fresh counters", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  Scrubber scrubber(&mv.vol(), Unlimited(8));
  mv.main_fault()->AddFault(3, 3, FaultMode::kRead);
  REQUIRE_OK(scrubber.Start({SectorRange{0, 15}}));
  scrubber.Wait();
  CHECK(scrubber.Progress().found == 1);
  REQUIRE_OK(scrubber.Start({SectorRange{16, 19}}));
  scrubber.Wait();
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kDone);
  CHECK((p.done == 4 && p.total == 4 && p.found == 0));
}

TEST_CASE("Bad scrub ranges are refused and change nothing", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  Scrubber scrubber(&mv.vol(), Unlimited(64));
  const uint64_t n = mv.main_sectors();
  CHECK(scrubber.Start({}).IsInvalidArgument());
  CHECK(scrubber.Start({SectorRange{0, n}}).IsInvalidArgument());
  CHECK(scrubber.Start({SectorRange{0, 1}, SectorRange{n, n}}).IsInvalidArgument());
  CHECK(scrubber.Start({SectorRange{9, 8}}).IsInvalidArgument());
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kIdle);
  CHECK((p.done == 0 && p.total == 0 && p.found == 0));
  scrubber.Stop();
  CHECK(scrubber.Progress().state == ScrubState::kIdle);
}

TEST_CASE("A scrub that exhausts the spare stops and says why in last_error", "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(SectorRun(1000, mv->Stats().spare_capacity - 1)));
  InjectReadFaults(mv.main_fault(), {10, 20, 300});
  Scrubber scrubber(&mv.vol(), Unlimited(64));
  REQUIRE_OK(scrubber.StartWholeVolume());
  scrubber.Wait();
  const ScrubProgress p = scrubber.Progress();
  CHECK(p.state == ScrubState::kStopped);
  CHECK(p.found == 1);
  CHECK(p.done < p.total);
  CHECK(mv->Stats().last_error.find("spare") != std::string::npos);
  CHECK(MainSectors(mv->Remaps(), /*pending=*/true) == std::vector<uint64_t>{10});
}

TEST_CASE("Destroying a Scrubber mid-scan stops it and leaves the volume "
          "usable",
          "[scrub]") {
  MemVolume mv(MemVolumeOptions{});
  auto scrubber = std::make_unique<Scrubber>(&mv.vol(), Crawling());
  REQUIRE_OK(scrubber->StartWholeVolume());
  scrubber.reset();
  const std::vector<uint8_t> data(kSector, 0x21);
  REQUIRE_OK(mv->Write(9 * kSector, data.data(), kSector));
  CHECK(ByteDiff(ReadVolume(mv.vol(), 9 * kSector, kSector), data) == "");
}

TEST_CASE("Scrub states have the SPEC names", "[scrub]") {
  CHECK(ScrubStateName(ScrubState::kIdle) == "idle");
  CHECK(ScrubStateName(ScrubState::kRunning) == "running");
  CHECK(ScrubStateName(ScrubState::kDone) == "done");
  CHECK(ScrubStateName(ScrubState::kStopped) == "stopped");
}

}  // namespace
}  // namespace remapfs::testing
