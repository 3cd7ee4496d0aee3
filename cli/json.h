// The JSON that `info --json` and `check --json` print: one compact object
// on one line, keys in the order they are added. A writer only; remapfs
// reads no JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/metadata.h"

namespace remapfs::cli {

class JsonObject {
 public:
  JsonObject& String(std::string_view key, std::string_view value);
  JsonObject& Number(std::string_view key, uint64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  // `json` is a value written already: JsonArray(...), JsonObject::Text().
  JsonObject& Raw(std::string_view key, std::string_view json);

  std::string Text() const { return "{" + fields_ + "}"; }

 private:
  std::string fields_;
};

// "[a,b,...]" of values written already.
std::string JsonArray(const std::vector<std::string>& values);

// A JSON string literal, quoted and escaped.
std::string JsonQuote(std::string_view text);

// The metadata copies of `store`, the same in `info` and `check`: one
// object per copy with index, first and last (its spare sectors), state,
// sequence, problem ("" when valid) and rewritten (repaired at open).
std::string CopyReportsJson(const MetadataStore& store);

}  // namespace remapfs::cli
