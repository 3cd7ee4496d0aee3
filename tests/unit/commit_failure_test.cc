// SPEC invariant 8 when the spare fails in the middle of a commit: what a
// remount shows equals what the daemon served. The spare here fails a
// window of write calls, and a failed write may or may not land (a real
// disk's EIO says nothing about what reached the platter).
#include <map>
#include <sstream>

#include "remapfs/metadata.h"
#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr uint32_t kSector = 512;

// Once armed, fails the Write calls numbered [first, first+count) (counted
// from the arming) with EIO; with `lands`, each failed write still reaches
// the base. Flushes inside a failing window fail too. Forwards to a shared
// device, so the bytes outlive it.
class FailingWindowDevice : public ForwardingDevice {
 public:
  using ForwardingDevice::ForwardingDevice;
  void Arm(uint64_t first, uint64_t count, bool lands) {
    writes_ = 0, first_ = first, end_ = first + count, lands_ = lands;
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    const uint64_t n = writes_++;
    if (n < first_ || n >= end_) return base()->Write(offset, buf, len);
    if (lands_) (void)base()->Write(offset, buf, len);
    return Status::IoError("injected write failure");
  }
  Status Flush() override {
    if (writes_ > first_ && writes_ <= end_) return Status::IoError("injected flush failure");
    return base()->Flush();
  }
  uint64_t writes() const { return writes_; }
  void Heal() { end_ = 0; }

 private:
  uint64_t writes_ = 0;
  uint64_t first_ = 0, end_ = 0;
  bool lands_ = false;
};

std::string Reopened(const std::shared_ptr<BlockDevice>& mem) {
  std::unique_ptr<MetadataStore> s;
  MetadataOpenOptions o;
  o.repair = false;
  REQUIRE_OK(MetadataStore::Open(mem.get(), o, &s));
  return TableText(*s);
}

struct SpareImage {
  Geometry g = MakeGeometry(kSector, 1 << 20, 512 << 10);  // linear, 4 copies
  std::vector<uint8_t> bytes;
  SpareImage() {
    auto mem = NewMemoryDevice(512 << 10);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Format(mem.get(), g, &s));
    REQUIRE_OK(s->Commit({{0, SlotEntry{true, false, 10}}, {70, SlotEntry{true, false, 11}}}));
    bytes = Snapshot(mem.get());
  }
  std::shared_ptr<BlockDevice> Fresh() const {
    std::shared_ptr<BlockDevice> mem = NewMemoryDevice(bytes.size());
    REQUIRE_OK(mem->Write(0, bytes.data(), bytes.size()));
    return mem;
  }
};

TEST_CASE("Whatever window of a commit's writes fails, a remount shows what "
          "memory holds",
          "[commit_failure]") {
  const SpareImage image;
  const std::vector<SlotChange> changes = {
      {0, SlotEntry{}}, {69, SlotEntry{true, false, 500}}, {900, SlotEntry{true, true, 9}}};
  std::string old_text, new_text;
  uint64_t writes = 0;  // of one commit plus its roll-back, at most
  {
    auto mem = image.Fresh();
    FailingWindowDevice probe(mem);
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Open(&probe, {}, &s));
    old_text = TableText(*s);
    const uint64_t before = probe.writes();
    REQUIRE_OK(s->Commit(changes));
    new_text = TableText(*s);
    writes = 2 * (probe.writes() - before) + 8;
  }
  int rounds = 0, failed = 0, unhealthy = 0;
  for (bool lands : {false, true}) {
    for (uint64_t first = 0; first < writes; ++first) {
      for (uint64_t count : {uint64_t{1}, uint64_t{3}, uint64_t{7}, writes}) {
        INFO("writes " << first << ".." << first + count - 1 << " fail, lands " << lands);
        ++rounds;
        auto mem = image.Fresh();
        FailingWindowDevice failing(mem);
        std::unique_ptr<MetadataStore> s;
        REQUIRE_OK(MetadataStore::Open(&failing, {}, &s));
        failing.Arm(first, count, lands);
        const Status st = s->Commit(changes);
        const std::string memory = TableText(*s);
        CHECK(memory == (st.ok() ? new_text : old_text));
        if (!st.ok()) {
          ++failed;
          CHECK(st.errno_value() == EIO);
        }
        if (!s->healthy()) {
          ++unhealthy;
          CHECK_FALSE(st.ok());
          const std::string disk = Reopened(mem);
          CHECK((disk == old_text || disk == new_text));
          // Once the spare works again, the next commit makes disk and memory agree.
          failing.Heal();
          REQUIRE_OK(s->Commit({}));
          CHECK(s->healthy());
        }
        CHECK(Reopened(mem) == TableText(*s));
      }
    }
  }
  WARN(rounds << " failure windows: " << failed << " commits failed, " << unhealthy
              << " left the table uncertain");
  CHECK(failed > 0);
  CHECK(unhealthy > 0);
}

