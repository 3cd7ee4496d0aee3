// The control-file sector-list grammar and CLI byte sizes: accepted forms,
// every refusal with its message, hostile input, and a randomized
// round trip against a model.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "remapfs/sector_list.h"

using namespace remapfs;
using Ranges = std::vector<SectorRange>;

namespace {

constexpr uint64_t kMain = 2048;

Ranges MustParse(std::string_view text, uint64_t limit = kMain) {
  Ranges out;
  Status st = ParseSectorList(text, limit, &out);
  INFO(st.ToString());
  REQUIRE(st.ok());
  return out;
}

// Parses text that must be refused; returns the message.
std::string MustRefuse(std::string_view text, uint64_t limit = kMain) {
  Ranges out = {{1, 1}};  // must be emptied
  Status st = ParseSectorList(text, limit, &out);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(out.empty());
  return st.message();
}

std::string HexDigits(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v % 16]);
    v /= 16;
  } while (v != 0);
  return out;
}

}  // namespace

TEST_CASE("givenEachTokenForm_whenParsed_thenRangesAreInclusive", "[sector_list]") {
  REQUIRE(MustParse("5") == Ranges{{5, 5}});
  REQUIRE(MustParse("1-3") == Ranges{{1, 3}});
  REQUIRE(MustParse("7-7") == Ranges{{7, 7}});
  REQUIRE(MustParse("10+4") == Ranges{{10, 13}});
  REQUIRE(MustParse("0x10") == Ranges{{16, 16}});
  REQUIRE(MustParse("0X1f-0x20") == Ranges{{31, 32}});
  REQUIRE(MustParse("0xA+0x2") == Ranges{{10, 11}});
  REQUIRE(MustParse("007") == Ranges{{7, 7}});
  REQUIRE(MustParse("2047") == Ranges{{2047, 2047}});
  REQUIRE(MustParse("2040+8") == Ranges{{2040, 2047}});
}

TEST_CASE("givenSeparatorsAndComments_whenParsed_thenOnlyTokensCount", "[sector_list]") {
  REQUIRE(MustParse("1, 2\t3\n4,,5  \n") == Ranges{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}});
  REQUIRE(MustParse("# header\n1 # 2 3\n4") == Ranges{{1, 1}, {4, 4}});
  REQUIRE(MustParse("5#comment right after") == Ranges{{5, 5}});
  REQUIRE(MustParse("8\r\n9\r\n") == Ranges{{8, 8}, {9, 9}});
  REQUIRE(MustParse("3 1 3") == Ranges{{3, 3}, {1, 1}, {3, 3}});  // order kept
}

TEST_CASE("givenBadTokens_whenParsed_thenRefusedNamingTheToken", "[sector_list]") {
  REQUIRE(MustRefuse("1 5-3 2") == "bad token \"5-3\": end before start");
  REQUIRE(MustRefuse("7+0") == "bad token \"7+0\": count must be at least 1");
  REQUIRE(MustRefuse("0x") == "bad token \"0x\": no hex digits after 0x");
  REQUIRE(MustRefuse("-5") == "bad token \"-5\": expected a number");
  REQUIRE(MustRefuse("5-") == "bad token \"5-\": expected a number");
  REQUIRE(MustRefuse("5+") == "bad token \"5+\": expected a number");
  REQUIRE(MustRefuse("5--6") == "bad token \"5--6\": expected a number");
  REQUIRE(MustRefuse("5-6-7") == "bad token \"5-6-7\": unexpected characters");
  REQUIRE(MustRefuse("12abc") == "bad token \"12abc\": unexpected characters");
  REQUIRE(MustRefuse("0x1g") == "bad token \"0x1g\": unexpected characters");
  REQUIRE(MustRefuse("1;2") == "bad token \"1;2\": unexpected characters");
  REQUIRE(MustRefuse("+5") == "bad token \"+5\": expected a number");
  REQUIRE(MustRefuse("1.5") == "bad token \"1.5\": unexpected characters");
}

TEST_CASE("givenNoTokens_whenParsed_thenRefused", "[sector_list]") {
  REQUIRE(MustRefuse("") == "no sectors given");
  REQUIRE(MustRefuse(" \t\n,,") == "no sectors given");
  REQUIRE(MustRefuse("# 1 2 3\n   # 4") == "no sectors given");
}

TEST_CASE("givenSectorsOutsideMain_whenParsed_thenRefusedNamingTheSector", "[sector_list]") {
  REQUIRE(MustRefuse("1 99999") == "sector 99999 is outside main (0..2047)");
  REQUIRE(MustRefuse("2048") == "sector 2048 is outside main (0..2047)");
  REQUIRE(MustRefuse("2040+9") == "sector 2048 is outside main (0..2047)");
  REQUIRE(MustRefuse("2000-5000") == "sector 2048 is outside main (0..2047)");
  REQUIRE(MustRefuse("0", 0) == "sector 0 is outside main (main has no sectors)");
  REQUIRE(MustParse("0", 1) == Ranges{{0, 0}});
}

