// A small, predictable argument parser for the remapfs subcommands.
//
// Hand-written rather than getopt: no permutation surprises, no abbreviated
// long options. Options may appear anywhere after the subcommand; `--`
// ends them. A value is given as `--opt VALUE`, `--opt=VALUE`, `-o VALUE`
// or `-oVALUE`. Only options listed as repeatable may be given twice.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remapfs::cli {

struct OptionSpec {
  std::string_view name;  // "--force", "-o", "-f"
  bool takes_value = false;
  bool repeatable = false;
};

class ParsedArgs {
 public:
  std::vector<std::string> positionals;

  bool Has(std::string_view name) const { return values_.count(std::string(name)) > 0; }
  // The value of a non-repeatable option, if given.
  std::optional<std::string> Value(std::string_view name) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> Values(std::string_view name) const;

 private:
  friend bool ParseArgs(const std::vector<std::string>&, const std::vector<OptionSpec>&,
                        ParsedArgs*, std::string*);
  std::map<std::string, std::vector<std::string>> values_;
};

// False with `error` set ("unknown option '--x'", "option '--name' needs a
// value", ...); an unknown long option one typo away from a known one adds
// "; did you mean '--y'?". `--help` is always accepted as a flag.
bool ParseArgs(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
               ParsedArgs* out, std::string* error);

}  // namespace remapfs::cli
