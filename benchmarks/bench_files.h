// What the file benchmarks share (bench_bulk_remap, bench_remapped_io):
// fail-fast status checks, opening files as devices, a fresh sparse file and
// a spare formatted as `remapfs format` would.
#pragma once

#include <errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "remapfs/volume.h"

namespace remapfs::bench {

// Exits the program with `st` when it failed, naming `what`.
inline void Check(const Status& st, const char* what) {
  if (st.ok()) return;
  std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what, st.ToString().c_str());
  std::exit(1);
}

// `path` as a device, O_DIRECT when `direct`. Without `exclusive_lock`, a
// baseline may open the file beside an open Volume.
inline std::unique_ptr<BlockDevice> OpenFile(const std::string& path, bool direct,
                                             bool exclusive_lock = true) {
  FileDeviceOptions options;
  options.direct_io = direct;
  options.exclusive_lock = exclusive_lock;
  std::unique_ptr<BlockDevice> dev;
  Check(OpenFileDevice(path, options, &dev), path.c_str());
  return dev;
}

// A fresh sparse file of `size` bytes.
inline void CreateFile(const std::string& path, uint64_t size) {
  unlink(path.c_str());
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr || ftruncate(fileno(f), size) != 0) Check(Status::IoError(path), "create");
  std::fclose(f);
}

// Formats the spare device `spare` for a MAIN of `main_bytes`, with
// 512-byte sectors and the automatic placement.
inline void FormatSpare(BlockDevice* spare, uint64_t main_bytes) {
  Geometry g;
  g.sector_size = 512;
  g.main_sectors = main_bytes / 512;
  g.spare_sectors = spare->Size() / 512;
  Check(ComputePlacement(512, g.spare_sectors, Strategy::kAuto, &g.placement), "placement");
  std::unique_ptr<MetadataStore> formatted;
  Check(MetadataStore::Format(spare, g, &formatted), "format");
}

}  // namespace remapfs::bench
