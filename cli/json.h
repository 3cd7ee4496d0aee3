// The JSON pieces `info --json` and `check --json` share (nlohmann-json;
// `status --json` is core/status_json.cc). Keys are the control/status
// names wherever the same quantity appears.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "remapfs/metadata.h"

namespace remapfs::cli {

using Json = nlohmann::ordered_json;

// The metadata copies of `store`, the same in `info` and `check`: one
// object per copy with index, first and last (its spare sectors), state,
// sequence, problem ("" when valid) and rewritten (repaired at open).
Json CopyReportsJson(const MetadataStore& store);

// One line of compact JSON; text that is not UTF-8 is replaced, not thrown.
std::string JsonLine(const Json& j);

}  // namespace remapfs::cli
