// remapfs check: verify a spare offline and exit like fsck.
#include <fmt/format.h>

#include "command.h"
#include "common.h"
#include "json.h"
#include "progress.h"
#include "remapfs/spare_checker.h"
#include "subcommands.h"

namespace remapfs::cli {
namespace {

constexpr std::string_view kCmd = "check";
constexpr int kExitProblemsLeft = 4;
constexpr int kExitCouldNotRun = 8;
constexpr const char* kUsage = R"(Usage: remapfs check SPARE [--main MAIN] [--repair] [--json]

Verifies the metadata in SPARE offline: every copy, the reservations, the
remap table. Exit status as fsck: 0 clean, 1 problems repaired, 4 problems
left, 8 could not run. SPARE must not be mounted.

Options:
  --main MAIN   also check that MAIN is the one SPARE was formatted for (its
                identity and size)
  --repair      rewrite stale or corrupt copies, free broken table entries
  --json        one JSON object instead of text
  --help        show this help
)";

struct CheckRequest {
  std::string spare_path;
  std::optional<std::string> main_path;
  bool repair = false;
  bool json = false;
};

const CommandSpec kCommand{kCmd, kUsage, {{"--main", true}, {"--repair"}, {"--json"}}, {"SPARE"}};

std::optional<int> ParseRequest(const std::vector<std::string>& args, CheckRequest* req) {
  ParsedArgs parsed;
  if (auto code = ParseCommandLine(kCommand, args, &parsed)) return code;
  req->spare_path = parsed.positionals[0];
  req->main_path = parsed.Value("--main");
  req->repair = parsed.Has("--repair");
  req->json = parsed.Has("--json");
  return std::nullopt;
}

std::string_view Verdict(int code) {
  switch (code) {
    case 0: return "clean";
    case 1: return "repaired";
    case 4: return "problems";
    default: return "could-not-run";
  }
}

// The keys every `check --json` object starts with.
Json JsonHead(const CheckRequest& req, int code) {
  Json head;
  head["spare_path"] = req.spare_path;
  head["exit_code"] = code;
  head["result"] = Verdict(code);
  return head;
}

Json FindingJson(bool repaired, std::string_view message) {
  return Json{{"repaired", repaired}, {"message", message}};
}

// `could not run`: the reason in the same shape as a finished check.
int ReportCouldNotRun(const CheckRequest& req, const std::string& reason) {
  if (req.json) {
    Json j = JsonHead(req, kExitCouldNotRun);
    j["error"] = reason;
    j["findings"] = Json::array();
    fmt::print("{}", JsonLine(j));
  }
  return Fail(kCmd, reason, kExitCouldNotRun);
}

// The spare holds remapfs metadata that no copy can rebuild: problems left.
int ReportUnrecoverable(const CheckRequest& req, const std::string& reason) {
  if (req.json) {
    Json j = JsonHead(req, kExitProblemsLeft);
    j["error"] = reason;
    j["findings"] = Json::array({FindingJson(false, reason)});
    fmt::print("{}", JsonLine(j));
  }
  return Fail(kCmd, reason, kExitProblemsLeft);
}

void PrintText(const CheckRequest& req, const MetadataStore& store, const CheckResult& result) {
  for (const Finding& f : result.findings) {
    fmt::print("{}: {}\n", f.repaired ? "repaired" : "problem", f.message);
  }
  size_t left = 0;
  for (const Finding& f : result.findings) left += f.repaired ? 0 : 1;
  fmt::print("{}: {}; {} problem(s) left, {} repaired; {}/{} metadata copies "
             "valid at sequence {}; {} remapped, {} pending\n",
             req.spare_path, Verdict(result.ExitCode()), left, result.findings.size() - left,
             store.valid_copies(), store.copy_reports().size(), store.sequence(), result.remapped,
             result.pending);
}

void PrintJson(const CheckRequest& req, const MetadataStore& store, const CheckResult& result) {
  Json j = JsonHead(req, result.ExitCode());
  j["findings"] = Json::array();
  for (const Finding& f : result.findings)
    j["findings"].push_back(FindingJson(f.repaired, f.message));
  j["copies"] = CopyReportsJson(store);
  j["metadata_valid_copies"] = store.valid_copies();
  j["metadata_sequence"] = store.sequence();
  j["remapped"] = result.remapped;
  j["pending"] = result.pending;
  fmt::print("{}", JsonLine(j));
}

}  // namespace

int RunCheck(const std::vector<std::string>& args) {
  CheckRequest req;
  if (auto code = ParseRequest(args, &req)) return *code;
  std::optional<uint64_t> main_bytes;
  std::optional<MainBinding> main;
  if (req.main_path) {
    uint64_t bytes = 0;
    Status st = DeviceSize(*req.main_path, &bytes);
    if (st.ok()) st = BindingOfMain(*req.main_path, &main.emplace());
    if (!st.ok()) return ReportCouldNotRun(req, DescribeOpenError("MAIN", *req.main_path, st));
    main_bytes = bytes;
  }
  OfflineSpare spare;
  std::string message;
  ProgressBar bar("reading metadata copies", ProgressUnit::kSectors,
                  req.json ? nullptr : ProgressBar::DefaultOutput());
  Status opened = OpenOfflineSpare(req.spare_path, req.repair, &spare, &message, bar.Fn());
  bar.Erase();
  if (Status st = opened; !st.ok()) {
    // Metadata that is there but cannot be recovered is a finding, not a
    // check that could not run.
    const bool examined = spare.device && MetadataStore::LooksFormatted(spare.device.get()) &&
                          (st.IsCorruption() || st.IsInvalidArgument());
    return examined ? ReportUnrecoverable(req, message) : ReportCouldNotRun(req, message);
  }
  CheckResult result = CheckSpare(spare.store.get(), req.repair, main_bytes,
                                  main ? &*main : nullptr);
  if (req.json) {
    PrintJson(req, *spare.store, result);
  } else {
    PrintText(req, *spare.store, result);
  }
  return result.ExitCode();
}

}  // namespace remapfs::cli
