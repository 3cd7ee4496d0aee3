// Bad-block lists written out (FormatBadBlockList): the remapped and
// pending sectors as badblocks, md or ddrescue would list them, for `info
// --export`. Reading lists lives in bad_block_lists.cc; the formats and
// their edge cases are in include/remapfs/bad_block_lists.h.
#include "remapfs/bad_block_lists.h"

#include <algorithm>

#include <fmt/format.h>

namespace remapfs {

namespace {

constexpr uint64_t kMdMaxEntrySectors = 512;  // md's BB_MAX_LEN

std::string FormatBadblocks(const std::vector<SectorRange>& ranges, uint64_t block_size,
                            uint64_t sector_size) {
  std::string out;
  uint64_t next_block = 0;  // blocks below it are written already
  for (const SectorRange& r : ranges) {
    uint64_t first = std::max(next_block, r.first * sector_size / block_size);
    uint64_t last = ((r.last + 1) * sector_size - 1) / block_size;
    for (uint64_t b = first; b <= last; ++b) out += fmt::format("{}\n", b);
    next_block = std::max(next_block, last + 1);
  }
  return out;
}

std::string FormatMd(const std::vector<SectorRange>& ranges, uint64_t sector_size) {
  std::string out;
  for (const SectorRange& r : ranges) {
    uint64_t sector = r.first * sector_size / kMdBadBlockSectorBytes;
    const uint64_t end = (r.last + 1) * sector_size / kMdBadBlockSectorBytes;
    for (; sector < end; sector += kMdMaxEntrySectors) {
      out += fmt::format("{} {}\n", sector, std::min(kMdMaxEntrySectors, end - sector));
    }
  }
  return out;
}

std::string DdrescueArea(uint64_t pos, uint64_t end, char status) {
  return fmt::format("0x{:08X}  0x{:08X}  {}\n", pos, end - pos, status);
}

std::string FormatDdrescue(const std::vector<SectorRange>& ranges, uint64_t sector_size,
                           uint64_t main_sectors) {
  std::string out = "# Mapfile. Created by remapfs: '-' areas are the remapped and pending\n"
                    "# sectors, '+' the rest of MAIN.\n"
                    "# current_pos  current_status  current_pass\n"
                    "0x00000000     +               1\n"
                    "#      pos        size  status\n";
  uint64_t pos = 0;
  for (const SectorRange& r : ranges) {
    const uint64_t begin = r.first * sector_size, end = (r.last + 1) * sector_size;
    if (begin > pos) out += DdrescueArea(pos, begin, '+');
    out += DdrescueArea(begin, end, '-');
    pos = end;
  }
  const uint64_t main_bytes = main_sectors * sector_size;
  if (pos < main_bytes) out += DdrescueArea(pos, main_bytes, '+');
  return out;
}

}  // namespace

std::string FormatBadBlockList(BadBlockFormat format, const std::vector<SectorRange>& ranges,
                               uint32_t block_size, uint32_t sector_size, uint64_t main_sectors) {
  const std::vector<SectorRange> sorted = NormalizeRanges(ranges);
  switch (format) {
    case BadBlockFormat::kBadblocks: return FormatBadblocks(sorted, block_size, sector_size);
    case BadBlockFormat::kMd: return FormatMd(sorted, sector_size);
    case BadBlockFormat::kDdrescue: return FormatDdrescue(sorted, sector_size, main_sectors);
  }
  return {};
}

}  // namespace remapfs