TEST_CASE("givenHugeNumbers_whenParsed_thenOverflowIsRefusedWithoutUB", "[sector_list]") {
  const uint64_t all = UINT64_MAX;
  REQUIRE(MustParse("18446744073709551614", all) ==
          Ranges{{18446744073709551614ull, 18446744073709551614ull}});
  REQUIRE(MustParse("0xfffffffffffffffe", all) == Ranges{{UINT64_MAX - 1, UINT64_MAX - 1}});
  REQUIRE(MustRefuse("18446744073709551615", all) ==
          "sector 18446744073709551615 is outside main (0..18446744073709551614)");
  REQUIRE(MustRefuse("18446744073709551616", all) ==
          "bad token \"18446744073709551616\": number too large");
  REQUIRE(MustRefuse("0x10000000000000000", all) ==
          "bad token \"0x10000000000000000\": number too large");
  REQUIRE(MustRefuse("99999999999999999999999999", all).find("number too large") !=
          std::string::npos);
  REQUIRE(MustRefuse("2+18446744073709551615", all) ==
          "bad token \"2+18446744073709551615\": range too large");
  REQUIRE(MustParse("0+18446744073709551615", all) == Ranges{{0, UINT64_MAX - 1}});
  REQUIRE(MustRefuse("1-18446744073709551616", all).find("number too large") != std::string::npos);
}

TEST_CASE("givenHostileBytes_whenParsed_thenReadableErrorNoCrash", "[sector_list]") {
  // Embedded NUL and control bytes are escaped in the message.
  REQUIRE(MustRefuse(std::string("1 2\0003 4", 7)) ==
          "bad token \"2\\x003\": unexpected characters");
  REQUIRE(MustRefuse("5\x7f") == "bad token \"5\\x7f\": unexpected characters");
  // A very long token is truncated to 40 characters.
  const std::string message = MustRefuse(std::string(100000, 'a'));
  REQUIRE(message == "bad token \"" + std::string(40, 'a') + "...\": expected a number");
  // 1 MiB of digits: one enormous number.
  REQUIRE(MustRefuse(std::string(1 << 20, '9')).find("number too large") != std::string::npos);
  // 1 MiB of random bytes (with a letter guaranteed) is refused.
  std::mt19937 rng(7);
  std::string junk(1 << 20, '\0');
  for (char& c : junk) c = static_cast<char>(rng() & 0xFF);
  junk[junk.size() / 2] = 'z';
  REQUIRE(MustRefuse(junk).size() < 120);
  // 1 MiB of valid tokens parses completely.
  std::string many;
  for (int i = 0; i < (1 << 19); ++i) many += "1 ";
  REQUIRE(MustParse(many).size() == (1u << 19));
}

TEST_CASE("givenRandomRangeLists_whenFormattedAndParsed_thenRangesRoundTrip", "[sector_list]") {
  std::mt19937_64 rng(42);
  const char* seps[] = {" ", "\t", ",", "\n", " , ", "  # note\n"};
  for (int round = 0; round < 300; ++round) {
    Ranges model;
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      uint64_t first = rng() % kMain;
      uint64_t last = first + rng() % std::min<uint64_t>(kMain - first, 50);
      model.push_back({first, last});
      auto num = [&](uint64_t v) { return rng() % 2 ? std::to_string(v) : "0x" + HexDigits(v); };
      switch (rng() % 3) {
        case 0: text += first == last ? num(first) : num(first) + "-" + num(last); break;
        case 1: text += num(first) + "-" + num(last); break;
        default: text += num(first) + "+" + num(last - first + 1); break;
      }
      text += seps[rng() % 6];
    }
    CAPTURE(text);
    REQUIRE(MustParse(text) == model);
  }
}

TEST_CASE("givenOverlappingRanges_whenNormalized_thenSortedAndMerged", "[sector_list]") {
  REQUIRE(NormalizeRanges({}).empty());
  REQUIRE(NormalizeRanges({{5, 9}, {1, 2}, {3, 4}, {10, 10}, {20, 30}, {25, 26}, {32, 33}}) ==
          Ranges{{1, 10}, {20, 30}, {32, 33}});
  REQUIRE(NormalizeRanges({{4, 4}, {4, 4}}) == Ranges{{4, 4}});
  REQUIRE(NormalizeRanges({{5, 6}, {0, UINT64_MAX}}) == Ranges{{0, UINT64_MAX}});
  REQUIRE(NormalizeRanges({{UINT64_MAX, UINT64_MAX}, {0, 0}}) ==
          Ranges{{0, 0}, {UINT64_MAX, UINT64_MAX}});
  REQUIRE(NormalizeRanges({{10, UINT64_MAX}, {UINT64_MAX, UINT64_MAX}}) ==
          Ranges{{10, UINT64_MAX}});
}

TEST_CASE("givenByteSizes_whenParsed_thenPowersOf1024", "[sector_list]") {
  uint64_t bytes = 0;
  const std::pair<const char*, uint64_t> good[] = {{"4096", 4096},
                                                   {"64K", 64ull << 10},
                                                   {"1M", 1ull << 20},
                                                   {"2G", 2ull << 30},
                                                   {"1T", 1ull << 40},
                                                   {"3k", 3072},
                                                   {"16777215T", 16777215ull << 40},
                                                   {"18446744073709551615", UINT64_MAX}};
  for (auto [text, want] : good) {
    CAPTURE(text);
    REQUIRE(ParseByteSize(text, &bytes).ok());
    REQUIRE(bytes == want);
  }
  bytes = 123;
  for (const char* text : {"", "0", "0K", "K", "1X", "1KB", "1 K", " 1", "-1", "1.5M", "0x10",
                           "18446744073709551616", "16777216T", "1P"}) {
    CAPTURE(text);
    Status st = ParseByteSize(text, &bytes);
    REQUIRE(st.IsInvalidArgument());
    REQUIRE(bytes == 123);
  }
  REQUIRE(ParseByteSize("1X", &bytes).message() == "bad size \"1X\": unknown suffix");
}
