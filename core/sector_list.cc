// The control-file sector-list grammar and CLI byte sizes.
// See include/remapfs/sector_list.h and SPEC "Control-file input grammar".
#include "remapfs/sector_list.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace remapfs {

namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr size_t kMaxTokenInMessage = 40;

bool IsSeparator(char c) { return c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r'; }

// A token as it may appear in a message: about 40 characters, control
// and non-ASCII bytes escaped, so junk input yields a readable one-line error.
std::string Printable(std::string_view token) {
  std::string out;
  size_t i = 0;
  for (; i < token.size() && out.size() < kMaxTokenInMessage; ++i) {
    auto c = static_cast<unsigned char>(token[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (i < token.size()) out += "...";
  return out;
}

Status BadToken(std::string_view token, std::string_view why) {
  return Status::InvalidArgument("bad token \"" + Printable(token) + "\": " + std::string(why));
}

int DigitValue(char c, unsigned base) {
  if (c >= '0' && c <= '9') return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a decimal or 0x-hex number from the front of `s`, consuming it.
// Returns a reason on failure, nullptr on success.
const char* ParseNumber(std::string_view& s, uint64_t* value) {
  unsigned base = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  uint64_t v = 0;
  size_t digits = 0;
  for (; digits < s.size(); ++digits) {
    int d = DigitValue(s[digits], base);
    if (d < 0) break;
    if (v > (kU64Max - static_cast<uint64_t>(d)) / base) return "number too large";
    v = v * base + static_cast<uint64_t>(d);
  }
  if (digits == 0) return base == 16 ? "no hex digits after 0x" : "expected a number";
  s.remove_prefix(digits);
  *value = v;
  return nullptr;
}

// One token: N, N-M or N+C. The range is checked against [0, limit).
Status ParseToken(std::string_view token, uint64_t limit, SectorRange* range) {
  std::string_view rest = token;
  uint64_t first = 0;
  if (const char* why = ParseNumber(rest, &first)) return BadToken(token, why);
  uint64_t last = first;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    const char op = rest[0];
    rest.remove_prefix(1);
    uint64_t second = 0;
    if (const char* why = ParseNumber(rest, &second)) return BadToken(token, why);
    if (op == '-') {
      if (second < first) return BadToken(token, "end before start");
      last = second;
    } else {
      if (second == 0) return BadToken(token, "count must be at least 1");
      if (second - 1 > kU64Max - first) return BadToken(token, "range too large");
      last = first + (second - 1);
    }
  }
  if (!rest.empty()) return BadToken(token, "unexpected characters");
  if (last >= limit) {
    const uint64_t outside = first >= limit ? first : limit;
    if (limit == 0) {
      return Status::InvalidArgument("sector " + std::to_string(outside) +
                                     " is outside main (main has no sectors)");
    }
    return Status::InvalidArgument("sector " + std::to_string(outside) + " is outside main (0.." +
                                   std::to_string(limit - 1) + ")");
  }
  *range = SectorRange{first, last};
  return Status::Ok();
}

}  // namespace

Status ParseSectorList(std::string_view text, uint64_t limit, std::vector<SectorRange>* out) {
  out->clear();
  std::vector<SectorRange> ranges;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (IsSeparator(c)) {
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
    } else {
      size_t end = i;
      while (end < text.size() && !IsSeparator(text[end]) && text[end] != '#') ++end;
      SectorRange range;
      REMAPFS_RETURN_IF_ERROR(ParseToken(text.substr(i, end - i), limit, &range));
      ranges.push_back(range);
      i = end;
    }
  }
  if (ranges.empty()) return Status::InvalidArgument("no sectors given");
  *out = std::move(ranges);
  return Status::Ok();
}

std::vector<SectorRange> NormalizeRanges(std::vector<SectorRange> ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const SectorRange& a, const SectorRange& b) {
    return a.first < b.first || (a.first == b.first && a.last < b.last);
  });
  std::vector<SectorRange> merged;
  for (const SectorRange& r : ranges) {
    // Adjacent (last + 1 == first) merges too; last == max swallows the rest.
    if (!merged.empty() && (merged.back().last == kU64Max || r.first <= merged.back().last + 1)) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

Status ParseByteSize(std::string_view text, uint64_t* bytes) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("bad size \"" + Printable(text) + "\": " + std::string(why));
  };
  uint64_t value = 0;
  size_t digits = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    const uint64_t d = static_cast<uint64_t>(text[digits] - '0');
    if (value > (kU64Max - d) / 10) return bad("too large");
    value = value * 10 + d;
  }
  if (digits == 0) return bad("expected a number with an optional K, M, G or T suffix");
  std::string_view suffix = text.substr(digits);
  unsigned shift = 0;
  if (suffix.size() > 1) return bad("unknown suffix");
  if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'K':
      case 'k': shift = 10; break;
      case 'M':
      case 'm': shift = 20; break;
      case 'G':
      case 'g': shift = 30; break;
      case 'T':
      case 't': shift = 40; break;
      default: return bad("unknown suffix");
    }
  }
  if (value == 0) return bad("size must not be zero");
  if (value > (kU64Max >> shift)) return bad("too large");
  *bytes = value << shift;
  return Status::Ok();
}

}  // namespace remapfs
