// The text of the read-only control files. The formats are the SPEC's and
// scripts parse them: change nothing here without changing SPEC.md.
#include <fmt/format.h>

#include "remapfs/volume.h"

namespace remapfs {

std::string FormatRemaps(const std::vector<RemapEntry>& remaps) {
  std::string out;
  for (const RemapEntry& r : remaps)
    fmt::format_to(std::back_inserter(out), "{} {} {}\n", r.main_sector, r.spare_sector,
                   r.pending ? "pending" : "active");
  return out;
}

std::string FormatReservations(const std::vector<Extent>& extents) {
  std::string out;
  for (const Extent& e : extents)
    fmt::format_to(std::back_inserter(out), "{} {} {}\n", e.first, e.last, e.what);
  return out;
}

std::string FormatStatus(const VolumeStats& s) {
  std::string out;
  auto line = [&out](std::string_view key, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}: {}\n", key, value);
  };
  line("sector_size", s.sector_size);
  line("main_sectors", s.main_sectors);
  line("spare_sectors", s.spare_sectors);
  line("strategy", StrategyName(s.strategy));
  line("metadata_copies", s.metadata_copies);
  line("metadata_valid_copies", s.metadata_valid_copies);
  line("metadata_repaired_copies", s.metadata_repaired_copies);
  line("metadata_sequence", s.metadata_sequence);
  line("metadata_writes", s.metadata_commits_failing ? "refused" : "ok");
  line("reserved_sectors", s.reserved_sectors);
  line("spare_capacity", s.spare_capacity);
  line("spare_used", s.spare_used);
  line("spare_free", s.spare_free);
  line("remapped", s.remapped);
  line("pending", s.pending);
  line("read_errors", s.read_errors);
  line("write_errors", s.write_errors);
  line("auto_remaps", s.auto_remaps);
  line("last_error", s.last_error);
  line("operation", VolumeOperationName(s.operation));
  line("operation_done", s.operation_done);
  line("operation_total", s.operation_total);
  return out;
}

}  // namespace remapfs
