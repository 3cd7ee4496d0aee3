// The read-only views (Stats, Remaps, Reservations) answer while another
// thread holds the remap table's exclusive lock for a long time: a control
// operation (AddBad, Remove), a scrub bisection, or a read's failing-disk
// recovery. MAIN is gated: its reads block until the test opens the gate,
// so the Volume is held inside its exclusive section deterministically.
// Nothing here asserts on time; the one wait_for is a hang guard that turns
// the old behaviour (the views waited for the lock) into a failure.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;
constexpr uint64_t kSpareBytes = 1 << 20;
// Only reached when a view waits for the table lock (the bug); the views
// answer in microseconds.
constexpr auto kHangGuard = std::chrono::seconds(60);

// Lets reads through while open; once closed, lets `free_reads` more
// through and blocks every later read until Open().
class GateDevice : public ForwardingDevice {
 public:
  explicit GateDevice(std::unique_ptr<BlockDevice> base) : ForwardingDevice(std::move(base)) {}

  void Close(uint64_t free_reads) {
    std::lock_guard lock(mu_);
    open_ = false;
    free_reads_ = free_reads;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // Returns once a read is blocked at the gate.
  void WaitUntilBlocked() {
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return blocked_ > 0; });
  }

  Status Read(uint64_t offset, void* buf, size_t len) override {
    {
      std::unique_lock lock(mu_);
      if (!open_ && free_reads_ > 0) {
        --free_reads_;
      } else if (!open_) {
        ++blocked_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
        --blocked_;
      }
    }
    return base()->Read(offset, buf, len);
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true;
  uint64_t free_reads_ = 0;
  int blocked_ = 0;
};

// A formatted Volume whose MAIN is FaultyDevice -> GateDevice -> memory (an
// injected fault fails at once, any other MAIN read passes the gate) and
// whose spare is GateDevice -> memory.
struct GatedVolume {
  GatedVolume() {
    auto spare = std::make_unique<GateDevice>(NewMemoryDevice(kSpareBytes));
    spare_gate = spare.get();
    std::unique_ptr<MetadataStore> store;
    REQUIRE_OK(
        MetadataStore::Format(spare.get(), MakeGeometry(kSector, kMainBytes, kSpareBytes), &store));
    store.reset();
    auto main = NewMemoryDevice(kMainBytes);
    FillPattern(main.get(), 7);
    auto gated = std::make_unique<GateDevice>(std::move(main));
    gate = gated.get();
    auto faulty = std::make_unique<FaultyDevice>(std::move(gated), kSector);
    faults = faulty.get();
    REQUIRE_OK(Volume::Open(std::move(faulty), std::move(spare), &volume));
  }

  GateDevice* gate = nullptr;  // MAIN's
  GateDevice* spare_gate = nullptr;
  FaultyDevice* faults = nullptr;
  std::unique_ptr<Volume> volume;
};

// What the views returned while the gate held `work` inside the Volume.
struct Views {
  bool answered = false;  // every view returned before the gate opened
  VolumeStats stats;
  std::vector<RemapEntry> remaps;
  std::vector<Extent> reservations;
  Status work_status;
};

// Starts `work` on a thread, waits until it blocks at the closed `gate`
// (after `free_reads` reads passed it), reads every view, then opens the gate
// and joins. No REQUIRE runs while the gate is closed, so a failing test
// still unwinds.
template <typename Work>
Views ReadViewsWhileBlocked(GateDevice& gate, GatedVolume& gv, uint64_t free_reads, Work work) {
  Views out;
  gate.Close(free_reads);
  std::thread worker([&] { out.work_status = work(); });
  gate.WaitUntilBlocked();
  Volume& v = *gv.volume;
  auto stats = std::async(std::launch::async, [&] { return v.Stats(); });
  auto remaps = std::async(std::launch::async, [&] { return v.Remaps(); });
  auto reservations = std::async(std::launch::async, [&] { return v.Reservations(); });
  out.answered = stats.wait_for(kHangGuard) == std::future_status::ready &&
                 remaps.wait_for(kHangGuard) == std::future_status::ready &&
                 reservations.wait_for(kHangGuard) == std::future_status::ready;
  gate.Open();
  worker.join();
  out.stats = stats.get();
  out.remaps = remaps.get();
  out.reservations = reservations.get();
  return out;
}

