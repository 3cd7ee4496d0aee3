// I/O errors at every step of every multi-write operation (issue 8, part 2):
// the k-th Write or Flush of the spare or of MAIN fails, for every k, once
// (a transient error) or from then on (a device that died). Then the
// operation has reported failure or completed, memory and disk agree (disk
// is old or new when the store reports the table uncertain), and every
// acknowledged remap and byte survives a reopen. The injected errors are
// counted and printed.
#include <algorithm>
#include <map>
#include <sstream>

#include "commit_scenarios.h"
#include "remapfs/metadata.h"
#include "remapfs/spare_resize.h"

namespace remapfs::testing {
namespace {

// A volume over copies of the images; MAIN or the spare fails steps.
struct FailingVolume {
  std::shared_ptr<BlockDevice> main, spare;
  FailingCallsDevice* main_fail = nullptr;
  FailingCallsDevice* spare_fail = nullptr;
  FaultyDevice* main_fault = nullptr;
  std::unique_ptr<Volume> v;

  explicit FailingVolume(const Images& im)
      : main(NewMemoryDevice(im.main.size())), spare(NewMemoryDevice(im.spare.size())) {
    REQUIRE_OK(main->Write(0, im.main.data(), im.main.size()));
    REQUIRE_OK(spare->Write(0, im.spare.data(), im.spare.size()));
    auto mf = std::make_unique<FailingCallsDevice>(main);
    auto sf = std::make_unique<FailingCallsDevice>(spare);
    main_fail = mf.get(), spare_fail = sf.get();
    auto faulty = std::make_unique<FaultyDevice>(std::move(mf), kSector);
    main_fault = faulty.get();
    REQUIRE_OK(Volume::Open(std::move(faulty), std::move(sf), &v));
  }
  View Reopened(const std::vector<uint64_t>& sectors) {
    v.reset();
    std::unique_ptr<Volume> fresh;
    REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(main),
                            std::make_unique<SharedDevice>(spare), &fresh));
    return Look(*fresh, sectors);
  }
};

enum class Where { kMain, kSpare, kBoth };

// Every step of the scenario fails in turn, on MAIN and on the spare, once
// and for good, landing or not. Returns the errors injected.
uint64_t FailEveryStep(const Scenario& sc, Where where = Where::kBoth) {
  const Images im = Prepare(sc);
  View old_view, new_view;
  uint64_t steps = 0;
  {
    FailingVolume probe(im);
    old_view = Look(*probe.v, sc.sectors);
    probe.main_fail->Arm(FailingCallsDevice::kForever, 0, false);
    probe.spare_fail->Arm(FailingCallsDevice::kForever, 0, false);
    REQUIRE_OK(sc.run(*probe.v, probe.main_fault));
    steps = std::max(probe.main_fail->calls(), probe.spare_fail->calls()) + 2;
    new_view = probe.Reopened(sc.sectors);
  }
  uint64_t injected = 0, failed = 0, uncertain = 0;
  for (bool on_spare : {false, true}) {
    if ((on_spare && where == Where::kMain) || (!on_spare && where == Where::kSpare)) continue;
    for (bool sticky : {false, true}) {
      for (bool lands : {false, true}) {
        for (uint64_t k = 0; k < steps; ++k) {
          INFO(sc.name << ": " << (on_spare ? "spare" : "MAIN") << " step " << k
                       << (sticky ? " and on" : " once") << (lands ? ", lands" : ""));
          FailingVolume fv(im);
          FailingCallsDevice* dev = on_spare ? fv.spare_fail : fv.main_fail;
          dev->Arm(k, sticky ? FailingCallsDevice::kForever : 1, lands);
          const Status st = sc.run(*fv.v, fv.main_fault);
          failed += !st.ok();
          const View memory = Look(*fv.v, {});
          const bool certain = !fv.v->Stats().metadata_commits_failing;
          uncertain += !certain;
          injected += dev->injected();
          dev->Heal();
          const View disk = fv.Reopened(sc.sectors);
          INFO("old " << old_view.table << old_view.bytes << " new " << new_view.table
                      << new_view.bytes << " disk " << disk.table << disk.bytes << " status "
                      << st.ToString());
          const bool old_or_new = disk.table == old_view.table || disk.table == new_view.table;
          // A failing MAIN may add remaps of its own (more auto-remaps).
          if (certain) CHECK(disk.table == memory.table);
          if (on_spare || !certain) CHECK(old_or_new);
          if (st.ok() && on_spare) CHECK(disk.table == new_view.table);
          if (st.ok()) CHECK(disk.bytes == new_view.bytes);
          else if (!sc.writes_data)
            CHECK((disk.bytes == old_view.bytes || disk.bytes == new_view.bytes));
        }
      }
    }
  }
  WARN(sc.name << (where == Where::kMain    ? " (MAIN)"
                   : where == Where::kSpare ? " (spare)"
                                            : "")
               << ": " << injected << " injected I/O errors over " << steps
               << " steps x 8 variants; " << failed << " operations failed, " << uncertain
               << " left the table uncertain");
  return injected;
}

TEST_CASE("add_bad survives an I/O error at any step", "[io_step]") {
  CHECK(FailEveryStep(ScenarioNamed("add_bad")) > 0);
}

TEST_CASE("remove with its copy-back survives an I/O error at any step", "[io_step]") {
  CHECK(FailEveryStep(ScenarioNamed("remove")) > 0);
}

