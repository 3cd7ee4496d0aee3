// Bad-block lists of badblocks, md and ddrescue: known inputs to exact
// sectors, every refusal naming its line, and randomized round trips.
#include <catch2/catch.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "remapfs/bad_block_lists.h"

using namespace remapfs;
using Ranges = std::vector<SectorRange>;

namespace remapfs {
bool operator==(const DdrescueSectorCounts& a, const DdrescueSectorCounts& b) {
  return a.bad_sector == b.bad_sector && a.non_trimmed == b.non_trimmed &&
         a.non_scraped == b.non_scraped;
}
std::ostream& operator<<(std::ostream& os, const DdrescueSectorCounts& c) {
  return os << "{-" << c.bad_sector << " *" << c.non_trimmed << " /" << c.non_scraped << "}";
}
}  // namespace remapfs

namespace {

constexpr auto kBadblocks = BadBlockFormat::kBadblocks;
constexpr auto kMd = BadBlockFormat::kMd;
constexpr auto kDdrescue = BadBlockFormat::kDdrescue;

struct Vol {
  uint32_t sector_size;
  uint64_t main_sectors;
};
constexpr Vol k512{512, 4096};   // 2 MiB of 512-byte sectors
constexpr Vol k4096{4096, 512};  // 2 MiB of 4096-byte sectors

Ranges MustParse(BadBlockFormat f, std::string_view text, Vol v,
                 uint32_t block_size = kDefaultBadBlocksBlockSize) {
  Ranges out;
  Status st = ParseBadBlockList(f, text, block_size, v.sector_size, v.main_sectors, &out);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return out;
}

// The list must be refused whole, with a message naming `line`.
std::string MustRefuse(BadBlockFormat f, std::string_view text, size_t line, Vol v = k512,
                       uint32_t block_size = kDefaultBadBlocksBlockSize) {
  Ranges out = {{1, 1}};  // must be emptied
  Status st = ParseBadBlockList(f, text, block_size, v.sector_size, v.main_sectors, &out);
  INFO("input: " << text << "\nresult: " << st.ToString());
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(out.empty());
  REQUIRE(st.message().rfind("line " + std::to_string(line) + ":", 0) == 0);
  return st.message();
}

using Counts = DdrescueSectorCounts;
constexpr auto kAll = DdrescueBadAreas::kAllFailed;
constexpr auto kOnlyMinus = DdrescueBadAreas::kBadSectorOnly;
Counts last_counts;  // of the last MustParseDdrescue

Ranges MustParseDdrescue(std::string_view text, Vol v, DdrescueBadAreas which) {
  Ranges out;
  Status st = ParseDdrescueMapfile(text, v.sector_size, v.main_sectors, which, &out, &last_counts);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return out;
}

constexpr const char* kMapHeader = "# Mapfile. Created by GNU ddrescue version 1.27\n"
                                   "# Command line: ddrescue /dev/sdb disk.img disk.map\n"
                                   "# current_pos  current_status  current_pass\n"
                                   "0x00120000     ?               1\n"
                                   "#      pos        size  status\n";

}  // namespace

TEST_CASE("givenBadblocksOutput_whenParsed_thenEachBlockCoversItsBytes", "[badblocks]") {
  // 1024-byte blocks on 512-byte sectors: block b is sectors 2b, 2b+1.
  REQUIRE(MustParse(kBadblocks, "0\n3\n4\n", k512) == Ranges{{0, 1}, {6, 9}});
  REQUIRE(MustParse(kBadblocks, "7\n", k512, 512) == Ranges{{7, 7}});
  REQUIRE(MustParse(kBadblocks, "1\n", k512, 4096) == Ranges{{8, 15}});
  // Blocks smaller than a sector mark the whole sector that holds them.
  REQUIRE(MustParse(kBadblocks, "5\n", k4096, 1024) == Ranges{{1, 1}});
  REQUIRE(MustParse(kBadblocks, "9\n", k4096, 512) == Ranges{{1, 1}});
  REQUIRE(MustParse(kBadblocks, "2\n", k4096, 4096) == Ranges{{2, 2}});
  // Unsorted and repeated numbers, blanks, CRLF: one merged set.
  REQUIRE(MustParse(kBadblocks, "\n  12 \r\n10\n11\n\t\n10\n", k512) == Ranges{{20, 25}});
  REQUIRE(MustParse(kBadblocks, "", k512).empty());
  REQUIRE(MustParse(kBadblocks, "2047", k512) == Ranges{{4094, 4095}});
}

