// remapfs info: what a spare holds, read offline without changing it.
#include <fmt/format.h>

#include "cli.h"
#include "cli_args.h"
#include "cli_common.h"
#include "remapfs/metadata.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "info";
constexpr const char* kUsage = R"(Usage: remapfs info SPARE [--json]

Prints the geometry, strategy, metadata copies, reservations, remap count
and spare usage recorded in SPARE. Read-only; SPARE must not be mounted.

Options:
  --json   one JSON object instead of text
  --help   show this help
)";

struct SlotTally {
  uint64_t used = 0;     // slots holding a remap, active or pending
  uint64_t pending = 0;  // of those, pending (data unknown)
};

SlotTally CountSlots(const MetadataStore& store) {
  SlotTally tally;
  for (uint64_t i = 0; i < store.slot_count(); ++i) {
    SlotEntry e = store.slot(i);
    if (!e.used) continue;
    ++tally.used;
    if (e.pending) ++tally.pending;
  }
  return tally;
}

std::string VolumeIdHex(const MetadataStore& store) {
  std::string hex;
  for (uint8_t b : store.volume_id()) hex += fmt::format("{:02x}", b);
  return hex;
}

void PrintText(const std::string& path, const MetadataStore& store) {
  const Geometry& g = store.geometry();
  SlotTally tally = CountSlots(store);
  fmt::print("spare: {}\nvolume_id: {}\n", path, VolumeIdHex(store));
  fmt::print("sector_size: {}\nmain_sectors: {}\nspare_sectors: {}\n",
             g.sector_size, g.main_sectors, g.spare_sectors);
  fmt::print("strategy: {}\nmetadata_copies: {}\nmetadata_valid_copies: {}\n",
             StrategyName(g.placement.strategy), g.placement.copy_starts.size(),
             store.valid_copies());
  fmt::print("metadata_sequence: {}\ncopy_sectors: {}\n", store.sequence(),
             g.placement.copy_sectors);
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& r = reports[i];
    fmt::print("copy {}: sectors {}-{} {} sequence {}{}\n", i, r.start,
               r.start + g.placement.copy_sectors - 1, CopyStateName(r.state),
               r.sequence, r.problem.empty() ? "" : " (" + r.problem + ")");
  }
  fmt::print("reserved_sectors: {}\nspare_capacity: {}\n",
             store.reservations().reserved_sectors(), g.spare_capacity());
  fmt::print("spare_used: {}\nspare_free: {}\nremapped: {}\npending: {}\n",
             tally.used, store.slot_count() - tally.used,
             tally.used - tally.pending, tally.pending);
  fmt::print("reservations:\n");
  for (const Extent& e : store.reservations().extents()) {
    fmt::print("  {} {} {}\n", e.first, e.last, e.what);
  }
}

void PrintJson(const std::string& path, const MetadataStore& store) {
  const Geometry& g = store.geometry();
  SlotTally tally = CountSlots(store);
  std::string copies, reservations;
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& r = reports[i];
    copies += fmt::format(
        "{}{{\"index\":{},\"first\":{},\"last\":{},\"state\":{},"
        "\"sequence\":{},\"problem\":{}}}", i ? "," : "", i, r.start,
        r.start + g.placement.copy_sectors - 1,
        JsonQuote(CopyStateName(r.state)), r.sequence, JsonQuote(r.problem));
  }
  for (const Extent& e : store.reservations().extents()) {
    reservations += fmt::format("{}{{\"first\":{},\"last\":{},\"what\":{}}}",
                                reservations.empty() ? "" : ",", e.first,
                                e.last, JsonQuote(e.what));
  }
  fmt::print(
      "{{\"spare\":{},\"volume_id\":\"{}\",\"sector_size\":{},"
      "\"main_sectors\":{},\"spare_sectors\":{},\"strategy\":{},"
      "\"metadata_copies\":{},\"metadata_valid_copies\":{},"
      "\"metadata_sequence\":{},\"copy_sectors\":{},\"copies\":[{}],"
      "\"reservations\":[{}],\"reserved_sectors\":{},\"spare_capacity\":{},"
      "\"spare_used\":{},\"spare_free\":{},\"remapped\":{},\"pending\":{}}}\n",
      JsonQuote(path), VolumeIdHex(store), g.sector_size, g.main_sectors,
      g.spare_sectors, JsonQuote(StrategyName(g.placement.strategy)),
      g.placement.copy_starts.size(), store.valid_copies(), store.sequence(),
      g.placement.copy_sectors, copies, reservations,
      store.reservations().reserved_sectors(), g.spare_capacity(), tally.used,
      store.slot_count() - tally.used, tally.used - tally.pending,
      tally.pending);
}

}  // namespace

int RunInfo(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  std::string error;
  if (!ParseArgs(args, {{"--json"}}, &parsed, &error)) {
    return UsageError(kCmd, error);
  }
  if (parsed.Has("--help")) return PrintHelp(kUsage);
  if (parsed.positionals.size() != 1) {
    return UsageError(kCmd, parsed.positionals.empty() ? "SPARE is required"
                                                       : "too many arguments");
  }
  const std::string& path = parsed.positionals[0];
  OfflineSpare spare;
  std::string message;
  if (!OpenOfflineSpare(path, /*repair=*/false, &spare, &message).ok()) {
    return Fail(kCmd, message);
  }
  if (parsed.Has("--json")) {
    PrintJson(path, *spare.store);
  } else {
    PrintText(path, *spare.store);
  }
  return kExitOk;
}

}  // namespace remapfs::cli
