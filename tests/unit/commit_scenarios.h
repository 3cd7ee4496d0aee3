// The Volume operations that commit, as scenarios the crash and I/O-error
// suites run step by step: add_bad, remove (with its copy-back), the
// auto-remap of a failed write, the pending mark of a failed read, a scrub
// that remaps a weak sector and marks a dead one, and one that only marks.
// Each prepares its volume, runs its operation, and names the sectors whose
// bytes it checks.
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "remapfs/faulty_device.h"
#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;
constexpr uint64_t kSpareBytes = 64 << 10;

struct Scenario {
  std::string name;
  std::function<void(Volume&)> prepare;               // on a healthy volume
  std::function<Status(Volume&, FaultyDevice*)> run;  // gets MAIN's faults
  std::vector<uint64_t> sectors;                      // whose bytes to check
  // The operation writes user data: when it fails, those bytes are
  // unspecified (an unacknowledged write may land in part, or torn).
  bool writes_data = false;
};

// The remap table and the checked sectors' content, as comparable text.
struct View {
  std::string table, bytes;
  bool operator==(const View&) const = default;
};

inline View Look(Volume& v, const std::vector<uint64_t>& sectors) {
  View out{Describe(v.Remaps()), ""};
  std::vector<uint8_t> buf(kSector);
  for (uint64_t s : sectors) {
    const Status st = v.Read(s * kSector, buf.data(), kSector);
    std::ostringstream os;
    os << s << '=';
    if (!st.ok()) os << "EIO";
    else
      for (size_t i = 0; i < buf.size(); i += 61) os << int(buf[i]) << '.';
    out.bytes += os.str() + ' ';
  }
  return out;
}

// MAIN and spare prepared by a scenario, as images.
struct Images {
  std::vector<uint8_t> main, spare;
};

inline Images Prepare(const Scenario& sc) {
  std::shared_ptr<BlockDevice> main = NewMemoryDevice(kMainBytes);
  std::shared_ptr<BlockDevice> spare = NewMemoryDevice(kSpareBytes);
  FillPattern(main.get(), 1);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(
      MetadataStore::Format(spare.get(), MakeGeometry(kSector, kMainBytes, kSpareBytes), &md));
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(main),
                          std::make_unique<SharedDevice>(spare), &v));
  sc.prepare(*v);
  REQUIRE_OK(v->Sync());
  return {Snapshot(main.get()), Snapshot(spare.get())};
}

inline Scenario ScenarioNamed(const std::string& name) {
  auto nothing = [](Volume&) {};
  if (name == "add_bad")
    return {name,
            nothing,
            [](Volume& v, FaultyDevice*) {
              return v.AddBad(Sectors({40, 41, 90}));
            },
            {40, 41, 90}};
  if (name == "remove")
    return {name,
            [](Volume& v) {
              const std::vector<uint8_t> data = Pattern(0, 2 * kSector, 5);
              REQUIRE_OK(v.AddBad(Sectors({40, 41, 90})));
              REQUIRE_OK(v.Write(40 * kSector, data.data(), data.size()));
            },
            [](Volume& v, FaultyDevice*) {
              return v.Remove(Sectors({40, 90}));
            },
            {40, 41, 90}};
  if (name == "auto-remap")
    return {name,
            nothing,
            [](Volume& v, FaultyDevice* main) {
              const std::vector<uint8_t> data = Pattern(0, 3 * kSector, 6);
              main->AddFault(77, 77, FaultMode::kWrite);
              REMAPFS_RETURN_IF_ERROR(v.Write(76 * kSector, data.data(), data.size()));
              return v.Sync();
            },
            {76, 77, 78},
            /*writes_data=*/true};
  if (name == "pending")
    return {name,
            nothing,
            [](Volume& v, FaultyDevice* main) {
              main->AddFault(300, 300, FaultMode::kRead);
              std::vector<uint8_t> buf(2 * kSector);
              (void)v.Read(299 * kSector, buf.data(), buf.size());  // EIO
              // Acknowledged once memory shows it (a failed commit rolls back).
              return v.Stats().pending == 1 ? Status::Ok() : Status::IoError("not marked");
            },
            {299, 300}};
  if (name == "scrub-dead")
    return {name,
            nothing,
            [](Volume& v, FaultyDevice* main) {
              main->AddFault(330, 331, FaultMode::kRead);  // dead: pending
              Volume::ScrubFindings found;
              return v.ScrubRange(320, 16, &found);
            },
            {320, 330, 331}};
  REQUIRE(name == "scrub");
  return {name,
          nothing,
          [](Volume& v, FaultyDevice* main) {
            main->AddFlakyRead(321, 321, 2);             // weak: remapped with its data
            main->AddFault(330, 330, FaultMode::kRead);  // dead: pending
            Volume::ScrubFindings found;
            return v.ScrubRange(320, 16, &found);
          },
          {320, 321, 330}};
}

}  // namespace remapfs::testing
