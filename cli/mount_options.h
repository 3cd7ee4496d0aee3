// Options of `remapfs mount` that need more than a lookup: the
// --error-recovery-time duration, and remapfs's own options given inside
// `-o` lists, as fstab and systemd mount units (through mount.fuse3) can
// only give them. Pure functions, thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remapfs::cli {

// The longest --error-recovery-time accepted: ten minutes, far beyond a
// drive's own retries; beyond it a guest's disk timeout has long fired.
inline constexpr std::chrono::milliseconds kMaxErrorRecoveryTime{600'000};

// DURATION is a number with the unit `ms` or `s` ("500ms", "5s", "1.5s",
// at most three decimals for seconds); a bare "0" needs no unit. A bare
// number otherwise is refused: "5" could mean 5 s or 5 ms. The reason, as
// a complete sentence about --error-recovery-time, when malformed or
// outside 0..kMaxErrorRecoveryTime.
std::optional<std::string> ParseErrorRecoveryTime(std::string_view text,
                                                  std::chrono::milliseconds* out);

struct SplitMountOptions {
  // The -o values with remapfs's own options taken out, still in libfuse's
  // syntax; groups left empty are dropped.
  std::vector<std::string> fuse_options;
  // The options taken out, as the equivalent command-line arguments
  // ("--error-recovery-time", "2s", ...), so they are validated by, and
  // collide with, the same code as the `--` forms.
  std::vector<std::string> cli_args;
};

// Takes error_recovery_time=, read_retries=, scrub_rate=, direct_io=,
// name=, log_file=, log_level= and the flags rebind and clear_dead_mount out
// of the -o values (comma lists with libfuse's `\` escape). The reason when
// one of them has no value (`-o name`) or a flag has one (`-o rebind=1`).
std::optional<std::string> SplitFuseOptions(const std::vector<std::string>& o_values,
                                            SplitMountOptions* out);

}  // namespace remapfs::cli
