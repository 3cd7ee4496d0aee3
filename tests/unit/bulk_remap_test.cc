// AddBad and Remove copy sector data in large extents (volume_control.cc):
// a contiguous range is a few device calls per 1 MiB batch, not two per
// sector; a sector MAIN cannot give back inside such an extent still
// becomes pending on its own; the bytes land where they belong.
#include <algorithm>
#include <cerrno>

#include "remapfs/faulty_device.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSs = 512;
constexpr uint64_t kBatchSectors = (1 << 20) / kSs;

MemVolumeOptions FourMiB() {
  MemVolumeOptions o;
  o.main_bytes = 4 << 20;
  o.spare_bytes = 4 << 20;
  return o;
}

// MAIN's original bytes of sectors [first, first+count), read behind the
// Volume's back.
std::vector<uint8_t> MainBytes(MemVolume& mv, uint64_t first, uint64_t count) {
  return ReadRange(mv.main_mem(), first * kSs, count * kSs);
}

TEST_CASE("AddBad copies a contiguous range with one MAIN read per 1 MiB batch", "[bulk_remap]") {
  MemVolume mv(FourMiB());
  const uint64_t first = 100, count = 2 * kBatchSectors + 904;  // three batches
  const std::vector<uint8_t> before = MainBytes(mv, first, count);
  mv.main_count()->Reset();
  mv.spare_count()->Reset();
  REQUIRE_OK(mv->AddBad(SectorRun(first, count)));
  CHECK(mv.main_count()->reads == 3);
  CHECK(mv.main_count()->writes == 0);
  // The data goes in extents too: a few writes besides the metadata commit
  // (about 330 here: 4 copies of the touched table sectors), where a
  // sector-by-sector copy made one per sector (5000 more).
  CHECK(mv.spare_count()->writes < count / 8);
  CHECK(mv->Stats().remapped == count);
  CHECK(ByteDiff(ReadVolume(mv.vol(), first * kSs, count * kSs), before) == "");
  REQUIRE_OK(mv.Reopen());
  CHECK(ByteDiff(ReadVolume(mv.vol(), first * kSs, count * kSs), before) == "");
}

TEST_CASE("An unreadable sector inside a copied extent alone becomes pending", "[bulk_remap]") {
  MemVolume mv(FourMiB());
  const uint64_t first = 1000, count = 100, bad = 1040;
  const std::vector<uint8_t> before = MainBytes(mv, first, count);
  mv.main_fault()->AddFault(bad, bad + 2, FaultMode::kRead);
  REQUIRE_OK(mv->AddBad(SectorRun(first, count)));
  CHECK(mv->Stats().pending == 3);
  CHECK(mv->Stats().remapped == count - 3);
  mv.main_fault()->ClearAllFaults();  // the spare serves them now, or EIO
  std::vector<uint8_t> sector(kSs);
  for (uint64_t s = bad; s <= bad + 2; ++s)
    CHECK(mv->Read(s * kSs, sector.data(), kSs).errno_value() == EIO);
  const uint64_t head = bad - first, tail_first = bad + 3;
  CHECK(ByteDiff(ReadVolume(mv.vol(), first * kSs, head * kSs),
                 std::vector<uint8_t>(before.begin(), before.begin() + head * kSs)) == "");
  CHECK(ByteDiff(ReadVolume(mv.vol(), tail_first * kSs, (first + count - tail_first) * kSs),
                 std::vector<uint8_t>(before.begin() + (tail_first - first) * kSs, before.end())) ==
        "");
}

TEST_CASE("Scattered sectors are read as one batch; an unreadable one alone becomes pending",
          "[bulk_remap]") {
  // The batch stops at the failed read: the reads after it are redone one
  // run at a time, and the failed sector, alone in its run, is not read again.
  MemVolume mv(FourMiB());
  constexpr uint64_t kCount = 20, kStride = 7, kFirst = 100;
  const uint64_t bad = kFirst + 5 * kStride;
  std::vector<SectorRange> ranges;
  std::vector<std::vector<uint8_t>> before;
  for (uint64_t i = 0; i < kCount; ++i) {
    ranges.push_back({kFirst + i * kStride, kFirst + i * kStride});
    before.push_back(MainBytes(mv, kFirst + i * kStride, 1));
  }
  mv.main_fault()->AddFault(bad, bad, FaultMode::kRead);
  mv.main_count()->Reset();
  REQUIRE_OK(mv->AddBad(ranges));
  CHECK(mv.main_count()->reads == kCount);
  CHECK(mv->Stats().pending == 1);
  CHECK(mv->Stats().remapped == kCount - 1);
  mv.main_fault()->ClearAllFaults();
  for (uint64_t i = 0; i < kCount; ++i) {
    const uint64_t s = kFirst + i * kStride;
    std::vector<uint8_t> sector(kSs);
    if (s == bad) {
      CHECK(mv->Read(s * kSs, sector.data(), kSs).errno_value() == EIO);
      continue;
    }
    CHECK(ByteDiff(ReadVolume(mv.vol(), s * kSs, kSs), before[i]) == "");
  }
}

TEST_CASE("Remove copies a contiguous range back in extents, pending sectors left alone",
          "[bulk_remap]") {
  MemVolume mv(FourMiB());
  const uint64_t first = 3000, count = kBatchSectors + 10, pending = first + 5;
  const std::vector<uint8_t> pending_before = MainBytes(mv, pending, 1);
  mv.main_fault()->AddFault(pending, pending, FaultMode::kRead);
  REQUIRE_OK(mv->AddBad(SectorRun(first, count)));
  REQUIRE(mv->Stats().pending == 1);
  mv.main_fault()->ClearAllFaults();
  // New data through the Volume, onto the spare; the pending sector keeps
  // no data worth copying back.
  const std::vector<uint8_t> data = Pattern(first * kSs, count * kSs, 77);
  REQUIRE_OK(mv->Write(first * kSs, data.data(), (pending - first) * kSs));
  const uint64_t after = (pending + 1 - first) * kSs;
  REQUIRE_OK(mv->Write(first * kSs + after, data.data() + after, data.size() - after));

  mv.main_count()->Reset();
  mv.spare_count()->Reset();
  REQUIRE_OK(mv->Remove(SectorRun(first, count)));
  // Two batches; a reserved extent between the slots may split one more.
  CHECK(mv.spare_count()->reads <= 6);
  CHECK(mv.main_count()->writes <= 6);
  CHECK(mv->Stats().remapped == 0);
  CHECK(mv->Stats().pending == 0);
  std::vector<uint8_t> expected = data;
  std::copy(pending_before.begin(), pending_before.end(),
            expected.begin() + (pending - first) * kSs);
  CHECK(ByteDiff(MainBytes(mv, first, count), expected) == "");
}

}  // namespace
}  // namespace remapfs::testing
