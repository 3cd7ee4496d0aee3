#include "mount_options.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

namespace remapfs::cli {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "1.5" seconds as 1500 ms; false for anything but digits with up to three
// decimals. Nine integer digits at most, so nothing overflows.
bool ParseMilliseconds(std::string_view number, uint64_t scale, uint64_t* ms) {
  size_t dot = number.find('.');
  std::string_view whole = number.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : number.substr(dot + 1);
  if (!AllDigits(whole) || whole.size() > 9) return false;
  if (dot != std::string_view::npos && (scale == 1 || !AllDigits(frac) || frac.size() > 3))
    return false;
  uint64_t value = std::stoull(std::string(whole)) * scale;
  uint64_t frac_scale = scale;
  for (char c : frac) {
    frac_scale /= 10;
    value += static_cast<uint64_t>(c - '0') * frac_scale;
  }
  *ms = value;
  return true;
}

// libfuse's -o syntax: ',' separates, '\' escapes the next character.
std::vector<std::string> SplitOptionList(std::string_view group) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < group.size(); ++i) {
    if (group[i] == '\\' && i + 1 < group.size()) {
      out.back() += group.substr(i, 2);  // kept escaped: FUSE unescapes
      ++i;
    } else if (group[i] == ',') {
      out.emplace_back();
    } else {
      out.back() += group[i];
    }
  }
  return out;
}

std::string Unescape(std::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

struct OwnOption {
  std::string_view key;   // in -o
  std::string_view flag;  // the command-line form
  bool takes_value = true;
};

constexpr std::array<OwnOption, 9> kOwnOptions = {{
    {"error_recovery_time", "--error-recovery-time"},
    {"read_retries", "--read-retries"},
    {"scrub_rate", "--scrub-rate"},
    {"direct_io", "--direct-io"},
    {"name", "--name"},
    {"log_file", "--log-file"},
    {"log_level", "--log-level"},
    {"rebind", "--rebind", false},
    {"clear_dead_mount", "--clear-dead-mount", false},
}};

}  // namespace

std::optional<std::string> ParseErrorRecoveryTime(std::string_view text,
                                                  std::chrono::milliseconds* out) {
  const std::string refusal = fmt::format(
      "--error-recovery-time must be a duration from 0 to {}s with the unit ms "
      "or s (such as 500ms or 5s), not '{}'",
      kMaxErrorRecoveryTime.count() / 1000, text);
  uint64_t ms = 0;
  if (text != "0") {
    const bool millis = text.size() > 2 && text.substr(text.size() - 2) == "ms";
    const bool secs = !millis && text.size() > 1 && text.back() == 's';
    if (!millis && !secs) return refusal;
    std::string_view number = text.substr(0, text.size() - (millis ? 2 : 1));
    if (!ParseMilliseconds(number, millis ? 1 : 1000, &ms)) return refusal;
  }
  if (ms > static_cast<uint64_t>(kMaxErrorRecoveryTime.count())) return refusal;
  *out = std::chrono::milliseconds(ms);
  return std::nullopt;
}

std::optional<std::string> SplitFuseOptions(const std::vector<std::string>& o_values,
                                            SplitMountOptions* out) {
  for (const std::string& group : o_values) {
    std::string kept;
    for (const std::string& opt : SplitOptionList(group)) {
      const size_t eq = opt.find('=');
      const std::string_view key = std::string_view(opt).substr(0, eq);
      auto own = std::find_if(kOwnOptions.begin(), kOwnOptions.end(),
                              [&](const OwnOption& o) { return o.key == key; });
      if (own == kOwnOptions.end()) {
        if (opt.empty()) continue;
        kept += (kept.empty() ? "" : ",") + opt;
        continue;
      }
      if (!own->takes_value) {
        if (eq != std::string::npos)
          return fmt::format("-o {} takes no value (a flag, as {})", key, own->flag);
        out->cli_args.emplace_back(own->flag);
        continue;
      }
      if (eq == std::string::npos || eq + 1 == opt.size()) {
        return fmt::format("-o {} needs a value ({}=VALUE, as {} VALUE)", key, key, own->flag);
      }
      out->cli_args.emplace_back(own->flag);
      out->cli_args.push_back(Unescape(std::string_view(opt).substr(eq + 1)));
    }
    if (!kept.empty()) out->fuse_options.push_back(std::move(kept));
  }
  return std::nullopt;
}

}  // namespace remapfs::cli
