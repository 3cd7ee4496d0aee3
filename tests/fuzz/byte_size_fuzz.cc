// Fuzzes the CLI size parser (ParseByteSize: --spare-size, resize-spare).
//
// Invariants beyond "no crash": the result agrees with an independent
// reading of the text (decimal digits, then at most one of K M G T in either
// case, powers of 1024; zero and anything past 2^64-1 refused); an accepted
// size is nonzero and equals number x unit; rendering it back, plain and
// with the largest unit that divides it, re-parses to the same value.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "remapfs/sector_list.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

constexpr std::string_view kUnits = "KMGT";

// The independent reading: false when the text is not a valid size.
bool ExpectedBytes(std::string_view text, uint64_t* bytes) {
  size_t digits = 0;
  unsigned __int128 number = 0;
  const unsigned __int128 kCap = static_cast<unsigned __int128>(1) << 80;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits)
    number = std::min(kCap, number * 10 + static_cast<unsigned>(text[digits] - '0'));
  if (digits == 0 || number == 0 || text.size() - digits > 1) return false;
  unsigned shift = 0;
  if (digits < text.size()) {
    const size_t unit = std::string_view("KMGTkmgt").find(text[digits]);
    if (unit == std::string_view::npos) return false;
    shift = 10 * static_cast<unsigned>(unit % 4 + 1);
  }
  const unsigned __int128 value = number << shift;
  if (value > kU64Max) return false;
  *bytes = static_cast<uint64_t>(value);
  return true;
}

void CheckReparses(const std::string& text, uint64_t bytes) {
  uint64_t again = 0;
  const Status st = ParseByteSize(text, &again);
  FUZZ_CHECK(st.ok() && again == bytes, "'{}' gave {} ({}), want {}", text, again, st.ToString(),
             bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  uint64_t bytes = 0, expected = 0;
  const Status st = ParseByteSize(text, &bytes);
  const bool valid = ExpectedBytes(text, &expected);
  FUZZ_CHECK(st.ok() == valid, "parser says {}, independent reading says {}", st.ToString(),
             valid ? fmt::format("{} bytes", expected) : "invalid");
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument() && !st.message().empty(), "{}", st.ToString());
    return 0;
  }
  FUZZ_CHECK(bytes != 0 && bytes == expected, "{} bytes, want {}", bytes, expected);
  CheckReparses(fmt::format("{}", bytes), bytes);
  unsigned unit = 0;
  while (unit < kUnits.size() && bytes % (uint64_t{1} << (10 * (unit + 1))) == 0) ++unit;
  if (unit > 0) CheckReparses(fmt::format("{}{}", bytes >> (10 * unit), kUnits[unit - 1]), bytes);
  return 0;
}
