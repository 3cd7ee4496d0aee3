// The skeleton every subcommand starts from: a table of its options, the
// names of its operands and its --help text, parsed the same way for all,
// and the messages and exit codes they share.
//
// Exit codes: 0 success, 1 refused or failed, 2 usage error. `check` uses
// the fsck codes instead (0 clean, 1 repaired, 4 problems left, 8 could not
// run).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "args.h"

namespace remapfs::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct CommandSpec {
  std::string_view name;                   // "resize-spare": "remapfs resize-spare: ..."
  std::string_view usage;                  // the --help text
  std::vector<OptionSpec> options;         // --help is always accepted
  std::vector<std::string_view> operands;  // exactly these, in order: "MAIN", "SPARE"
  // The usage error for a wrong number of operands. Empty: "MAIN and SPARE
  // are required" when too few, "too many arguments" when too many.
  std::string_view operand_error = {};
};

// Parses `args` against `spec`'s options, then CheckHelpAndOperands. Returns
// nullopt with `out` filled when the command goes on; otherwise the exit
// code, with the help or the usage error already printed.
std::optional<int> ParseCommandLine(const CommandSpec& spec, const std::vector<std::string>& args,
                                    ParsedArgs* out);

// The second half of ParseCommandLine, for a command that parses its
// options itself (mount rewrites the -o lists of fstab): --help prints the
// usage and returns 0; a wrong number of operands is a usage error (2).
std::optional<int> CheckHelpAndOperands(const CommandSpec& spec, const ParsedArgs& parsed);

// Prints a command's --help text on stdout; returns 0.
int PrintHelp(std::string_view text);
// "remapfs <cmd>: <message>" and a pointer to --help on stderr; returns 2.
int UsageError(std::string_view cmd, std::string_view message);
// "remapfs <cmd>: <message>" on stderr; returns `code`.
int Fail(std::string_view cmd, std::string_view message, int code = kExitFailed);

}  // namespace remapfs::cli
