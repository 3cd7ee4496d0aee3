// Fuzzes the bad-block list parsers and formatters (bad_block_lists.h):
// e2fsprogs badblocks, md bad_blocks, GNU ddrescue mapfiles.
//
// The input is a list file. It is parsed in every format, for both sector
// sizes, and for badblocks with several block sizes. Invariants beyond
// "no crash", for each parse that succeeds:
//  - the ranges are in normal form (sorted, disjoint, merged) inside MAIN;
//  - the header's round-trip contract: Format in the same format, then
//    Parse, gives the same set;
//  - md and ddrescue are exact for any sector-aligned set, so the set also
//    survives a trip through each of them, and their export read back at
//    512-byte granularity is the set to the byte;
// and for each refusal: InvalidArgument starting "line N:", output empty.
// A mapfile is also read with '-' areas alone (ParseDdrescueMapfile): that
// set is a subset of the default one, read whenever the default is, and
// the counts by status add up to at least the sectors marked.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "remapfs/bad_block_lists.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

// MAINs that end inside a block of every larger size, so the clipping of
// the last block is exercised: large ones for real lists, tiny ones whose
// last block numbers a fuzzer reaches quickly.
struct Volume {
  uint32_t sector_size;
  uint64_t main_sectors;
};
constexpr Volume kVolumes[] = {{512, (1u << 21) + 3}, {4096, (1u << 18) + 1}, {512, 77}, {4096, 5}};
constexpr uint32_t kBlockSizes[] = {512, 1024, 4096, 65536};

std::vector<SectorRange> MustParse(BadBlockFormat format, const std::string& text,
                                   uint32_t block_size, const Volume& v) {
  std::vector<SectorRange> out;
  const Status st = ParseBadBlockList(format, text, block_size, v.sector_size, v.main_sectors,
                                      &out);
  FUZZ_CHECK(st.ok(), "{} list we formatted is refused: {}\n{}", BadBlockFormatName(format),
             st.ToString(), text.substr(0, 2000));
  return out;
}

void CheckTrip(BadBlockFormat via, const std::vector<SectorRange>& set, uint32_t block_size,
               const Volume& v) {
  const std::string text = FormatBadBlockList(via, set, block_size, v.sector_size, v.main_sectors);
  const std::vector<SectorRange> again = MustParse(via, text, block_size, v);
  FUZZ_CHECK(again == set, "via {} (block {}, sector {}): {} came back as {}",
             BadBlockFormatName(via), block_size, v.sector_size, RangesText(set),
             RangesText(again));
}

// md and ddrescue exports must be exact to the byte, which a re-parse at
// the same sector size cannot see (it rounds outward): read them back as a
// volume of 512-byte sectors and compare with the set scaled to those.
void CheckExactExport(BadBlockFormat via, const std::vector<SectorRange>& set, const Volume& v) {
  const uint64_t ratio = v.sector_size / 512;
  if (ratio == 1) return;
  std::vector<SectorRange> scaled;
  for (const SectorRange& r : set) scaled.push_back({r.first * ratio, (r.last + 1) * ratio - 1});
  const std::string text = FormatBadBlockList(via, set, 0, v.sector_size, v.main_sectors);
  const Volume fine{512, v.main_sectors * ratio};
  const std::vector<SectorRange> back = MustParse(via, text, 0, fine);
  FUZZ_CHECK(back == scaled, "{} export of {} reads {} in 512-byte sectors, want {}",
             BadBlockFormatName(via), RangesText(set), RangesText(back), RangesText(scaled));
}

void CheckOne(BadBlockFormat format, std::string_view text, uint32_t block_size, const Volume& v) {
  std::vector<SectorRange> set = {{1, 2}};  // a refusal must empty it
  const Status st = ParseBadBlockList(format, text, block_size, v.sector_size, v.main_sectors,
                                      &set);
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument() && set.empty() && st.message().rfind("line ", 0) == 0,
               "refusal {} left {}", st.ToString(), RangesText(set));
    return;
  }
  CheckNormalForm(set);
  CheckInBounds(set, v.main_sectors);
  CheckTrip(format, set, block_size, v);
  CheckTrip(BadBlockFormat::kMd, set, block_size, v);
  CheckTrip(BadBlockFormat::kDdrescue, set, block_size, v);
  CheckExactExport(BadBlockFormat::kMd, set, v);
  CheckExactExport(BadBlockFormat::kDdrescue, set, v);
}

uint64_t SectorCount(const std::vector<SectorRange>& set) {
  uint64_t n = 0;
  for (const SectorRange& r : set) n += r.count();
  return n;
}

void CheckDdrescueKinds(std::string_view text, const Volume& v) {
  std::vector<SectorRange> all, only, plain;
  DdrescueSectorCounts n_all, n_only;
  const Status st_all = ParseDdrescueMapfile(text, v.sector_size, v.main_sectors,
                                             DdrescueBadAreas::kAllFailed, &all, &n_all);
  const Status st_only = ParseDdrescueMapfile(text, v.sector_size, v.main_sectors,
                                              DdrescueBadAreas::kBadSectorOnly, &only, &n_only);
  const Status st_plain = ParseBadBlockList(BadBlockFormat::kDdrescue, text, 0, v.sector_size,
                                            v.main_sectors, &plain);
  FUZZ_CHECK(st_all.ToString() == st_plain.ToString() && all == plain,
             "ParseDdrescueMapfile(kAllFailed) {} {} != ParseBadBlockList {} {}", st_all.ToString(),
             RangesText(all), st_plain.ToString(), RangesText(plain));
  if (!st_all.ok()) return;
  FUZZ_CHECK(st_only.ok(), "'-' alone refused ({}) what all failed areas read", st_only.ToString());
  FUZZ_CHECK(NormalizeRanges([&] {
               auto both = all;
               both.insert(both.end(), only.begin(), only.end());
               return both;
             }()) == all,
             "'-' alone {} is no subset of {}", RangesText(only), RangesText(all));
  FUZZ_CHECK(n_only.bad_sector == SectorCount(only) && n_only.non_trimmed == 0 &&
                 n_only.non_scraped == 0 && n_all.bad_sector == n_only.bad_sector,
             "'-' alone counts {} {} {} for {}", n_only.bad_sector, n_only.non_trimmed,
             n_only.non_scraped, RangesText(only));
  FUZZ_CHECK(n_all.bad_sector + n_all.non_trimmed + n_all.non_scraped >= SectorCount(all),
             "counts {} {} {} below the {} sectors of {}", n_all.bad_sector, n_all.non_trimmed,
             n_all.non_scraped, SectorCount(all), RangesText(all));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  for (const Volume& v : kVolumes) {
    for (uint32_t block_size : kBlockSizes)
      CheckOne(BadBlockFormat::kBadblocks, text, block_size, v);
    CheckOne(BadBlockFormat::kMd, text, kDefaultBadBlocksBlockSize, v);
    CheckOne(BadBlockFormat::kDdrescue, text, kDefaultBadBlocksBlockSize, v);
    CheckDdrescueKinds(text, v);
  }
  return 0;
}
