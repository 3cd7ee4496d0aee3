// remapfs format, shared between format.cc (arguments, MAIN, metadata)
// and format_spare.cc (what SPARE holds, its size and host blocks).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common.h"
#include "remapfs/placement.h"

namespace remapfs::cli {

struct FormatRequest {
  std::string main_path;
  std::string spare_path;
  uint32_t sector_size = 512;
  Strategy strategy = Strategy::kAuto;
  std::optional<uint64_t> spare_size;
  bool force = false;
};

// What format found and decided before touching anything.
struct FormatPlan {
  std::unique_ptr<FileLock> main_lock, spare_lock;
  bool spare_exists = false;
  bool spare_created = false;  // by this format: removed again on failure
  // Every byte of the existing SPARE is known to read as zero (empty, or
  // scanned), so nothing of an earlier format or of user data can remain.
  bool spare_known_zero = false;
  uint64_t spare_current = 0;
  uint64_t spare_target = 0;
  Geometry geometry;
  std::string allocation;  // how the spare's host blocks were reserved
};

// The refusals that need SPARE: it is a regular file or block device other
// than MAIN, not in use, never shrunk, large enough, and (without --force)
// holds nothing format did not write. Fills the plan's spare fields and
// geometry; returns the user message when format must stop. Changes
// nothing.
std::optional<std::string> CheckSpare(const FormatRequest& req, FormatPlan* plan);

// Creates SPARE or takes the existing one: allocates its blocks on the host
// (the size it will have), then zeroes what it held. On failure a created
// file is removed again, and an existing one keeps its size and, when the
// allocation failed, its content.
Status PrepareSpareFile(const FormatRequest& req, FormatPlan* plan);

}  // namespace remapfs::cli
