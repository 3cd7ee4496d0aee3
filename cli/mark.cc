// remapfs mark: import a bad-block list offline, in one metadata commit.
// The list is read and checked whole before anything is written, so a
// malformed list, a sector outside MAIN or a spare too small changes nothing.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <fmt/format.h>

#include "command.h"
#include "common.h"
#include "progress.h"
#include "remapfs/bad_block_lists.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "mark";
constexpr const char* kUsage =
    R"(Usage: remapfs mark MAIN SPARE --format FORMAT [--block-size N]
                    [--bad-sector-only] FILE

Imports a bad-block list offline: every sector it names is remapped in one
metadata commit, its current content copied from MAIN (a sector MAIN cannot
read becomes pending: reads of it fail until it is written again). Sectors
already remapped are left as they are. FILE '-' reads standard input. A
malformed list is refused whole, naming the line; nothing changes. MAIN and
SPARE must not be mounted.

Formats:
  badblocks  e2fsprogs badblocks output: one block number a line, in
             --block-size units (badblocks' -b)
  md         md's bad_blocks: 'SECTOR LENGTH' lines in 512-byte sectors
  ddrescue   GNU ddrescue mapfile: the areas ddrescue failed to read are
             bad, status '-' (bad-sector), '*' (non-trimmed) and '/'
             (non-scraped); '?' (non-tried) and '+' are not. mark prints
             how many sectors of each it took.

Options:
  --format FORMAT   badblocks, md or ddrescue (required)
  --block-size N    block size of a badblocks list (default 1024)
  --bad-sector-only ddrescue: take only the '-' areas, not '*' or '/'
  --help            show this help
)";

const CommandSpec kCommand{kCmd,
                           kUsage,
                           {{"--format", true}, {"--block-size", true}, {"--bad-sector-only"}},
                           {"MAIN", "SPARE", "FILE"}};

// A list larger than this is not a bad-block list of any disk we can serve.
constexpr size_t kMaxListBytes = 256u << 20;

struct MarkRequest {
  std::string main_path, spare_path, list_path;
  BadBlockFormat format = BadBlockFormat::kBadblocks;
  uint32_t block_size = kDefaultBadBlocksBlockSize;
  DdrescueBadAreas ddrescue_bad = DdrescueBadAreas::kAllFailed;
};

// Reads all of `path` ('-': stdin) into `text`.
Status ReadListFile(const std::string& path, std::string* text) {
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? "standard input" : "'" + path + "'";
  int fd = is_stdin ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot open " + name);
  Status st;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status::FromErrno(errno, "cannot read " + name);
      break;
    }
    if (n == 0) break;
    if (text->size() + static_cast<size_t>(n) > kMaxListBytes) {
      st = Status::InvalidArgument(name + " is larger than 256 MiB: not a bad-block list");
      break;
    }
    text->append(buf, static_cast<size_t>(n));
  }
  if (!is_stdin) close(fd);
  return st;
}

std::optional<int> ParseRequest(const std::vector<std::string>& args, MarkRequest* req) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return code;
  req->main_path = parsed.positionals[0];
  req->spare_path = parsed.positionals[1];
  req->list_path = parsed.positionals[2];
  auto format = parsed.Value("--format");
  if (!format) return UsageError(kCmd, "--format badblocks|md|ddrescue is required");
  if (Status st = ParseBadBlockFormat(*format, &req->format); !st.ok()) {
    return UsageError(kCmd, st.message());
  }
  if (auto error = ParseBlockSizeOption(parsed, req->format, &req->block_size)) {
    return UsageError(kCmd, *error);
  }
  if (parsed.Has("--bad-sector-only")) {
    if (req->format != BadBlockFormat::kDdrescue) {
      return UsageError(kCmd, "--bad-sector-only applies to the ddrescue format only");
    }
    req->ddrescue_bad = DdrescueBadAreas::kBadSectorOnly;
  }
  return std::nullopt;
}

// Parses the list; for ddrescue, `summary` says how many sectors of each
// status were taken.
Status ParseList(const MarkRequest& req, std::string_view text, const Geometry& g,
                 std::vector<SectorRange>* ranges, std::string* summary) {
  if (req.format != BadBlockFormat::kDdrescue) {
    return ParseBadBlockList(req.format, text, req.block_size, g.sector_size, g.main_sectors,
                             ranges);
  }
  DdrescueSectorCounts n;
  REMAPFS_RETURN_IF_ERROR(
      ParseDdrescueMapfile(text, g.sector_size, g.main_sectors, req.ddrescue_bad, ranges, &n));
  if (req.ddrescue_bad == DdrescueBadAreas::kBadSectorOnly) {
    *summary = fmt::format("ddrescue: {} sectors bad-sector (-); non-trimmed (*) and "
                           "non-scraped (/) areas left out (--bad-sector-only)\n",
                           n.bad_sector);
  } else {
    *summary = fmt::format("ddrescue: {} sectors bad-sector (-), {} non-trimmed (*), "
                           "{} non-scraped (/)\n",
                           n.bad_sector, n.non_trimmed, n.non_scraped);
  }
  return Status::Ok();
}

uint64_t CountSectors(const std::vector<SectorRange>& ranges) {
  uint64_t n = 0;
  for (const SectorRange& r : ranges) n += r.count();
  return n;
}

}  // namespace

int RunMark(const std::vector<std::string>& args) {
  MarkRequest req;
  if (auto code = ParseRequest(args, &req)) return *code;
  std::string text;
  if (Status st = ReadListFile(req.list_path, &text); !st.ok()) {
    return Fail(kCmd, st.message());
  }
  std::unique_ptr<Volume> volume;
  std::string message;
  if (!OpenOfflineVolume(req.main_path, req.spare_path, &volume, &message).ok()) {
    return Fail(kCmd, message);
  }
  const Geometry& g = volume->geometry();
  std::vector<SectorRange> ranges;
  const std::string list_name = req.list_path == "-" ? "standard input" : req.list_path;
  std::string summary;
  if (Status st = ParseList(req, text, g, &ranges, &summary); !st.ok()) {
    return Fail(kCmd, fmt::format("{}: {}; nothing was changed", list_name, st.message()));
  }
  const VolumeStats before = volume->Stats();
  Status added;
  VolumeStats after;
  {
    // AddBad publishes its progress in Stats(); polled, and erased before
    // any message.
    ProgressBar bar("copying sectors", ProgressUnit::kSectors);
    added = bar.WhilePolling(
        [&] {
          const VolumeStats s = volume->Stats();
          return std::pair(s.operation_done, s.operation_total);
        },
        [&] { return volume->AddBad(ranges); });
    after = volume->Stats();
    const uint64_t copied = after.remapped + after.pending - before.remapped - before.pending;
    if (added.ok() && copied != 0) bar.Update(copied, copied);
  }
  if (Status st = added; !st.ok()) {
    return Fail(kCmd, st.message() + "; nothing was changed");
  }
  const uint64_t newly_active = after.remapped - before.remapped;
  const uint64_t newly_pending = after.pending - before.pending;
  const uint64_t listed = CountSectors(ranges);
  fmt::print("{}", summary);
  fmt::print("{} sectors listed in {}: {} newly remapped, {} of them pending "
             "(unreadable on MAIN), {} already remapped\n",
             listed, list_name, newly_active + newly_pending, newly_pending,
             listed - newly_active - newly_pending);
  return kExitOk;
}

}  // namespace remapfs::cli
