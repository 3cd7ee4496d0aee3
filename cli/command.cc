#include "command.h"

#include <cstdio>

#include <fmt/format.h>

namespace remapfs::cli {
namespace {

// "SPARE is required", "MAIN and SPARE are required",
// "MAIN, SPARE and FILE are required".
std::string MissingOperands(const std::vector<std::string_view>& names) {
  std::string list;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) list += i + 1 == names.size() ? " and " : ", ";
    list += names[i];
  }
  return list + (names.size() == 1 ? " is required" : " are required");
}

}  // namespace

std::optional<int> ParseCommandLine(const CommandSpec& spec, const std::vector<std::string>& args,
                                    ParsedArgs* out) {
  std::string error;
  if (!ParseArgs(args, spec.options, out, &error)) return UsageError(spec.name, error);
  return CheckHelpAndOperands(spec, *out);
}

std::optional<int> CheckHelpAndOperands(const CommandSpec& spec, const ParsedArgs& parsed) {
  if (parsed.Has("--help")) return PrintHelp(spec.usage);
  const size_t given = parsed.positionals.size();
  if (given == spec.operands.size()) return std::nullopt;
  if (!spec.operand_error.empty()) return UsageError(spec.name, spec.operand_error);
  return UsageError(spec.name, given < spec.operands.size() ? MissingOperands(spec.operands)
                                                            : "too many arguments");
}

int PrintHelp(std::string_view text) {
  fmt::print("{}", text);
  return kExitOk;
}

int UsageError(std::string_view cmd, std::string_view message) {
  fmt::print(stderr, "remapfs {}: {}\nTry 'remapfs {} --help'.\n", cmd, message, cmd);
  return kExitUsage;
}

int Fail(std::string_view cmd, std::string_view message, int code) {
  fmt::print(stderr, "remapfs {}: {}\n", cmd, message);
  return code;
}

}  // namespace remapfs::cli
