// Bad-block lists of badblocks, md and ddrescue read in (ParseBadBlockList),
// and the format names. Writing them out lives in bad_block_list_export.cc;
// include/remapfs/bad_block_lists.h has the formats and their edge cases.
#include "remapfs/bad_block_lists.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace remapfs {

namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr size_t kMaxLineInMessage = 60;
constexpr std::string_view kBlanks = " \t\r";

// A line as it may appear in a message: short, control bytes escaped.
std::string Printable(std::string_view line) {
  std::string out;
  size_t i = 0;
  for (; i < line.size() && out.size() < kMaxLineInMessage; ++i) {
    auto c = static_cast<unsigned char>(line[i]);
    out += (c >= 0x20 && c < 0x7f) ? std::string(1, static_cast<char>(c))
                                   : fmt::format("\\x{:02x}", c);
  }
  if (i < line.size()) out += "...";
  return out;
}

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kBlanks);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kBlanks) - begin + 1);
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!(line = Trim(line)).empty()) {
    size_t end = std::min(line.find_first_of(kBlanks), line.size());
    fields.push_back(line.substr(0, end));
    line.remove_prefix(end);
  }
  return fields;
}

int DigitValue(char c, unsigned base) {
  int d = -1;
  if (c >= '0' && c <= '9') d = c - '0';
  if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
  if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
  return d < static_cast<int>(base) ? d : -1;
}

// The whole of `field` as a number no larger than `max`. With `c_style`,
// base prefixes as C's strtoll(..., 0) reads them (what ddrescue uses);
// otherwise decimal only. Returns the reason on failure, nullptr if fine.
const char* ParseNumber(std::string_view field, bool c_style, uint64_t max, uint64_t* value) {
  unsigned base = 10;
  if (c_style && field.size() >= 2 && field[0] == '0' && (field[1] == 'x' || field[1] == 'X')) {
    base = 16;
    field.remove_prefix(2);
  } else if (c_style && field.size() >= 2 && field[0] == '0') {
    base = 8;
  }
  if (field.empty()) return "expected a number";
  uint64_t v = 0;
  for (char c : field) {
    int d = DigitValue(c, base);
    if (d < 0) return c_style ? "not a number" : "not a decimal number";
    if (v > (max - static_cast<uint64_t>(d)) / base) return "number too large";
    v = v * base + static_cast<uint64_t>(d);
  }
  *value = v;
  return nullptr;
}

// Reads one list line by line into sorted volume-sector ranges.
class ListParser {
 public:
  ListParser(BadBlockFormat format, uint32_t block_size, uint32_t sector_size,
             uint64_t main_sectors, DdrescueBadAreas ddrescue_bad = DdrescueBadAreas::kAllFailed)
      : format_(format),
        block_size_(block_size),
        sector_size_(sector_size),
        main_bytes_(main_sectors * sector_size),
        ddrescue_bad_(ddrescue_bad) {}

  Status Parse(std::string_view text) {
    for (size_t number = 1; !text.empty(); ++number) {
      const size_t end = std::min(text.find('\n'), text.size());
      const std::string_view line = text.substr(0, end);
      text.remove_prefix(std::min(end + 1, text.size()));
      const std::vector<std::string_view> fields = SplitFields(line);
      if (fields.empty()) continue;
      if (const char* why = ParseLine(fields)) {
        return Status::InvalidArgument(
            fmt::format("line {}: {}: '{}'", number, why, Printable(Trim(line))));
      }
    }
    return Status::Ok();
  }

  std::vector<SectorRange> TakeRanges() { return NormalizeRanges(std::move(ranges_)); }

  DdrescueSectorCounts DdrescueCounts() const {
    return {CountSectors(kind_ranges_[0]), CountSectors(kind_ranges_[1]),
            CountSectors(kind_ranges_[2])};
  }

 private:
  const char* ParseLine(const std::vector<std::string_view>& f) {
    switch (format_) {
      case BadBlockFormat::kBadblocks: return ParseBadblocksLine(f);
      case BadBlockFormat::kMd: return ParseMdLine(f);
      case BadBlockFormat::kDdrescue: return ParseDdrescueLine(f);
    }
    return "unknown format";
  }

  // Records bytes [begin, end) as bad, rounded outward to whole sectors.
  void AddBytes(uint64_t begin, uint64_t end) {
    ranges_.push_back({begin / sector_size_, (end - 1) / sector_size_});
  }

  const char* ParseBadblocksLine(const std::vector<std::string_view>& f) {
    if (f.size() != 1) return "expected one block number";
    uint64_t block = 0;
    if (const char* why = ParseNumber(f[0], false, kU64Max, &block)) return why;
    if (block >= main_bytes_ / block_size_ + (main_bytes_ % block_size_ != 0)) {
      return "block lies past the end of MAIN";
    }
    uint64_t begin = block * block_size_;
    AddBytes(begin, begin + std::min<uint64_t>(block_size_, main_bytes_ - begin));
    return nullptr;
  }

  const char* ParseMdLine(const std::vector<std::string_view>& f) {
    if (f.size() != 2) return "expected 'SECTOR LENGTH'";
    uint64_t sector = 0, length = 0;
    const uint64_t max = kU64Max / kMdBadBlockSectorBytes;
    if (const char* why = ParseNumber(f[0], false, max, &sector)) return why;
    if (const char* why = ParseNumber(f[1], false, max, &length)) return why;
    if (length == 0) return "LENGTH must be at least 1";
    if (sector > max - length) return "number too large";
    if ((sector + length) * kMdBadBlockSectorBytes > main_bytes_) {
      return "sectors lie past the end of MAIN";
    }
    AddBytes(sector * kMdBadBlockSectorBytes, (sector + length) * kMdBadBlockSectorBytes);
    return nullptr;
  }

