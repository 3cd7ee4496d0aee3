// Growing or shrinking a spare, offline, without losing a remap or a byte
// of remapped data, and safe against a crash at any instant.
//
// The new placement's copies may land on sectors that hold remapped data or
// the old copies. The order of work (spare_resize.cc) keeps one complete,
// discoverable metadata state — old or new — on the spare at every instant:
//  1. remapped data sitting where a new copy will go is moved to sectors
//     free in both layouts, committed in the OLD geometry;
//  2. (grow, if step 1 ran out of room) the rest is copied into the new
//     space beyond the old end, where no old state lives;
//  3. new copies are written in full with the next sequence number, the
//     first one placed so it destroys neither the last old copy nor data the
//     old metadata still names; from then on the new geometry wins;
//  4. old headers outside the new copies are wiped.
// The caller grows the file before (so the device spans both sizes) and
// shrinks it after.
//
// Not thread-safe; the spare must not be mounted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "remapfs/block_device.h"
#include "remapfs/placement.h"
#include "remapfs/status.h"

namespace remapfs {

struct ResizeResult {
  Geometry old_geometry;
  Geometry new_geometry;
  uint64_t moved_within_old = 0;    // step 1
  uint64_t moved_to_new_space = 0;  // step 2
  uint64_t remaps = 0;
};

// Called with a short phase description and progress within it: "moving
// remapped data" (sectors moved, every 64 and at the end), then "writing
// metadata copies" (copies written). Done never decreases within a phase
// and each phase ends with done == total. May be empty.
using ResizeProgress = std::function<void(const std::string& phase, uint64_t done, uint64_t total)>;

// Checks that the spare on `spare` can be re-placed for `new_spare_sectors`
// (strategy auto) without writing anything: InvalidArgument naming the
// reason otherwise (a used sector past the new end, no room to move data,
// a new size under 72 sectors, ...). Fills `result` with both geometries.
Status PlanSpareResize(BlockDevice* spare, uint64_t new_spare_sectors, ResizeResult* result);

// Performs the resize. `spare` must span at least the larger of the old and
// the new size. On failure the spare holds the old or the new geometry,
// complete (a crash leaves it likewise).
Status ResizeSpare(BlockDevice* spare, uint64_t new_spare_sectors, const ResizeProgress& progress,
                   ResizeResult* result);

}  // namespace remapfs