TEST_CASE("givenMainNotAWholeNumberOfBlocks_whenLastBlockListed_thenClippedToMain", "[badblocks]") {
  const Vol ten{512, 10};  // 5120 bytes: block 1 of 4096 is partly outside
  REQUIRE(MustParse(kBadblocks, "1", ten, 4096) == Ranges{{8, 9}});
  MustRefuse(kBadblocks, "2", 1, ten, 4096);
}

TEST_CASE("givenMalformedBadblocksLines_whenParsed_thenRefusedNamingTheLine", "[badblocks]") {
  CHECK(MustRefuse(kBadblocks, "1\n2\nabc\n", 3).find("'abc'") != std::string::npos);
  MustRefuse(kBadblocks, "1\n-5\n", 2);
  MustRefuse(kBadblocks, "+5\n", 1);
  MustRefuse(kBadblocks, "0x10\n", 1);
  MustRefuse(kBadblocks, "1 2\n", 1);
  MustRefuse(kBadblocks, "1\n\n\n12x\n", 4);
  MustRefuse(kBadblocks, "3 # comment\n", 1);
  MustRefuse(kBadblocks, "99999999999999999999999\n", 1);
  MustRefuse(kBadblocks, "18446744073709551615\n", 1);  // fits u64, not the disk
  // Out of range: MAIN holds 2048 blocks of 1024 bytes.
  CHECK(MustRefuse(kBadblocks, "5\n2048\n", 2).find("past the end") != std::string::npos);
  MustRefuse(kBadblocks, "1\n2\n3\n", 2, k512, 1 << 20);  // 2 MiB main, 1 MiB blocks
  std::string nul("4\n\0\n", 4);
  MustRefuse(kBadblocks, nul, 2);
}

TEST_CASE("givenBadBlockSize_whenParsed_thenRefusedBeforeAnyLine", "[badblocks]") {
  for (uint32_t bs : {0u, 100u, 256u, 1000u, 3072u, 2u << 20}) {
    Ranges out;
    INFO("block size " << bs);
    REQUIRE(ParseBadBlockList(kBadblocks, "1\n", bs, 512, 4096, &out).IsInvalidArgument());
    REQUIRE(!CheckBadBlocksBlockSize(bs).ok());
  }
  REQUIRE(CheckBadBlocksBlockSize(512).ok());
  REQUIRE(CheckBadBlocksBlockSize(1 << 20).ok());
}

TEST_CASE("givenMdBadBlocks_whenParsed_thenSectorsRoundOutward", "[badblocks]") {
  REQUIRE(MustParse(kMd, "8 16\n100 1\n", k512) == Ranges{{8, 23}, {100, 100}});
  REQUIRE(MustParse(kMd, "0 4\n2 4\n", k512) == Ranges{{0, 5}});
  REQUIRE(MustParse(kMd, "4095 1", k512) == Ranges{{4095, 4095}});
  // 4096-byte volume sectors hold 8 md sectors each.
  REQUIRE(MustParse(kMd, "1 1\n", k4096) == Ranges{{0, 0}});
  REQUIRE(MustParse(kMd, "7 2\n", k4096) == Ranges{{0, 1}});
  REQUIRE(MustParse(kMd, "8 8\n", k4096) == Ranges{{1, 1}});
  REQUIRE(MustParse(kMd, "4095 1\n", k4096) == Ranges{{511, 511}});
  REQUIRE(MustParse(kMd, "\n\n", k4096).empty());
}

TEST_CASE("givenMalformedMdLines_whenParsed_thenRefusedNamingTheLine", "[badblocks]") {
  MustRefuse(kMd, "5\n", 1);
  MustRefuse(kMd, "1 1\n5 0\n", 2);
  MustRefuse(kMd, "5 -1\n", 1);
  MustRefuse(kMd, "-5 1\n", 1);
  MustRefuse(kMd, "5 1 2\n", 1);
  MustRefuse(kMd, "0x5 1\n", 1);
  MustRefuse(kMd, "five 1\n", 1);
  MustRefuse(kMd, "4095 2\n", 1);  // one past MAIN
  MustRefuse(kMd, "4096 1\n", 1);
  MustRefuse(kMd, "36028797018963967 2\n", 1);  // sector + length overflows
  MustRefuse(kMd, "1 99999999999999999999\n", 1);
}

