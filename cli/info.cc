// remapfs info: what a spare holds, read offline without changing it.
#include <optional>

#include <fmt/format.h>

#include "command.h"
#include "common.h"
#include "json.h"
#include "remapfs/bad_block_lists.h"
#include "remapfs/live_status.h"
#include "remapfs/metadata.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "info";
constexpr const char* kUsage = R"(Usage: remapfs info SPARE [--json]
       remapfs info SPARE --export FORMAT [--block-size N]

Prints the geometry, strategy, metadata copies, reservations, remap count
and spare usage recorded in SPARE. Read-only; SPARE must not be mounted.

Options:
  --json             one JSON object instead of text
  --export FORMAT    instead, write the remapped and pending sectors as a
                     bad-block list that 'remapfs mark' reads back:
                     badblocks, md or ddrescue (see 'remapfs mark --help')
  --block-size N     block size of a badblocks list (default 1024); blocks
                     larger than a sector list every block a sector touches
  --help             show this help
)";

const CommandSpec kCommand{
    kCmd, kUsage, {{"--json"}, {"--export", true}, {"--block-size", true}}, {"SPARE"}};

struct SlotTally {
  uint64_t used = 0;     // slots holding a remap, active or pending
  uint64_t pending = 0;  // of those, pending (data unknown)
};

SlotTally CountSlots(const MetadataStore& store) {
  SlotTally tally;
  for (const auto& item : store.used_slots()) {
    ++tally.used;
    if (DecodeSlot(item.value).pending) ++tally.pending;
  }
  return tally;
}

void PrintText(const std::string& path, const MetadataStore& store) {
  const Geometry& g = store.geometry();
  SlotTally tally = CountSlots(store);
  fmt::print("spare: {}\nvolume_id: {}\nformat_version: {}\n", path, VolumeIdHex(store.volume_id()),
             store.loaded_version());
  fmt::print("main_path: {}\nmain_identity: {}\n",
             store.main().path.empty() ? "-" : store.main().path,
             store.main().id.empty() ? "-" : store.main().id);
  fmt::print("sector_size: {}\nmain_sectors: {}\nspare_sectors: {}\n", g.sector_size,
             g.main_sectors, g.spare_sectors);
  fmt::print("strategy: {}\nmetadata_copies: {}\nmetadata_valid_copies: {}\n",
             StrategyName(g.placement.strategy), g.placement.copy_starts.size(),
             store.valid_copies());
  fmt::print("metadata_sequence: {}\ncopy_sectors: {}\n", store.sequence(),
             g.placement.copy_sectors);
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& r = reports[i];
    fmt::print("copy {}: sectors {}-{} {} sequence {}{}\n", i, r.start,
               r.start + g.placement.copy_sectors - 1, CopyStateName(r.state), r.sequence,
               r.problem.empty() ? "" : " (" + r.problem + ")");
  }
  fmt::print("reserved_sectors: {}\nspare_capacity: {}\n", store.reservations().reserved_sectors(),
             g.spare_capacity());
  fmt::print("spare_used: {}\nspare_free: {}\nremapped: {}\npending: {}\n", tally.used,
             store.slot_count() - tally.used, tally.used - tally.pending, tally.pending);
  fmt::print("reservations:\n");
  for (const Extent& e : store.reservations().extents()) {
    fmt::print("  {} {} {}\n", e.first, e.last, e.what);
  }
}

