// The offline checker behind `remapfs check`: fsck exit codes, copy
// findings, and table entries whose checksums pass but whose content breaks
// SPEC invariants 2-3 (which only a buggy writer could produce, so they are
// forged here through MetadataStore::Commit, which does not judge content).
#include "remapfs/spare_checker.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

std::unique_ptr<MetadataStore> OpenUnverified(BlockDevice* spare, bool repair) {
  MetadataOpenOptions options;
  options.repair = repair;
  options.verify_table = false;
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Open(spare, options, &store));
  return store;
}

TEST_CASE("A freshly formatted spare with remaps checks clean", "[checker]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(Sectors({3, 4, 90})));
  mv.Close();
  auto store = OpenUnverified(mv.spare_mem(), false);
  const CheckResult r = CheckSpare(store.get(), false, mv.options().main_bytes);
  CHECK(r.findings.empty());
  CHECK(r.ExitCode() == 0);
  CHECK(r.remapped == 3);
}

TEST_CASE("A corrupt copy is a problem left without repair and repaired with "
          "it",
          "[checker]") {
  MemVolume mv(MemVolumeOptions{});
  mv.Close();
  const uint64_t copy2 = 16;  // 64 KiB spare: minimal, a copy every 8 sectors
  const std::vector<uint8_t> junk(16, 0xEE);
  REQUIRE_OK(mv.spare_mem()->Write(copy2 * 512 + 100, junk.data(), junk.size()));
  auto looked = OpenUnverified(mv.spare_mem(), false);
  CHECK(CheckSpare(looked.get(), false, std::nullopt).ExitCode() == 4);
  auto repaired = OpenUnverified(mv.spare_mem(), true);
  CHECK(CheckSpare(repaired.get(), true, std::nullopt).ExitCode() == 1);
  auto again = OpenUnverified(mv.spare_mem(), false);
  CHECK(CheckSpare(again.get(), false, std::nullopt).ExitCode() == 0);
}

TEST_CASE("A main sector remapped twice is refused at mount and freed by "
          "check --repair",
          "[checker]") {
  MemVolume mv(MemVolumeOptions{});
  REQUIRE_OK(mv->AddBad(Sectors({7})));
  mv.Close();
  {
    auto store = OpenUnverified(mv.spare_mem(), false);
    REQUIRE_OK(store->Commit({{5, SlotEntry{true, false, 7}}}));  // slot 0 has 7 too
  }
  const Status mount = mv.Reopen();
  CHECK(mount.IsCorruption());
  CHECK_THAT(mount.message(), Catch::Contains("remapped twice"));

  auto looked = OpenUnverified(mv.spare_mem(), false);
  const CheckResult found = CheckSpare(looked.get(), false, std::nullopt);
  CHECK(found.ExitCode() == 4);
  REQUIRE(found.findings.size() == 1);
  CHECK_THAT(found.findings[0].message, Catch::Contains("main sector 7 is remapped twice"));

  auto fixing = OpenUnverified(mv.spare_mem(), true);
  CHECK(CheckSpare(fixing.get(), true, std::nullopt).ExitCode() == 1);
  REQUIRE_OK(mv.Reopen());
  REQUIRE(mv->Remaps().size() == 1);
  CHECK(mv->Remaps()[0].main_sector == 7);
}

TEST_CASE("A remap of a sector past the end of MAIN is reported", "[checker]") {
  MemVolume mv(MemVolumeOptions{});
  mv.Close();
  auto store = OpenUnverified(mv.spare_mem(), false);
  REQUIRE_OK(store->Commit({{2, SlotEntry{true, false, mv.main_sectors() + 5}}}));
  const CheckResult r = CheckSpare(store.get(), false, std::nullopt);
  CHECK(r.ExitCode() == 4);
  REQUIRE_FALSE(r.findings.empty());
  CHECK_THAT(r.findings[0].message, Catch::Contains("past the end of MAIN"));
}

TEST_CASE("A MAIN of the wrong size is a problem", "[checker]") {
  MemVolume mv(MemVolumeOptions{});
  mv.Close();
  auto store = OpenUnverified(mv.spare_mem(), false);
  CHECK(CheckSpare(store.get(), false, mv.options().main_bytes + 512).ExitCode() == 4);
}

}  // namespace
}  // namespace remapfs::testing
