// Writes racing table changes: add_bad and remove copy a sector's data and
// then commit a new home for it, now without the table lock across the
// copy, so only the region lock keeps a write from landing between the two
// (and being lost). A writer, a reader and a control thread run at once;
// every byte must end as the writer last wrote it.
#include <atomic>
#include <random>
#include <thread>

#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kSectors = 256;  // the stretch the threads fight over

TEST_CASE("Writes racing add_bad and remove are never lost", "[concurrent_remap]") {
  std::unique_ptr<Volume> v;
  REQUIRE_OK(NewMemoryVolume(1 << 20, 1 << 20, &v));
  std::vector<uint8_t> model(kSectors * kSector, 0);
  REQUIRE_OK(v->Write(0, model.data(), model.size()));
  std::atomic<bool> done{false};
  std::atomic<int> control_ops{0}, read_failures{0};

  std::thread control([&] {
    std::mt19937_64 rng(11);
    while (!done) {
      const uint64_t first = rng() % kSectors, count = 1 + rng() % 32;
      const SectorRange r{first, std::min(kSectors - 1, first + count - 1)};
      Status st = rng() % 2 ? v->AddBad({r}) : v->Remove({r});
      if (st.ok()) ++control_ops;
    }
  });
  std::thread reader([&] {
    std::vector<uint8_t> buf(8 * kSector);
    std::mt19937_64 rng(12);
    while (!done)
      if (!v->Read((rng() % (kSectors - 8)) * kSector, buf.data(), buf.size()).ok())
        ++read_failures;
  });
  // At least kMinWrites writes, and on until the control thread has committed
  // kMinControlOps changes: a loaded machine may starve it for a while, and
  // a race that never happened proves nothing. kMaxWrites bounds the wait.
  constexpr uint64_t kMinWrites = 20000, kMaxWrites = 2'000'000;
  constexpr int kMinControlOps = 100;
  std::mt19937_64 rng(13);
  uint64_t writes = 0;
  for (uint64_t i = 1; i <= kMinWrites || (control_ops < kMinControlOps && i <= kMaxWrites); ++i) {
    const uint64_t offset = rng() % (kSectors * kSector - 700), len = 1 + rng() % 700;
    const std::vector<uint8_t> data = Pattern(offset, len, i);
    REQUIRE_OK(v->Write(offset, data.data(), len));
    std::copy(data.begin(), data.end(), model.begin() + offset);
    writes = i;
  }
  done = true;
  control.join();
  reader.join();
  INFO(control_ops << " add_bad/remove committed during " << writes << " writes");
  CHECK(control_ops >= kMinControlOps);
  CHECK(read_failures == 0);
  CHECK(ByteDiff(ReadVolume(*v, 0, model.size()), model) == "");
}

}  // namespace
}  // namespace remapfs::testing
