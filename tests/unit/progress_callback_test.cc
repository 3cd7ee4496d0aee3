// The core's ProgressFn contract (remapfs/progress.h) for each long job:
// zeroing and allocating a spare file, reading the metadata copies, and
// resize-spare's phases. Each: at least one call, `done` never decreases,
// `total` fixed, the last call at done == total; an empty callback is
// fine (never called, nothing else changes).
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "remapfs/metadata.h"
#include "remapfs/spare_file.h"
#include "remapfs/spare_resize.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

struct Calls {
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // (done, total)
  ProgressFn Fn() {
    return [this](uint64_t done, uint64_t total) { seen.emplace_back(done, total); };
  }
};

// The contract, for one job of `total` units.
void CheckContract(const Calls& calls, uint64_t total) {
  REQUIRE_FALSE(calls.seen.empty());
  for (size_t i = 0; i < calls.seen.size(); ++i) {
    INFO("call " << i << ": " << calls.seen[i].first << "/" << calls.seen[i].second);
    CHECK(calls.seen[i].second == total);
    CHECK(calls.seen[i].first <= total);
    if (i > 0) CHECK(calls.seen[i].first >= calls.seen[i - 1].first);
  }
  CHECK(calls.seen.back().first == total);
}

void WriteJunk(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  for (uint64_t off = 0; off < size; off += 1 << 20) REQUIRE(::pwrite(fd, "junk", 4, off) == 4);
  ::close(fd);
}

TEST_CASE("givenSpareFile_whenAllocatedAndZeroed_thenBytesReportedToTheEnd", "[progress]") {
  ScratchDir dir;
  const std::string path = dir.File("spare");
  const uint64_t size = 200ull << 20;  // four 64 MiB chunks, or 200 writes of zeros
  WriteJunk(path, 1 << 20);
  Calls allocated, zeroed;
  std::string how;
  REQUIRE_OK(AllocateSpareFile(path, size, &how, allocated.Fn()));
  CheckContract(allocated, size);
  CHECK(allocated.seen.size() >= 2);  // the start and the end at least
  REQUIRE_OK(ZeroSpareFile(path, zeroed.Fn()));
  CheckContract(zeroed, size);
  CHECK(zeroed.seen.size() >= 2);
}

TEST_CASE("givenNoCallback_whenZeroed_thenSameResult", "[progress]") {
  ScratchDir dir;
  const std::string path = dir.File("spare");
  WriteJunk(path, 4 << 20);
  REQUIRE_OK(ZeroSpareFile(path));
  REQUIRE_OK(ZeroSpareFile(path, ProgressFn{}));
  std::unique_ptr<BlockDevice> dev = OpenFileDeviceOrFail(path);
  CHECK(ReadRange(dev.get(), 0, 4 << 20) == std::vector<uint8_t>(4 << 20, 0));
}

TEST_CASE("givenLargeTable_whenOpened_thenTableSectorsReportedWindowByWindow", "[progress]") {
  // 160 MiB of 512-byte sectors: a table of some 5000 sectors, read in
  // windows of 1 MiB (2048 sectors).
  const uint64_t spare_bytes = 160 << 20;
  auto spare = NewMemoryDevice(spare_bytes);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(512, 1 << 30, spare_bytes), &md));
  Calls calls;
  MetadataOpenOptions options;
  options.progress = calls.Fn();
  REQUIRE_OK(MetadataStore::Open(spare.get(), options, &md));
  const uint64_t slots = md->geometry().spare_capacity();
  const uint64_t table = (slots + format::SlotsPerTableSector(512) - 1) /
                         format::SlotsPerTableSector(512);
  CheckContract(calls, table);
  CHECK(calls.seen.size() == 1 + (table + 2047) / 2048);  // 0, then one per window
  CHECK(calls.seen.size() >= 3);
  MetadataOpenOptions quiet;  // no callback: opens the same
  std::unique_ptr<MetadataStore> again;
  REQUIRE_OK(MetadataStore::Open(spare.get(), quiet, &again));
  CHECK(TableText(*again) == TableText(*md));
}

TEST_CASE("givenGeometry_whenFormatted_thenCopiesReportedOneByOne", "[progress]") {
  auto spare = NewMemoryDevice(4 << 20);
  const Geometry g = MakeGeometry(512, 1 << 20, 4 << 20);
  Calls calls;
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(MetadataStore::Format(spare.get(), g, MainBinding{}, false, &md, calls.Fn()));
  const uint64_t copies = g.placement.copy_starts.size();
  CheckContract(calls, copies);
  CHECK(calls.seen.size() == copies + 1);
}

// A 512 KiB linear spare with every slot used, in a device of 4 MiB: its
// growth to geometric moves over a hundred sectors (several reports).
std::shared_ptr<BlockDevice> FullSpareBeforeGrow() {
  std::shared_ptr<BlockDevice> start = NewMemoryDevice(4 << 20);
  auto formatted = NewMemoryDevice(512 << 10);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(MetadataStore::Format(formatted.get(), MakeGeometry(512, 1 << 20, 512 << 10), &md));
  std::vector<SlotChange> changes;
  for (uint64_t i = 0; i < md->geometry().spare_capacity(); ++i)
    changes.push_back({i, SlotEntry{true, false, i}});
  REQUIRE_OK(md->Commit(changes));
  const std::vector<uint8_t> head = Snapshot(formatted.get());
  REQUIRE_OK(start->Write(0, head.data(), head.size()));
  return start;
}

TEST_CASE("givenResizeWithMoves_whenRun_thenEachPhaseMonotonicToItsTotal", "[progress]") {
  const uint64_t new_sectors = 8192;
  std::shared_ptr<BlockDevice> spare = FullSpareBeforeGrow();
  ResizeResult plan;
  REQUIRE_OK(PlanSpareResize(spare.get(), new_sectors, &plan));
  const uint64_t moves = plan.moved_within_old + plan.moved_to_new_space;
  REQUIRE(moves > 64);
  std::map<std::string, Calls> phases;
  std::vector<std::string> order;
  ResizeResult done;
  REQUIRE_OK(ResizeSpare(
      spare.get(), new_sectors,
      [&](const std::string& phase, uint64_t n, uint64_t total) {
        if (order.empty() || order.back() != phase) order.push_back(phase);
        phases[phase].seen.emplace_back(n, total);
      },
      &done));
  CHECK(order == std::vector<std::string>{"moving remapped data", "writing metadata copies"});
  CheckContract(phases["moving remapped data"], moves);
  CheckContract(phases["writing metadata copies"], done.new_geometry.placement.copy_starts.size());
  // 0, every 64 moves of each step and its end (step 1 only when it has
  // moves), the end.
  const uint64_t within = plan.moved_within_old, to_new = plan.moved_to_new_space;
  CHECK(phases["moving remapped data"].seen.size() ==
        1 + (within ? within / 64 + 1 : 0) + to_new / 64 + 1 + 1);
  CHECK(to_new + within >= 64);
}

TEST_CASE("givenNoCallback_whenResized_thenItWorks", "[progress]") {
  std::shared_ptr<BlockDevice> spare = SpareWithRemapsBeforeGrow(512 << 10, 2048);
  ResizeResult done;
  REQUIRE_OK(ResizeSpare(spare.get(), 2048, ResizeProgress{}, &done));
  CHECK(done.remaps == 300);
}

}  // namespace
}  // namespace remapfs::testing
