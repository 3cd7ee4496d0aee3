// The device floor of bench_bulk_remap's scattered remove: the MAIN writes
// remove cannot avoid, with nothing of remove around them.
//
// ScatteredWriteFloorSeconds times one sector written at each of
// `sectors`, in ascending order (remove copies in MAIN order), straight to
// a device in WriteBatch calls of `batch_runs` runs (64: the group in which
// add_bad and remove submit runs), then one Flush. The device is a fresh
// sparse file of `file_bytes` left, untimed, as MAIN is when remove runs:
// the `prewritten` sectors (what the remove baseline wrote to MAIN) already
// written, so the floor pays the block allocation remove pays, and every
// sector read through the device, as add_bad read them (buffered, their
// pages are then cached, as MAIN's are). Remove also reads the sectors
// from the spare (a few large reads): left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "remapfs/block_device.h"

namespace remapfs::bench {

// Opens `path` as a device, as the benchmark opens MAIN.
using DeviceOpener = std::function<std::unique_ptr<BlockDevice>(const std::string& path)>;

// Seconds; `scratch` is made, opened with `open` and removed. Exits on
// failure.
double ScatteredWriteFloorSeconds(const std::string& scratch, uint64_t file_bytes,
                                  const DeviceOpener& open, std::vector<uint64_t> sectors,
                                  const std::vector<uint64_t>& prewritten, size_t batch_runs);

}  // namespace remapfs::bench