void PrintJson(const std::string& path, const MetadataStore& store) {
  const Geometry& g = store.geometry();
  SlotTally tally = CountSlots(store);
  Json reservations = Json::array();
  for (const Extent& e : store.reservations().extents()) {
    reservations.push_back(Json{{"first", e.first}, {"last", e.last}, {"what", e.what}});
  }
  Json out;
  out["spare_path"] = path;
  out["volume_id"] = VolumeIdHex(store.volume_id());
  out["format_version"] = store.loaded_version();
  out["main_path"] = store.main().path;
  out["main_identity"] = store.main().id;
  out["sector_size"] = g.sector_size;
  out["main_sectors"] = g.main_sectors;
  out["spare_sectors"] = g.spare_sectors;
  out["strategy"] = StrategyName(g.placement.strategy);
  out["metadata_copies"] = g.placement.copy_starts.size();
  out["metadata_valid_copies"] = store.valid_copies();
  out["metadata_sequence"] = store.sequence();
  out["copy_sectors"] = g.placement.copy_sectors;
  out["copies"] = CopyReportsJson(store);
  out["reservations"] = std::move(reservations);
  out["reserved_sectors"] = store.reservations().reserved_sectors();
  out["spare_capacity"] = g.spare_capacity();
  out["spare_used"] = tally.used;
  out["spare_free"] = store.slot_count() - tally.used;
  out["remapped"] = tally.used - tally.pending;
  out["pending"] = tally.pending;
  fmt::print("{}", JsonLine(out));
}

// Every remapped main sector, active or pending, as ranges. A table entry
// outside MAIN (a damaged table) is reported rather than exported.
Status RemappedRanges(const MetadataStore& store, std::vector<SectorRange>* out) {
  for (const auto& item : store.used_slots()) {
    const SlotEntry e = DecodeSlot(item.value);
    if (e.main_sector >= store.geometry().main_sectors) {
      return Status::Corruption(
          fmt::format("the remap table names main sector {}, outside MAIN; run "
                      "'remapfs check --repair'",
                      e.main_sector));
    }
    out->push_back({e.main_sector, e.main_sector});
  }
  *out = NormalizeRanges(std::move(*out));
  return Status::Ok();
}

int Export(const MetadataStore& store, BadBlockFormat format, uint32_t block_size) {
  const Geometry& g = store.geometry();
  std::vector<SectorRange> ranges;
  if (Status st = RemappedRanges(store, &ranges); !st.ok()) return Fail(kCmd, st.message());
  const std::string text = FormatBadBlockList(format, ranges, block_size, g.sector_size,
                                              g.main_sectors);
  fmt::print("{}", text);
  // Whole blocks can cover sectors that are not remapped: say so, since a
  // `mark` of this list would remap those too.
  std::vector<SectorRange> reread;
  if (ParseBadBlockList(format, text, block_size, g.sector_size, g.main_sectors, &reread).ok() &&
      reread != ranges) {
    fmt::print(stderr,
               "remapfs info: note: {}-byte blocks are larger than the {}-byte "
               "sectors; the list also covers sectors that are not remapped\n",
               block_size, g.sector_size);
  }
  return kExitOk;
}

}  // namespace

int RunInfo(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return *code;
  std::optional<BadBlockFormat> export_format;
  uint32_t block_size = kDefaultBadBlocksBlockSize;
  if (auto name = parsed.Value("--export")) {
    BadBlockFormat format;
    if (Status st = ParseBadBlockFormat(*name, &format); !st.ok()) {
      return UsageError(kCmd, "--export: " + st.message());
    }
    if (parsed.Has("--json")) return UsageError(kCmd, "--json and --export exclude each other");
    if (auto err = ParseBlockSizeOption(parsed, format, &block_size)) {
      return UsageError(kCmd, *err);
    }
    export_format = format;
  } else if (parsed.Has("--block-size")) {
    return UsageError(kCmd, "--block-size needs --export badblocks");
  }
  const std::string& path = parsed.positionals[0];
  OfflineSpare spare;
  std::string message;
  if (!OpenOfflineSpare(path, /*repair=*/false, &spare, &message).ok()) {
    return Fail(kCmd, message);
  }
  if (export_format) return Export(*spare.store, *export_format, block_size);
  if (parsed.Has("--json")) {
    PrintJson(path, *spare.store);
  } else {
    PrintText(path, *spare.store);
  }
  return kExitOk;
}

}  // namespace remapfs::cli