TEST_CASE("givenDdrescueMapfile_whenParsed_thenEveryFailedAreaIsBad", "[badblocks]") {
  const std::string map = std::string(kMapHeader) + "0x00000000  0x00117000  +\n"
                                                    "0x00117000  0x00000200  -\n"
                                                    "0x00117200  0x00001000  /\n"
                                                    "0x00118200  0x00000300  -\n"
                                                    "0x00118500  0x00007B00  *\n"
                                                    "0x00120000  0x000E0000  ?\n";
  // 512-byte sectors: '-' 2232 and 2241-2242, '/' 2233-2240, '*' from the
  // middle of 2242 to 0x11FFFF, sector 2303. 2242 counts as '-' and '*'.
  REQUIRE(MustParse(kDdrescue, map, k512) == Ranges{{2232, 2303}});
  REQUIRE(MustParseDdrescue(map, k512, kAll) == Ranges{{2232, 2303}});
  REQUIRE(last_counts == Counts{3, 62, 8});
  REQUIRE(MustParseDdrescue(map, k512, kOnlyMinus) == Ranges{{2232, 2232}, {2241, 2242}});
  REQUIRE(last_counts == Counts{3, 0, 0});
  // 4096-byte sectors: '-' 279 and 280, '/' 279-280, '*' 280-287.
  REQUIRE(MustParse(kDdrescue, map, k4096) == Ranges{{279, 287}});
  REQUIRE(MustParseDdrescue(map, k4096, kAll) == Ranges{{279, 287}});
  REQUIRE(last_counts == Counts{2, 8, 2});
  REQUIRE(MustParseDdrescue(map, k4096, kOnlyMinus) == Ranges{{279, 280}});
  REQUIRE(last_counts == Counts{2, 0, 0});
}

TEST_CASE("givenOneAreaOfEachStatus_whenParsed_thenOnlyTheFailedOnesAreCounted", "[badblocks]") {
  // Bytes 0x400-0x7FF (sectors 2-3) carry the status under test.
  struct Case {
    char status;
    Ranges all;
    Counts all_counts;
    Ranges only_minus;
  };
  const Case cases[] = {{'-', {{2, 3}}, {2, 0, 0}, {{2, 3}}},
                        {'*', {{2, 3}}, {0, 2, 0}, {}},
                        {'/', {{2, 3}}, {0, 0, 2}, {}},
                        {'?', {}, {0, 0, 0}, {}},
                        {'+', {}, {0, 0, 0}, {}}};
  for (const Case& c : cases) {
    const std::string map = std::string("0x0 + 1\n0x0 0x400 +\n0x400 0x400 ") + c.status +
                            "\n0x800 0x1FF800 +\n";
    INFO("status " << c.status);
    CHECK(MustParse(kDdrescue, map, k512) == c.all);
    CHECK(MustParseDdrescue(map, k512, kAll) == c.all);
    CHECK(last_counts == c.all_counts);
    CHECK(MustParseDdrescue(map, k512, kOnlyMinus) == c.only_minus);
    CHECK(last_counts == Counts{c.only_minus.empty() ? 0u : 2u, 0, 0});
  }
}

TEST_CASE("givenAreasOfOneStatusSharingASector_whenCounted_thenThatSectorCountsOnce",
          "[badblocks]") {
  // '*' bytes 0x300-0x4FF and 0x500-0x6FF: sectors 1-2 and 2-3, so 3
  // sectors; then '/' 0x700-0x9FF, sectors 3-4: sector 3 is '*' and '/'.
  const std::string map = "0x0 + 1\n0x0 0x300 +\n0x300 0x200 *\n0x500 0x200 *\n"
                          "0x700 0x300 /\n";
  REQUIRE(MustParseDdrescue(map, k512, kAll) == Ranges{{1, 4}});
  REQUIRE(last_counts == Counts{0, 3, 2});
  // On 4096-byte sectors every area is in sector 0.
  REQUIRE(MustParseDdrescue(map, k4096, kAll) == Ranges{{0, 0}});
  REQUIRE(last_counts == Counts{0, 1, 1});
}