// A Volume over memory whose spare fails writes [first, first+count) from
// the moment it is armed.
struct FailingVolume {
  std::shared_ptr<BlockDevice> main = NewMemoryDevice(1 << 20);
  std::shared_ptr<BlockDevice> spare = NewMemoryDevice(512 << 10);
  FailingWindowDevice* failing = nullptr;
  std::unique_ptr<Volume> v;

  FailingVolume() {
    std::unique_ptr<MetadataStore> s;
    REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(kSector, 1 << 20, 512 << 10), &s));
  }
  void Open(uint64_t first, uint64_t count, bool lands) {
    v.reset();
    auto dev = std::make_unique<FailingWindowDevice>(spare);
    failing = dev.get();
    REQUIRE_OK(Volume::Open(std::make_unique<SharedDevice>(main), std::move(dev), &v));
    failing->Arm(first, count, lands);  // Open's own writes are not in the window
  }
};

TEST_CASE("After add_bad or remove fails on a copy, fsync'd bytes survive a remount",
          "[commit_failure]") {
  const std::vector<uint8_t> b(kSector, 0xB2);
  for (bool remove : {false, true}) {
    INFO((remove ? "remove" : "add_bad"));
    FailingVolume fv;
    fv.Open(0, 0, false);
    if (remove) REQUIRE_OK(fv.v->AddBad(Sectors({12})));
    // Copy 2's header write fails, after copies 0 and 1 took the commit
    // (add_bad first writes the data sector, remove writes MAIN instead).
    fv.Open(remove ? 5 : 6, 1, false);
    REQUIRE_OK(remove ? fv.v->Remove(Sectors({12})) : fv.v->AddBad(Sectors({12})));
    CHECK(fv.v->Stats().metadata_valid_copies == 3);
    REQUIRE_OK(fv.v->Write(12 * kSector, b.data(), kSector));
    REQUIRE_OK(fv.v->Sync());
    const size_t remaps = fv.v->Remaps().size();
    CHECK(remaps == (remove ? 0u : 1u));
    fv.Open(0, 0, false);
    CHECK(fv.v->Remaps().size() == remaps);
    CHECK(ByteDiff(ReadVolume(*fv.v, 12 * kSector, kSector), b) == "");
  }
}

TEST_CASE("When no copy takes a commit, writes are refused until the table is "
          "certain again",
          "[commit_failure]") {
  const std::vector<uint8_t> data(kSector, 0xC3);
  FailingVolume fv;
  fv.Open(1, 1000, true);  // every metadata write fails, yet lands (write 0: the data)
  const Status st = fv.v->AddBad(Sectors({12}));
  CHECK(st.errno_value() == EIO);
  CHECK(fv.v->Remaps().empty());
  // The add_bad may have landed on disk: a write to sector 12 now could go
  // to MAIN under a table a remount does not show.
  CHECK(fv.v->Write(12 * kSector, data.data(), kSector).errno_value() == EIO);
  fv.failing->Heal();
  REQUIRE_OK(fv.v->Write(12 * kSector, data.data(), kSector));
  REQUIRE_OK(fv.v->Sync());
  fv.Open(0, 0, false);
  CHECK(fv.v->Remaps().empty());
  CHECK(ByteDiff(ReadVolume(*fv.v, 12 * kSector, kSector), data) == "");
}

}  // namespace
}  // namespace remapfs::testing
