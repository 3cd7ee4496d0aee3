// The remapfs subcommands. Each takes the arguments after its name and
// returns the process exit code (command.h); messages go to stdout
// (results) and stderr ("remapfs <cmd>: <what is wrong>").
#pragma once

#include <string>
#include <vector>

namespace remapfs::cli {

int RunFormat(const std::vector<std::string>& args);
int RunMount(const std::vector<std::string>& args);
int RunCheck(const std::vector<std::string>& args);
int RunInfo(const std::vector<std::string>& args);
int RunResizeSpare(const std::vector<std::string>& args);
int RunMark(const std::vector<std::string>& args);
int RunStatus(const std::vector<std::string>& args);

}  // namespace remapfs::cli