TEST_CASE("givenFailedAreaPastMain_whenParsed_thenRefusedUnlessOnlyMinusAreasAreTaken",
          "[badblocks]") {
  // MAIN is 2 MiB: the '*' and '/' areas past it are bad by default.
  for (char status : {'*', '/'}) {
    const std::string map = std::string("0x0 + 1\n0x0 0x1FFE00 +\n0x1FFE00 0x400 ") + status + "\n";
    MustRefuse(kDdrescue, map, 3);
    Ranges out = {{1, 1}};
    Counts counts{7, 7, 7};
    const Status st = ParseDdrescueMapfile(map, 512, k512.main_sectors, kAll, &out, &counts);
    REQUIRE(st.message().rfind("line 3: bad area lies past the end of MAIN", 0) == 0);
    REQUIRE(out.empty());
    REQUIRE(counts == Counts{0, 0, 0});
    REQUIRE(MustParseDdrescue(map, k512, kOnlyMinus).empty());
  }
}

TEST_CASE("givenDdrescueVariants_whenParsed_thenReadAsDdrescueReadsThem", "[badblocks]") {
  // No pass field (older ddrescue), decimal and octal numbers, a gap, and a
  // last untried area running to ddrescue's "unknown size" end.
  const std::string map = "0 +\n"
                          "1024 512 -\n"
                          "03000 01000 -\n"  // octal: bytes 1536..2047, sector 3
                          "8192 0x7FFFFFFFFFFFDFFF ?\n";
  REQUIRE(MustParse(kDdrescue, map, k512) == Ranges{{2, 3}});
  REQUIRE(MustParse(kDdrescue, "# only comments\n\n", k512).empty());
  REQUIRE(MustParse(kDdrescue, "0x0 F 3\r\n0x0 0x200000 +\r\n", k512).empty());
}

TEST_CASE("givenMalformedDdrescueMapfiles_whenParsed_thenRefusedNamingTheLine", "[badblocks]") {
  const std::string pos = "# c\n0x0 + 1\n";        // data lines start at line 3
  MustRefuse(kDdrescue, "# c\n0x0 0x200 -\n", 2);  // no current-position line
  MustRefuse(kDdrescue, "0x0 x 1\n", 1);
  MustRefuse(kDdrescue, "0x0 + one\n", 1);
  MustRefuse(kDdrescue, "0x0 + 1 extra\n", 1);
  MustRefuse(kDdrescue, "junk\n", 1);
  MustRefuse(kDdrescue, pos + "0x0 0x200 x\n", 3);
  MustRefuse(kDdrescue, pos + "0x0 0x200 ++\n", 3);
  MustRefuse(kDdrescue, pos + "0x0 0x200\n", 3);
  MustRefuse(kDdrescue, pos + "0x0 0x200 - 1\n", 3);
  MustRefuse(kDdrescue, pos + "-0x200 0x200 -\n", 3);
  MustRefuse(kDdrescue, pos + "0x0 0x0 -\n", 3);
  MustRefuse(kDdrescue, pos + "0xZZ 0x200 -\n", 3);
  MustRefuse(kDdrescue, pos + "08 0x200 -\n", 3);  // 8 is no octal digit
  // Overlapping and descending lines: ddrescue never writes them.
  MustRefuse(kDdrescue, pos + "0x0 0x400 +\n0x200 0x200 -\n", 4);
  MustRefuse(kDdrescue, pos + "0x400 0x200 +\n\n0x0 0x200 -\n", 5);
  // A bad area outside MAIN (2 MiB), and positions past ddrescue's range.
  MustRefuse(kDdrescue, pos + "0x0 0x1FFE00 +\n0x1FFE00 0x400 -\n", 4);
  MustRefuse(kDdrescue, pos + "0x8000000000000000 0x1 ?\n", 3);
  MustRefuse(kDdrescue, pos + "0x7FFFFFFFFFFFFFFF 0x2 ?\n", 3);
}

