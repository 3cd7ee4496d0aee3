#include "args.h"

#include <algorithm>

#include "suggest.h"

namespace remapfs::cli {
namespace {

const OptionSpec* FindSpec(const std::vector<OptionSpec>& specs, std::string_view name) {
  static constexpr OptionSpec kHelp{"--help", false, true};
  if (name == kHelp.name) return &kHelp;
  auto it = std::find_if(specs.begin(), specs.end(),
                         [&](const OptionSpec& s) { return s.name == name; });
  return it == specs.end() ? nullptr : &*it;
}

// Splits "--opt=value" and "-oVALUE" into name and inline value.
void SplitInline(const std::string& arg, std::string* name,
                 std::optional<std::string>* inline_value) {
  if (arg.rfind("--", 0) == 0) {
    size_t eq = arg.find('=');
    *name = arg.substr(0, eq);
    if (eq != std::string::npos) *inline_value = arg.substr(eq + 1);
  } else if (arg.size() > 2) {
    *name = arg.substr(0, 2);
    *inline_value = arg.substr(2);
  } else {
    *name = arg;
  }
}

// "unknown option '--forse=1'", and "; did you mean '--force'?" when a long
// option `name` is one typo away from one of `specs` (dashes not counted).
std::string UnknownOption(const std::vector<OptionSpec>& specs, const std::string& arg,
                          std::string_view name) {
  std::string error = "unknown option '" + arg + "'";
  if (name.rfind("--", 0) != 0) return error;
  std::vector<std::string_view> longs = {"help"};
  for (const OptionSpec& s : specs) {
    if (s.name.rfind("--", 0) == 0) longs.push_back(s.name.substr(2));
  }
  if (auto match = ClosestMatch(name.substr(2), longs)) {
    error += "; did you mean '--" + std::string(*match) + "'?";
  }
  return error;
}

}  // namespace

std::optional<std::string> ParsedArgs::Value(std::string_view name) const {
  auto it = values_.find(std::string(name));
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::Values(std::string_view name) const {
  auto it = values_.find(std::string(name));
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
               ParsedArgs* out, std::string* error) {
  bool options_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      out->positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name;
    std::optional<std::string> value;
    SplitInline(arg, &name, &value);
    const OptionSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      *error = UnknownOption(specs, arg, name);
      return false;
    }
    if (!spec->takes_value && value) {
      *error = "option '" + name + "' takes no value";
      return false;
    }
    if (spec->takes_value && !value) {
      if (i + 1 >= args.size()) {
        *error = "option '" + name + "' needs a value";
        return false;
      }
      value = args[++i];
    }
    std::vector<std::string>& slot = out->values_[name];
    if (!slot.empty() && !spec->repeatable) {
      *error = "option '" + name + "' given more than once";
      return false;
    }
    slot.push_back(value.value_or(""));
  }
  return true;
}

}  // namespace remapfs::cli
