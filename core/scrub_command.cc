// The control/scrub grammar. See include/remapfs/scrub_command.h.
#include "remapfs/scrub_command.h"

#include <algorithm>

#include <fmt/format.h>

namespace remapfs {
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

}  // namespace

Status ParseScrubCommand(std::string_view text, uint64_t main_sectors, ScrubCommand* out) {
  size_t begin = text.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) {
    return Status::InvalidArgument("no scrub command given (want start, "
                                   "start SECTORS or stop)");
  }
  text.remove_prefix(begin);
  size_t word_end = std::min(text.find_first_of(kBlanks), text.size());
  std::string_view word = text.substr(0, word_end);
  std::string_view rest = text.substr(word_end);
  ScrubCommand cmd;
  if (word == "stop") {
    if (!IsBlankOrComment(rest)) {
      return Status::InvalidArgument("scrub command 'stop' takes no argument");
    }
    cmd.kind = ScrubCommand::Kind::kStop;
  } else if (word != "start") {
    return Status::InvalidArgument(
        fmt::format("unknown scrub command '{}' (want start, start SECTORS or stop)", word));
  } else if (IsBlankOrComment(rest)) {
    cmd.kind = ScrubCommand::Kind::kStart;
  } else {
    cmd.kind = ScrubCommand::Kind::kStartRanges;
    REMAPFS_RETURN_IF_ERROR(ParseSectorList(rest, main_sectors, &cmd.ranges));
  }
  *out = std::move(cmd);
  return Status::Ok();
}

}  // namespace remapfs