TEST_CASE("givenFormatNames_whenParsed_thenOnlyTheThreeAreKnown", "[badblocks]") {
  for (auto f : {kBadblocks, kMd, kDdrescue}) {
    BadBlockFormat parsed = kBadblocks;
    REQUIRE(ParseBadBlockFormat(BadBlockFormatName(f), &parsed).ok());
    REQUIRE(parsed == f);
  }
  BadBlockFormat parsed;
  REQUIRE(ParseBadBlockFormat("e2fs", &parsed).IsInvalidArgument());
  REQUIRE(ParseBadBlockFormat("", &parsed).IsInvalidArgument());
}

TEST_CASE("givenSectorsInsideABlock_whenExportedAsBadblocks_thenTheWholeBlockIsListed",
          "[badblocks]") {
  REQUIRE(FormatBadBlockList(kBadblocks, {{1, 1}, {3, 4}}, 1024, 512, 4096) == "0\n1\n2\n");
  REQUIRE(FormatBadBlockList(kBadblocks, {{2, 2}}, 512, 4096, 512) ==
          "16\n17\n18\n19\n20\n21\n22\n23\n");
  REQUIRE(FormatBadBlockList(kBadblocks, {}, 1024, 512, 4096).empty());
}

TEST_CASE("givenLongRanges_whenExportedAsMd_thenEntriesAreAtMost512Sectors", "[badblocks]") {
  REQUIRE(FormatBadBlockList(kMd, {{10, 1209}}, 0, 512, 4096) == "10 512\n522 512\n1034 176\n");
  REQUIRE(FormatBadBlockList(kMd, {{3, 3}}, 0, 4096, 512) == "24 8\n");
}

TEST_CASE("givenRanges_whenExportedAsDdrescue_thenTheMapfileCoversAllOfMain", "[badblocks]") {
  const std::string map = FormatBadBlockList(kDdrescue, {{0, 1}, {10, 10}}, 0, 512, 4096);
  std::istringstream in(map);
  std::string line;
  uint64_t expect_pos = 0;
  std::string statuses;
  bool position_line = true;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string a, b, c;
    fields >> a >> b >> c;
    if (position_line) {
      position_line = false;
      continue;
    }
    REQUIRE(std::stoull(a, nullptr, 16) == expect_pos);
    expect_pos += std::stoull(b, nullptr, 16);
    statuses += c;
  }
  REQUIRE(!position_line);
  REQUIRE(expect_pos == 4096u * 512);
  REQUIRE(statuses == "-+-+");
}

TEST_CASE("givenRandomSectorSets_whenFormattedAndParsed_thenTheSetIsUnchanged", "[badblocks]") {
  std::mt19937_64 rng(GENERATE(1u, 2u, 3u, 4u));
  struct Case {
    BadBlockFormat format;
    Vol vol;
    uint32_t block_size;
  };
  const Case cases[] = {
      {kBadblocks, k512, 512},  {kBadblocks, k512, 1024},  {kBadblocks, k512, 4096},
      {kBadblocks, k4096, 512}, {kBadblocks, k4096, 1024}, {kBadblocks, k4096, 4096},
      {kMd, k512, 0},           {kMd, k4096, 0},           {kDdrescue, k512, 0},
      {kDdrescue, k4096, 0},
  };
  for (const Case& c : cases) {
    // Blocks larger than a sector round trip only for whole blocks.
    const uint64_t unit = std::max<uint64_t>(1, c.block_size / c.vol.sector_size);
    const uint64_t units = c.vol.main_sectors / unit;
    Ranges set;
    for (int i = 0, n = static_cast<int>(rng() % 40); i < n; ++i) {
      uint64_t first = rng() % units;
      uint64_t count = 1 + rng() % std::min<uint64_t>(600, units - first);
      set.push_back({first * unit, (first + count) * unit - 1});
    }
    set = NormalizeRanges(set);
    const std::string text = FormatBadBlockList(c.format, set, c.block_size, c.vol.sector_size,
                                                c.vol.main_sectors);
    INFO(BadBlockFormatName(c.format)
         << " sector " << c.vol.sector_size << " block " << c.block_size << "\n"
         << text);
    REQUIRE(MustParse(c.format, text, c.vol, c.block_size) == set);
  }
}
