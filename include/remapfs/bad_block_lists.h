// Bad-block lists from other tools (SPEC `mark`, `info --export`): parsing
// into volume sectors and formatting back. Pure functions over text,
// thread-safe.
//
// Formats:
//  - kBadblocks: e2fsprogs `badblocks` output. One decimal block number a
//    line, in `block_size` units: block b is bytes [b*bs, (b+1)*bs). A block
//    that starts inside MAIN but runs past its end is clipped to MAIN. On
//    export each sector becomes every block that overlaps it (deduplicated,
//    ascending), so a block size above the sector size widens the set.
//  - kMd: md's sysfs `bad_blocks`: "SECTOR LENGTH" lines, decimal, in
//    512-byte sectors, LENGTH >= 1. On export entries are at most 512
//    sectors long, as md itself shows them.
//  - kDdrescue: a GNU ddrescue mapfile. '#' lines are comments; the first
//    other line is the current-position line "POS STATUS [PASS]" (STATUS one
//    of ?*/-FG+); then "POS SIZE STATUS" data lines, STATUS one of ?*/-+.
//    Numbers are read as ddrescue reads them: 0x hex, leading-0 octal, else
//    decimal. The failed areas are bad: '-' (bad-sector), '*' (non-trimmed)
//    and '/' (non-scraped), all of which ddrescue tried and could not read;
//    ParseDdrescueMapfile can take '-' alone. '?' (non-tried) and '+'
//    (finished) are not bad. Data lines must ascend without overlap
//    (ddrescue refuses anything else; a gap is allowed and means "not
//    bad"); only bad areas need lie inside MAIN, so a mapfile whose last
//    untried area runs to ddrescue's "unknown size" end still reads.
//    Export covers all of MAIN: '+' for good areas, '-' for bad ones.
//
// For md and ddrescue, byte ranges are rounded outward to whole volume
// sectors. Blank lines (and surrounding blanks, a trailing '\r') are allowed
// in every format; an empty list is valid and yields no ranges.
//
// Round trip: Parse(Format(set)) == set whenever every bad range is a whole
// number of blocks (always true for md, ddrescue, and badblocks with
// block_size <= sector_size).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/sector_list.h"
#include "remapfs/status.h"

namespace remapfs {

enum class BadBlockFormat { kBadblocks, kMd, kDdrescue };

// The badblocks tool's default block size (its -b).
inline constexpr uint32_t kDefaultBadBlocksBlockSize = 1024;

// md counts its bad blocks in 512-byte sectors, whatever the device's.
inline constexpr uint64_t kMdBadBlockSectorBytes = 512;

// "badblocks", "md", "ddrescue" <-> the enum. ParseBadBlockFormat returns
// InvalidArgument naming the accepted names.
Status ParseBadBlockFormat(std::string_view name, BadBlockFormat* out);
std::string_view BadBlockFormatName(BadBlockFormat format);

// A block size for kBadblocks: a power of two from 512 to 1 MiB.
Status CheckBadBlocksBlockSize(uint64_t block_size);

// Parses `text` for a volume of `main_sectors` sectors of `sector_size`
// bytes into sorted, merged ranges. `block_size` matters for kBadblocks
// only. On any malformed line, a number too large, or an area outside MAIN,
// returns InvalidArgument "line N: <why>: '<line>'" and leaves `out` empty:
// the whole list is refused.
Status ParseBadBlockList(BadBlockFormat format, std::string_view text, uint32_t block_size,
                         uint32_t sector_size, uint64_t main_sectors,
                         std::vector<SectorRange>* out);

// Which areas of a ddrescue mapfile are bad.
enum class DdrescueBadAreas {
  kAllFailed,      // '-', '*' and '/': what ParseBadBlockList takes
  kBadSectorOnly,  // '-' alone; '*' and '/' are read like '?' and '+'
};

// The sectors a ddrescue mapfile names bad, by the status of their areas.
// A sector that areas of two statuses share (areas not sector-aligned)
// counts under each, so the sum may exceed the sectors marked.
struct DdrescueSectorCounts {
  uint64_t bad_sector = 0;   // '-'
  uint64_t non_trimmed = 0;  // '*'
  uint64_t non_scraped = 0;  // '/'
};

// ParseBadBlockList(kDdrescue, ...) with the bad areas chosen by `which`,
// and the sectors of each status in `counts` (zero unless taken). On
// refusal, as ParseBadBlockList, with `counts` all zero.
Status ParseDdrescueMapfile(std::string_view text, uint32_t sector_size, uint64_t main_sectors,
                            DdrescueBadAreas which, std::vector<SectorRange>* out,
                            DdrescueSectorCounts* counts);

// Writes `ranges` (any order, may overlap; must lie inside MAIN) in
// `format`. `main_sectors` is needed by kDdrescue, which covers all of MAIN.
std::string FormatBadBlockList(BadBlockFormat format, const std::vector<SectorRange>& ranges,
                               uint32_t block_size, uint32_t sector_size, uint64_t main_sectors);

}  // namespace remapfs
