// Volume operations that commit, under the volatile-cache crash model: the
// power of MAIN and the spare is cut at once, at every Write and Flush of
// the operation, in every cut mode (crash_rig.h). A reboot must find the
// old or the new remap table, the new one whenever the Volume acknowledged
// it, and every sector must read what it held before or after the
// operation (after, once the operation and its Sync came back ok).
//
// Flushes this suite catches (each deleted alone, [crash] red, restored):
//  - Volume::Remove's MAIN flush: the remove test.
//  - WriteCopy's flush after the header: every test here.
// Not caught, and not catchable with one spare device: AddBad's spare flush
// and FlushAndCommit's spare flush. The data and the metadata share the
// spare, and the commit's own first flush (WriteCopy, before any header)
// makes the data durable before the map names it; these two flushes only
// keep that order should the commit ever change.
#include "commit_scenarios.h"
#include "crash_rig.h"
#include "remapfs/volume.h"

namespace remapfs::testing {
namespace {

// A volume over copies of the images, every device behind one power rail.
struct RailVolume {
  std::shared_ptr<BlockDevice> main, spare;
  PowerRail rail;
  FaultyDevice* main_fault = nullptr;
  std::unique_ptr<Volume> v;

  explicit RailVolume(const Images& im)
      : main(NewMemoryDevice(im.main.size())), spare(NewMemoryDevice(im.spare.size())) {
    REQUIRE_OK(main->Write(0, im.main.data(), im.main.size()));
    REQUIRE_OK(spare->Write(0, im.spare.data(), im.spare.size()));
    auto m = std::make_unique<RailDevice>(main, kSector, &rail);
    main_fault = m->fault();
    REQUIRE_OK(Volume::Open(std::move(m), std::make_unique<RailDevice>(spare, kSector, &rail), &v));
  }
  // What a reboot finds: a volume over the memory alone.
  View AfterReboot(const std::vector<uint64_t>& sectors) {
    v.reset();
    std::unique_ptr<Volume> fresh;
    REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(main),
                            std::make_unique<SharedDevice>(spare), &fresh));
    return Look(*fresh, sectors);
  }
};

// Runs the scenario with a power cut at every point; returns the points.
uint64_t CutEveryPoint(const Scenario& sc) {
  const Images im = Prepare(sc);
  View old_view, new_view;
  uint64_t ops = 0;
  {
    RailVolume probe(im);
    old_view = Look(*probe.v, sc.sectors);
    const uint64_t before = probe.rail.ops();
    REQUIRE_OK(sc.run(*probe.v, probe.main_fault));
    ops = probe.rail.ops() - before;
    new_view = probe.AfterReboot(sc.sectors);
  }
  INFO(sc.name << ": old " << old_view.table << " new " << new_view.table);
  REQUIRE(old_view.table != new_view.table);
  uint64_t points = 0;
  for (uint64_t k = 0; k <= ops; ++k) {
    for (const Cut& cut : AllCuts()) {
      INFO("power cut at op " << k << " of " << ops << ", " << cut.Name());
      RailVolume rv(im);
      rv.rail.Arm(k, cut);
      const Status st = sc.run(*rv.v, rv.main_fault);
      const bool memory_new = Describe(rv.v->Remaps()) == new_view.table;
      rv.rail.CutNow();
      const View found = rv.AfterReboot(sc.sectors);
      CHECK((found.table == old_view.table || found.table == new_view.table));
      if (memory_new || st.ok()) CHECK(found.table == new_view.table);
      if (st.ok()) CHECK(found.bytes == new_view.bytes);
      else if (!sc.writes_data)
        CHECK((found.bytes == old_view.bytes || found.bytes == new_view.bytes));
      ++points;
    }
  }
  WARN(sc.name << ": " << points << " crash points");
  return points;
}

TEST_CASE("A power cut anywhere in add_bad keeps the old or the new table and every byte",
          "[crash]") {
  CutEveryPoint(ScenarioNamed("add_bad"));
}

TEST_CASE("A power cut anywhere in remove keeps the old or the new table and every byte",
          "[crash]") {
  CutEveryPoint(ScenarioNamed("remove"));
}

TEST_CASE("A power cut anywhere in the auto-remap of a failed write keeps the remap once the write "
          "returned, and the bytes once synced",
          "[crash]") {
  CutEveryPoint(ScenarioNamed("auto-remap"));
}

TEST_CASE("A power cut anywhere in marking a failed read pending keeps the old or the new table",
          "[crash]") {
  CutEveryPoint(ScenarioNamed("pending"));
}

TEST_CASE("A power cut anywhere in a scrub's remaps keeps the old or the new table and the rescued "
          "bytes",
          "[crash]") {
  CutEveryPoint(ScenarioNamed("scrub"));
}

}  // namespace
}  // namespace remapfs::testing