  const char* ParseDdrescueLine(const std::vector<std::string_view>& f) {
    if (f[0][0] == '#') return nullptr;
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    uint64_t pos = 0, size = 0;
    if (!saw_position_line_) {
      saw_position_line_ = true;
      if (f.size() < 2 || f.size() > 3 || f[1].size() != 1 ||
          std::string_view("?*/-FG+").find(f[1][0]) == std::string_view::npos) {
        return "expected the current-position line 'POS STATUS [PASS]' "
               "(STATUS one of ?*/-FG+)";
      }
      if (const char* why = ParseNumber(f[0], true, kMax, &pos)) return why;
      uint64_t pass = 0;
      if (f.size() == 3 && ParseNumber(f[2], false, kMax, &pass) != nullptr) {
        return "PASS is not a number";
      }
      return nullptr;
    }
    if (f.size() != 3) return "expected 'POS SIZE STATUS'";
    if (const char* why = ParseNumber(f[0], true, kMax, &pos)) return why;
    if (const char* why = ParseNumber(f[1], true, kMax, &size)) return why;
    if (f[2].size() != 1 || std::string_view("?*/-+").find(f[2][0]) == std::string_view::npos) {
      return "STATUS must be one of ? * / - +";
    }
    if (size == 0) return "SIZE must be at least 1";
    if (pos > kMax - size) return "area ends past the largest ddrescue position";
    if (pos < previous_end_) return "area overlaps or precedes the line before";
    previous_end_ = pos + size;
    const int kind = DdrescueBadKind(f[2][0]);
    if (kind < 0) return nullptr;
    if (pos + size > main_bytes_) return "bad area lies past the end of MAIN";
    AddBytes(pos, pos + size);
    kind_ranges_[kind].push_back(ranges_.back());
    return nullptr;
  }

  // For a bad area's status, its index in DdrescueSectorCounts (0 '-',
  // 1 '*', 2 '/'); -1 for an area that is not bad.
  int DdrescueBadKind(char status) const {
    if (status == '-') return 0;
    if (ddrescue_bad_ == DdrescueBadAreas::kBadSectorOnly) return -1;
    if (status == '*') return 1;
    if (status == '/') return 2;
    return -1;
  }

  static uint64_t CountSectors(std::vector<SectorRange> ranges) {
    uint64_t n = 0;
    for (const SectorRange& r : NormalizeRanges(std::move(ranges))) n += r.count();
    return n;
  }

  BadBlockFormat format_;
  uint64_t block_size_;
  uint64_t sector_size_;
  uint64_t main_bytes_;
  DdrescueBadAreas ddrescue_bad_;
  bool saw_position_line_ = false;
  uint64_t previous_end_ = 0;
  std::vector<SectorRange> ranges_;
  std::vector<SectorRange> kind_ranges_[3];  // ddrescue: ranges_ by DdrescueBadKind
};

}  // namespace

Status ParseBadBlockFormat(std::string_view name, BadBlockFormat* out) {
  for (auto f : {BadBlockFormat::kBadblocks, BadBlockFormat::kMd, BadBlockFormat::kDdrescue}) {
    if (name == BadBlockFormatName(f)) {
      *out = f;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument("unknown list format '" + Printable(name) +
                                 "' (expected badblocks, md or ddrescue)");
}

std::string_view BadBlockFormatName(BadBlockFormat format) {
  switch (format) {
    case BadBlockFormat::kBadblocks: return "badblocks";
    case BadBlockFormat::kMd: return "md";
    case BadBlockFormat::kDdrescue: return "ddrescue";
  }
  return "unknown";
}

Status CheckBadBlocksBlockSize(uint64_t block_size) {
  if (block_size < 512 || block_size > (1u << 20) || (block_size & (block_size - 1)) != 0) {
    return Status::InvalidArgument(
        fmt::format("block size {} is not a power of two from 512 to 1048576", block_size));
  }
  return Status::Ok();
}

Status ParseBadBlockList(BadBlockFormat format, std::string_view text, uint32_t block_size,
                         uint32_t sector_size, uint64_t main_sectors,
                         std::vector<SectorRange>* out) {
  out->clear();
  if (format == BadBlockFormat::kBadblocks) {
    REMAPFS_RETURN_IF_ERROR(CheckBadBlocksBlockSize(block_size));
  }
  ListParser parser(format, block_size, sector_size, main_sectors);
  REMAPFS_RETURN_IF_ERROR(parser.Parse(text));
  *out = parser.TakeRanges();
  return Status::Ok();
}

Status ParseDdrescueMapfile(std::string_view text, uint32_t sector_size, uint64_t main_sectors,
                            DdrescueBadAreas which, std::vector<SectorRange>* out,
                            DdrescueSectorCounts* counts) {
  out->clear();
  *counts = {};
  ListParser parser(BadBlockFormat::kDdrescue, 0, sector_size, main_sectors, which);
  REMAPFS_RETURN_IF_ERROR(parser.Parse(text));
  *out = parser.TakeRanges();
  *counts = parser.DdrescueCounts();
  return Status::Ok();
}

}  // namespace remapfs
