// control/scrub (SPEC "Failing-disk behaviour"): `start`, `start SECTORS`,
// `stop`; reading it, and the scrub_* lines of `status`, show the scan.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "remapfs/scrub_command.h"
#include "remapfs_fs.h"

namespace remapfs::fuse {
namespace {

// `status_prefix` is "scrub_" for the status file, "" for control/scrub.
std::string FormatScrubProgress(const ScrubProgress& p, std::string_view status_prefix) {
  return fmt::format("{0}state: {1}\n{0}done: {2}\n{0}total: {3}\n{0}found: {4}\n", status_prefix,
                     ScrubStateName(p.state), p.done, p.total, p.found);
}

}  // namespace

Status RemapFs::ApplyScrubCommand(std::string_view text) {
  ScrubCommand cmd;
  REMAPFS_RETURN_IF_ERROR(ParseScrubCommand(text, volume_->geometry().main_sectors, &cmd));
  switch (cmd.kind) {
    case ScrubCommand::Kind::kStop:
      scrubber_.Stop();
      spdlog::info("scrub: stopped on request");
      return Status::Ok();
    case ScrubCommand::Kind::kStart: return scrubber_.StartWholeVolume();
    case ScrubCommand::Kind::kStartRanges: return scrubber_.Start(std::move(cmd.ranges));
  }
  return Status::InvalidArgument("unknown scrub command");
}

std::string RemapFs::ScrubText() const { return FormatScrubProgress(scrubber_.Progress(), ""); }

std::string RemapFs::ScrubStatusLines() const {
  return FormatScrubProgress(scrubber_.Progress(), "scrub_");
}

}  // namespace remapfs::fuse
