// Offline verification of a spare's metadata against the SPEC invariants
// (1-4 and 7; 5 and 6 are properties of code and commits, not of bytes).
//
// Pure: reads an opened MetadataStore and reports. With repair, table
// entries that break an invariant are freed in one commit; copies are
// repaired by MetadataStore::Open itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "remapfs/metadata.h"

namespace remapfs {

struct Finding {
  bool repaired = false;  // false: the problem is still there
  std::string message;
};

struct CheckResult {
  std::vector<Finding> findings;
  uint64_t remapped = 0;  // active entries
  uint64_t pending = 0;

  bool HasProblems() const;
  bool HasRepairs() const;
  // fsck convention: 0 clean, 1 problems repaired, 4 problems left.
  int ExitCode() const;
};

// `main_bytes`, `main`: MAIN's actual size and binding when known (check
// --main); a MAIN other than the one the spare is bound to is a problem
// that repair leaves alone (mount --rebind is the deliberate way).
CheckResult CheckSpare(MetadataStore* store, bool repair, std::optional<uint64_t> main_bytes,
                       const MainBinding* main = nullptr);

}  // namespace remapfs
