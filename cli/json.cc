#include "json.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace remapfs::cli {

JsonObject& JsonObject::Raw(std::string_view key, std::string_view json) {
  if (!fields_.empty()) fields_ += ',';
  fields_ += JsonQuote(key);
  fields_ += ':';
  fields_ += json;
  return *this;
}

JsonObject& JsonObject::String(std::string_view key, std::string_view value) {
  return Raw(key, JsonQuote(value));
}

JsonObject& JsonObject::Number(std::string_view key, uint64_t value) {
  return Raw(key, fmt::format("{}", value));
}

JsonObject& JsonObject::Bool(std::string_view key, bool value) {
  return Raw(key, value ? "true" : "false");
}

std::string JsonArray(const std::vector<std::string>& values) {
  return fmt::format("[{}]", fmt::join(values, ","));
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string CopyReportsJson(const MetadataStore& store) {
  const uint64_t copy_sectors = store.geometry().placement.copy_sectors;
  std::vector<std::string> copies;
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& r = reports[i];
    copies.push_back(JsonObject()
                         .Number("index", i)
                         .Number("first", r.start)
                         .Number("last", r.start + copy_sectors - 1)
                         .String("state", CopyStateName(r.state))
                         .Number("sequence", r.sequence)
                         .String("problem", r.problem)
                         .Bool("rewritten", r.rewritten)
                         .Text());
  }
  return JsonArray(copies);
}

}  // namespace remapfs::cli