TEST_CASE("the auto-remap of a failed write survives an I/O error at any step", "[io_step]") {
  CHECK(FailEveryStep(ScenarioNamed("auto-remap")) > 0);
}

TEST_CASE("a pending mark survives an I/O error at any step", "[io_step]") {
  CHECK(FailEveryStep(ScenarioNamed("pending")) > 0);
}

// A scrub that rescues a weak sector: see io_error_step_bug_test.cc.
TEST_CASE("a scrub's pending marks survive an I/O error at any step", "[io_step]") {
  CHECK(FailEveryStep(ScenarioNamed("scrub-dead")) > 0);
}

// What Open finds on `mem` without repair; "" when nothing opens.
std::string OpenedTable(BlockDevice* mem, uint64_t* spare_sectors = nullptr) {
  std::unique_ptr<MetadataStore> s;
  MetadataOpenOptions o;
  o.repair = false;
  if (!MetadataStore::Open(mem, o, &s).ok()) return "";
  if (spare_sectors) *spare_sectors = s->geometry().spare_sectors;
  std::ostringstream os;
  os << "seq-any ";
  for (uint64_t i = 0; i < s->slot_count(); ++i)
    if (s->slot(i).used) os << i << ':' << s->slot(i).main_sector << ' ';
  return os.str();
}

TEST_CASE("A format that meets an I/O error at any step fails or leaves a "
          "spare that opens empty",
          "[io_step]") {
  const uint64_t bytes = 512 << 10;
  const Geometry g = MakeGeometry(kSector, kMainBytes, bytes);
  uint64_t steps = 0, injected = 0, failed = 0;
  {
    FailingCallsDevice probe(NewMemoryDevice(bytes));
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Format(&probe, g, &s));
    steps = probe.calls();
  }
  for (bool sticky : {false, true}) {
    for (bool lands : {false, true}) {
      for (uint64_t k = 0; k < steps; ++k) {
        INFO("step " << k << (sticky ? " and on" : " once") << (lands ? ", lands" : ""));
        std::shared_ptr<BlockDevice> mem = NewMemoryDevice(bytes);
        FailingCallsDevice dev(mem);
        dev.Arm(k, sticky ? FailingCallsDevice::kForever : 1, lands);
        std::unique_ptr<MetadataStore> s;
        const Status st = MetadataStore::Format(&dev, g, &s);
        injected += dev.injected();
        failed += !st.ok();
        const std::string found = OpenedTable(mem.get());
        if (st.ok()) CHECK(found == "seq-any ");
        CHECK((found == "" || found == "seq-any "));
      }
    }
  }
  WARN("format: " << injected << " injected I/O errors, " << failed << " formats failed");
  CHECK(injected > 0);
}

// Grows a 512 KiB linear spare holding 300 remaps to 1 MiB, failing each
// step in the given variants (sticky, lands); returns the injected errors.
uint64_t ResizeFailingEveryStep(const std::vector<std::pair<bool, bool>>& variants) {
  const uint64_t old_bytes = 512 << 10, new_sectors = 2048;
  std::shared_ptr<BlockDevice> start = SpareWithRemapsBeforeGrow(old_bytes, new_sectors);
  const std::vector<uint8_t> image = Snapshot(start.get());
  const std::string old_table = OpenedTable(start.get());
  auto no_progress = [](const std::string&, uint64_t, uint64_t) {};
  uint64_t steps = 0, injected = 0, failed = 0;
  {
    FailingCallsDevice probe(start);
    ResizeResult r;
    REQUIRE_OK(ResizeSpare(&probe, new_sectors, no_progress, &r));
    steps = probe.calls();
  }
  for (const auto& [sticky, lands] : variants) {
    {
      for (uint64_t k = 0; k < steps; ++k) {
        INFO("step " << k << (sticky ? " and on" : " once") << (lands ? ", lands" : ""));
        std::shared_ptr<BlockDevice> mem = NewMemoryDevice(image.size());
        REQUIRE_OK(mem->Write(0, image.data(), image.size()));
        FailingCallsDevice dev(mem);
        dev.Arm(k, sticky ? FailingCallsDevice::kForever : 1, lands);
        ResizeResult r;
        const Status st = ResizeSpare(&dev, new_sectors, no_progress, &r);
        INFO("resize: " << st.ToString() << " injected " << dev.injected());
        injected += dev.injected();
        failed += !st.ok();
        uint64_t got = 0;
        const std::string found = OpenedTable(mem.get(), &got);
        REQUIRE(found != "");
        CHECK((got == old_bytes / kSector || got == new_sectors));
        if (st.ok()) CHECK(got == new_sectors);
        // Slot numbers change with the geometry; the main sectors must not.
        CHECK(std::count(found.begin(), found.end(), ':') == 300);
      }
    }
  }
  WARN("resize: " << injected << " injected I/O errors, " << failed << " resizes failed");
  return injected;
}

// Failing writes that land for good: see io_error_step_bug_test.cc.
TEST_CASE("A resize that meets an I/O error at any step leaves the old or the "
          "new geometry with every remap",
          "[io_step]") {
  CHECK(ResizeFailingEveryStep({{false, false}, {false, true}, {true, false}}) > 0);
}

}  // namespace
}  // namespace remapfs::testing
