#include "json.h"

namespace remapfs::cli {

Json CopyReportsJson(const MetadataStore& store) {
  const uint64_t copy_sectors = store.geometry().placement.copy_sectors;
  Json copies = Json::array();
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& r = reports[i];
    Json c;
    c["index"] = i;
    c["first"] = r.start;
    c["last"] = r.start + copy_sectors - 1;
    c["state"] = CopyStateName(r.state);
    c["sequence"] = r.sequence;
    c["problem"] = r.problem;
    c["rewritten"] = r.rewritten;
    copies.push_back(std::move(c));
  }
  return copies;
}

std::string JsonLine(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace remapfs::cli
