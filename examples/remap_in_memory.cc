// remap_in_memory: the remap core on two in-memory devices, no FUSE, no files.
//
// Formats a spare, opens a Volume over a main and that spare, writes a
// pattern, marks some of the sectors under it bad (they move to the spare,
// data and all), reads the pattern back and prints the status and remap
// table a mount would show in control/status and control/remaps.
//
// Build: ninja -C build examples/remap_in_memory; run: build/examples/remap_in_memory
// Exits 0 when the data read back equals the data written, 1 otherwise.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/metadata.h"
#include "remapfs/placement.h"
#include "remapfs/volume.h"

namespace {

constexpr uint32_t kSectorSize = 512;
constexpr uint64_t kMainBytes = 4 << 20;     // 8192 sectors
constexpr uint64_t kSpareBytes = 512 << 10;  // 1024 sectors: strategy linear

bool Check(const remapfs::Status& s, const char* what) {
  if (!s.ok()) std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  return s.ok();
}

// Writes fresh metadata to `spare`, as `remapfs format` does to a file.
bool FormatSpare(remapfs::BlockDevice* spare) {
  remapfs::Geometry geometry;
  geometry.sector_size = kSectorSize;
  geometry.main_sectors = kMainBytes / kSectorSize;
  geometry.spare_sectors = kSpareBytes / kSectorSize;
  if (!Check(remapfs::ComputePlacement(kSectorSize, geometry.spare_sectors,
                                       remapfs::Strategy::kAuto, &geometry.placement),
             "placement")) {
    return false;
  }
  std::unique_ptr<remapfs::MetadataStore> store;  // only needed to format
  return Check(remapfs::MetadataStore::Format(spare, geometry, &store), "format");
}

}  // namespace

int main() {
  auto main_dev = remapfs::NewMemoryDevice(kMainBytes);
  auto spare_dev = remapfs::NewMemoryDevice(kSpareBytes);
  if (!FormatSpare(spare_dev.get())) return 1;

  std::unique_ptr<remapfs::Volume> volume;
  if (!Check(remapfs::Volume::Open(std::move(main_dev), std::move(spare_dev), &volume), "open")) {
    return 1;
  }

  // 16 sectors from sector 96, in a pattern that differs sector to sector.
  std::vector<uint8_t> data(16 * kSectorSize);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  const uint64_t offset = 96 * kSectorSize;
  if (!Check(volume->Write(offset, data.data(), data.size()), "write")) return 1;

  // Sectors 100-107 go bad: their data moves to the spare, durably.
  if (!Check(volume->AddBad({{100, 107}}), "add_bad")) return 1;

  std::vector<uint8_t> back(data.size());
  if (!Check(volume->Read(offset, back.data(), back.size()), "read")) return 1;

  std::printf("--- status\n%s", remapfs::FormatStatus(volume->Stats()).c_str());
  std::printf("--- remaps\n%s", remapfs::FormatRemaps(volume->Remaps()).c_str());
  std::printf("--- reservations\n%s", remapfs::FormatReservations(volume->Reservations()).c_str());
  const bool same = back == data;
  std::printf("%s: data read back %s the data written\n", same ? "PASS" : "FAIL",
              same ? "equals" : "DIFFERS FROM");
  return same ? 0 : 1;
}
