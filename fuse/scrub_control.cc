// control/scrub (SPEC "Failing-disk behaviour"): `start`, `start SECTORS`,
// `stop`; reading it, and the scrub_* lines of `status`, show the scan.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "remapfs_fs.h"

namespace remapfs::fuse {
namespace {

constexpr std::string_view kBlanks = " \t\r\n,";

// True when `text` holds nothing but blanks and '#' comments.
bool IsBlankOrComment(std::string_view text) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    line = line.substr(0, line.find('#'));
    if (line.find_first_not_of(kBlanks) != std::string_view::npos) return false;
    text = eol == std::string_view::npos ? "" : text.substr(eol + 1);
  }
  return true;
}

// `status_prefix` is "scrub_" for the status file, "" for control/scrub.
std::string FormatScrubProgress(const ScrubProgress& p,
                                std::string_view status_prefix) {
  return fmt::format("{0}state: {1}\n{0}done: {2}\n{0}total: {3}\n{0}found: {4}\n",
                     status_prefix, ScrubStateName(p.state), p.done, p.total,
                     p.found);
}

}  // namespace

Status RemapFs::ApplyScrubCommand(std::string_view text) {
  size_t begin = text.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) {
    return Status::InvalidArgument("no scrub command given (want start, "
                                   "start SECTORS or stop)");
  }
  text.remove_prefix(begin);
  size_t word_end = std::min(text.find_first_of(kBlanks), text.size());
  std::string_view word = text.substr(0, word_end);
  std::string_view rest = text.substr(word_end);
  if (word == "stop") {
    if (!IsBlankOrComment(rest)) {
      return Status::InvalidArgument("scrub command 'stop' takes no argument");
    }
    scrubber_.Stop();
    spdlog::info("scrub: stopped on request");
    return Status::Ok();
  }
  if (word != "start") {
    return Status::InvalidArgument(fmt::format(
        "unknown scrub command '{}' (want start, start SECTORS or stop)", word));
  }
  if (IsBlankOrComment(rest)) return scrubber_.StartWholeVolume();
  std::vector<SectorRange> ranges;
  REMAPFS_RETURN_IF_ERROR(
      ParseSectorList(rest, volume_->geometry().main_sectors, &ranges));
  return scrubber_.Start(std::move(ranges));
}

std::string RemapFs::ScrubText() const {
  return FormatScrubProgress(scrubber_.Progress(), "");
}

std::string RemapFs::ScrubStatusLines() const {
  return FormatScrubProgress(scrubber_.Progress(), "scrub_");
}

}  // namespace remapfs::fuse