TEST_CASE("While AddBad copies sectors, the views answer and status shows "
          "its progress",
          "[views]") {
  GatedVolume gv;
  // Every other sector: one MAIN read each (a contiguous range is one read),
  // in groups of 64 (volume_control.cc's kRunsInFlight), the step of the
  // progress: blocked in the second group, the first is done.
  std::vector<uint64_t> every_other;
  for (uint64_t s = 100; s < 400; s += 2) every_other.push_back(s);
  Views seen = ReadViewsWhileBlocked(*gv.gate, gv, 80,
                                     [&] { return gv.volume->AddBad(Sectors(every_other)); });
  REQUIRE(seen.answered);
  REQUIRE_OK(seen.work_status);
  CHECK(seen.stats.operation == VolumeOperation::kAddBad);
  CHECK(seen.stats.operation_done == 64);
  CHECK(seen.stats.operation_total == 150);
  // The views show the committed table: nothing of the operation yet.
  CHECK(seen.stats.remapped == 0);
  CHECK(seen.stats.spare_used == 0);
  CHECK(seen.remaps.empty());
  CHECK(Describe(seen.reservations) == Describe(gv.volume->Reservations()));
  CHECK_FALSE(seen.reservations.empty());
  const std::string text = FormatStatus(seen.stats);
  CHECK(text.find("\noperation: add_bad\noperation_done: 64\noperation_total: 150\n") !=
        std::string::npos);

  const VolumeStats after = gv.volume->Stats();
  CHECK(after.operation == VolumeOperation::kIdle);
  CHECK(after.operation_done == 0);
  CHECK(after.operation_total == 0);
  CHECK(after.remapped == 150);
  CHECK(after.spare_used == 150);
  CHECK(after.spare_free == after.spare_capacity - 150);
  CHECK(after.metadata_sequence == seen.stats.metadata_sequence + 1);
  CHECK(gv.volume->Remaps().size() == 150);
  CHECK(FormatStatus(after).find("\noperation: idle\n") != std::string::npos);
}

TEST_CASE("While Remove copies sectors back, the views answer and show the "
          "table before it",
          "[views]") {
  GatedVolume gv;
  // Added from the last down, so that the slots run backwards against MAIN:
  // Remove then reads each sector's data from the spare on its own, in
  // groups of 64: blocked in the second group, the first is done.
  for (uint64_t s = 169; s >= 100; --s) REQUIRE_OK(gv.volume->AddBad(SectorRun(s, 1)));
  Views seen = ReadViewsWhileBlocked(*gv.spare_gate, gv, 67,
                                     [&] { return gv.volume->Remove(SectorRun(100, 70)); });
  REQUIRE(seen.answered);
  REQUIRE_OK(seen.work_status);
  CHECK(seen.stats.operation == VolumeOperation::kRemove);
  CHECK(seen.stats.operation_done == 64);
  CHECK(seen.stats.operation_total == 70);
  CHECK(seen.stats.remapped == 70);
  CHECK(seen.remaps.size() == 70);
  const VolumeStats after = gv.volume->Stats();
  CHECK(after.operation == VolumeOperation::kIdle);
  CHECK(after.remapped == 0);
  CHECK(after.spare_used == 0);
}

TEST_CASE("While a scrub bisects a failing chunk, the views answer", "[views]") {
  GatedVolume gv;
  gv.faults->AddFault(205, 205, FaultMode::kRead);
  Volume::ScrubFindings findings;
  // The chunk's read fails at the fault without reaching the gate; the
  // bisection's first healthy half blocks there, inside the exclusive lock.
  Views seen = ReadViewsWhileBlocked(*gv.gate, gv, 0,
                                     [&] { return gv.volume->ScrubRange(200, 16, &findings); });
  REQUIRE(seen.answered);
  REQUIRE_OK(seen.work_status);
  CHECK(seen.stats.pending == 0);
  CHECK(seen.stats.operation == VolumeOperation::kIdle);  // not a control operation
  CHECK(findings.pending == 1);
  CHECK(gv.volume->Stats().pending == 1);
}

TEST_CASE("While a failed read looks for its unreadable sectors, the views "
          "answer",
          "[views]") {
  GatedVolume gv;
  gv.faults->AddFault(303, 303, FaultMode::kRead);
  std::vector<uint8_t> buf(8 * kSector);
  // The read and its retries fail at the fault; the sector-by-sector search
  // under the exclusive lock blocks at the gate on sector 300.
  Views seen = ReadViewsWhileBlocked(*gv.gate, gv, 0, [&] {
    return gv.volume->Read(300 * kSector, buf.data(), buf.size());
  });
  REQUIRE(seen.answered);
  CHECK(seen.work_status.IsIoError());
  CHECK(seen.stats.pending == 0);
  CHECK(seen.remaps.empty());
  const VolumeStats after = gv.volume->Stats();
  CHECK(after.pending == 1);
  CHECK(after.read_errors >= 1);
}

}  // namespace
}  // namespace remapfs::testing
