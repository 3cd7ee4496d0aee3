// The Volume's request path in batches (volume_io.cc): the runs of a
// request over remapped sectors go to each device as one batch, a request
// over none is one plain call; the status is the one the run-by-run loop
// gave (the first failing run in request order, on whichever device); a
// media error still takes the recovery path, which works per sector; and
// over O_DIRECT files, or 4096-byte blocks under 512-byte sectors, random
// I/O from several threads agrees with a plain memory disk.
#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "batch_test_util.h"

using namespace remapfs;
using namespace remapfs::testing;

namespace {

constexpr uint32_t kSs = 512;

// Forwards to memory; logs batches and the plain calls made outside them;
// fails every call touching bytes [bad_begin, bad_end) with `bad_errno`,
// naming itself and the call's offset. Single-threaded use.
class BatchLog : public ForwardingDevice {
 public:
  BatchLog(const char* name, uint64_t size)
      : ForwardingDevice(NewMemoryDevice(size)), name_(name) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    plain_reads += !in_batch_;
    if (Bad(offset, len)) return BadCall(offset);
    return base()->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    plain_writes += !in_batch_;
    if (Bad(offset, len)) return BadCall(offset);
    return base()->Write(offset, buf, len);
  }
  Status ReadBatch(std::span<const ReadRequest> r, size_t* failed) override {
    read_batches.push_back(r.size());
    return InBatch(r, failed,
                   [this](const ReadRequest& q) { return Read(q.offset, q.buf, q.len); });
  }
  Status WriteBatch(std::span<const WriteRequest> r, size_t* failed) override {
    write_batches.push_back(r.size());
    return InBatch(r, failed,
                   [this](const WriteRequest& q) { return Write(q.offset, q.buf, q.len); });
  }
  void Reset() {
    read_batches.clear(), write_batches.clear();
    plain_reads = plain_writes = 0;
  }
  void FailSector(uint64_t sector, int err) {
    bad_begin = sector * kSs, bad_end = bad_begin + kSs, bad_errno = err;
  }

  // As a ring may: a batch runs every request, the last first, past any
  // failure, and reports the lowest failing index (else: the default loop).
  bool whole_batches = false;
  std::vector<size_t> read_batches, write_batches;  // their sizes
  int plain_reads = 0, plain_writes = 0;
  uint64_t bad_begin = 0, bad_end = 0;
  int bad_errno = EROFS;

 private:
  bool Bad(uint64_t offset, size_t len) const {
    return offset < bad_end && bad_begin < offset + len;
  }
  Status BadCall(uint64_t offset) {
    return Status::IoError(name_ + " refuses at " + std::to_string(offset), bad_errno);
  }
  template <typename Request, typename One>
  Status InBatch(std::span<const Request> r, size_t* failed, One one) {
    in_batch_ = true;
    Status st;
    if constexpr (std::is_same_v<Request, ReadRequest>) {
      if (!whole_batches) st = BlockDevice::ReadBatch(r, failed);
    } else {
      if (!whole_batches) st = BlockDevice::WriteBatch(r, failed);
    }
    for (size_t i = whole_batches ? r.size() : 0; i-- > 0;) {
      Status one_st = one(r[i]);
      if (one_st.ok()) continue;
      st = one_st;
      if (failed != nullptr) *failed = i;
    }
    in_batch_ = false;
    return st;
  }
  const std::string name_;
  bool in_batch_ = false;
};

// A Volume over `main` and `spare`, the spare formatted for it first.
std::unique_ptr<Volume> OpenOver(std::unique_ptr<BlockDevice> main,
                                 std::unique_ptr<BlockDevice> spare) {
  std::unique_ptr<MetadataStore> formatted;
  REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(kSs, main->Size(), spare->Size()),
                                   &formatted));
  formatted.reset();
  std::unique_ptr<Volume> v;
  REQUIRE_OK(Volume::Open(std::move(main), std::move(spare), &v));
  return v;
}

struct LoggedVolume {
  BatchLog* main = new BatchLog("main", 1 << 20);
  BatchLog* spare = new BatchLog("spare", 64 << 10);
  std::unique_ptr<Volume> v = OpenOver(std::unique_ptr<BlockDevice>(main),
                                       std::unique_ptr<BlockDevice>(spare));
  LoggedVolume() { FillPattern(main, 2); }
  uint64_t SpareByteOf(uint64_t sector) const {
    for (const RemapEntry& e : v->Remaps())
      if (e.main_sector == sector) return e.spare_sector * kSs;
    FAIL("sector " << sector << " is not remapped");
    return 0;
  }
};

}  // namespace

TEST_CASE("A request over remapped sectors goes to each device as one batch, one over none is "
          "one plain call",
          "[volume_batch]") {
  LoggedVolume lv;
  const auto before = ReadVolume(*lv.v, 8 * kSs, 16 * kSs);
  REQUIRE_OK(lv.v->AddBad(Sectors({10, 13, 14, 20})));
  lv.main->Reset(), lv.spare->Reset();
  // Sectors 8-23: MAIN 8-9, 11-12, 15-19, 21-23; spare 10, 13-14, 20.
  CHECK(ReadVolume(*lv.v, 8 * kSs, 16 * kSs) == before);
  CHECK(lv.main->read_batches == std::vector<size_t>{4});
  CHECK(lv.spare->read_batches == std::vector<size_t>{3});
  CHECK(lv.main->plain_reads + lv.spare->plain_reads == 0);
  const auto data = Pattern(0, 16 * kSs, 6);
  REQUIRE_OK(lv.v->Write(8 * kSs, data.data(), data.size()));
  CHECK(lv.main->write_batches == std::vector<size_t>{4});
  CHECK(lv.spare->write_batches == std::vector<size_t>{3});
  CHECK(lv.main->plain_writes + lv.spare->plain_writes == 0);
  CHECK(ReadVolume(*lv.v, 8 * kSs, 16 * kSs) == data);

  lv.main->Reset(), lv.spare->Reset();
  (void)ReadVolume(*lv.v, 100 * kSs, 8 * kSs);
  REQUIRE_OK(lv.v->Write(100 * kSs, data.data(), 8 * kSs));
  CHECK(lv.main->plain_reads == 1);
  CHECK(lv.main->plain_writes == 1);
  CHECK(lv.main->read_batches.empty());
  CHECK(lv.main->write_batches.empty());
}

// Sectors 0-30 with 10 and 20 remapped: runs MAIN 0-9, spare 10, MAIN
// 11-19, spare 20, MAIN 21-30. A failure that is not EIO is returned as
// the device gave it (EIO goes to the recovery instead: next test).
TEST_CASE("The first run in request order that fails decides the status, on whichever device",
          "[volume_batch]") {
  const bool write = GENERATE(false, true);
  CAPTURE(write);
  {
    LoggedVolume lv;
    REQUIRE_OK(lv.v->AddBad(Sectors({10, 20})));
    std::string want;
    SECTION("the spare's run comes first") {
      lv.spare->FailSector(lv.SpareByteOf(10) / kSs, EROFS);
      lv.main->FailSector(25, EROFS);
      want = "spare refuses at " + std::to_string(lv.SpareByteOf(10));
    }
    SECTION("MAIN's run comes first") {
      lv.main->FailSector(5, EROFS);
      lv.spare->FailSector(lv.SpareByteOf(20) / kSs, EROFS);
      want = "main refuses at 0";
    }
    std::vector<uint8_t> buf(31 * kSs);
    Status st = write ? lv.v->Write(0, buf.data(), buf.size())
                      : lv.v->Read(0, buf.data(), buf.size());
    CHECK(st.errno_value() == EROFS);
    CHECK(st.message() == want);
    const VolumeStats stats = lv.v->Stats();
    CHECK(stats.read_errors + stats.write_errors == 1);
    CHECK(stats.last_error == st.ToString());
  }
}

TEST_CASE("A media error in a batch takes the recovery path, which works per sector",
          "[volume_batch]") {
  LoggedVolume lv;
  REQUIRE_OK(lv.v->AddBad(Sectors({10, 20})));
  const auto before = ReadVolume(*lv.v, 0, 31 * kSs);
  lv.main->FailSector(25, EIO);
  SECTION("a read: the sector becomes pending, the rest reads") {
    std::vector<uint8_t> buf(31 * kSs);
    CHECK(lv.v->Read(0, buf.data(), buf.size()).errno_value() == EIO);
    CHECK(lv.v->Stats().pending == 1);
    CHECK(ReadVolume(*lv.v, 0, 25 * kSs) ==
          std::vector<uint8_t>(before.begin(), before.begin() + 25 * kSs));
  }
  SECTION("a write: the sector is remapped, the write succeeds") {
    const auto data = Pattern(0, 31 * kSs, 12);
    REQUIRE_OK(lv.v->Write(0, data.data(), data.size()));
    CHECK(lv.v->Stats().remapped == 3);
    CHECK(lv.v->Stats().auto_remaps == 1);
    CHECK(ReadVolume(*lv.v, 0, 31 * kSs) == data);
  }
}

// A batch may run past its failing request (block_device.h): with MAIN's
// first run failing and every later run of both devices done anyway, the
// outcome is still the recovery's. The write lands whole, the failed sector
// remapped; the read fails, and the sector stays EIO, never zeros.
TEST_CASE("A batch that ran past its failing run still ends as the recovery decides",
          "[volume_batch]") {
  LoggedVolume lv;
  lv.main->whole_batches = lv.spare->whole_batches = true;
  REQUIRE_OK(lv.v->AddBad(Sectors({10, 20})));
  const auto before = ReadVolume(*lv.v, 0, 31 * kSs);
  lv.main->FailSector(5, EIO);
  SECTION("a write") {
    const auto data = Pattern(0, 31 * kSs, 14);
    REQUIRE_OK(lv.v->Write(0, data.data(), data.size()));
    CHECK(lv.v->Stats().remapped == 3);
    CHECK(lv.v->Stats().auto_remaps == 1);
    CHECK(ReadVolume(*lv.v, 0, 31 * kSs) == data);
  }
  SECTION("a read") {
    std::vector<uint8_t> buf(31 * kSs);
    CHECK(lv.v->Read(0, buf.data(), buf.size()).errno_value() == EIO);
    CHECK(lv.v->Stats().pending == 1);
    lv.main->bad_begin = lv.main->bad_end = 0;  // MAIN reads again: only pending refuses
    std::vector<uint8_t> sector(kSs);
    CHECK(lv.v->Read(5 * kSs, sector.data(), kSs).errno_value() == EIO);
    CHECK(ReadVolume(*lv.v, 6 * kSs, 25 * kSs) ==
          std::vector<uint8_t>(before.begin() + 6 * kSs, before.end()));
  }
}

namespace {

// Random reads and writes of [begin, end) through `v`, checked against
// `model` (the whole volume's bytes; only [begin, end) is touched).
int RandomIo(Volume& v, std::vector<uint8_t>& model, uint64_t begin, uint64_t end, uint64_t seed) {
  std::mt19937_64 rng(seed);
  BufferPool pool(600 << 10);
  int wrong = 0;
  for (int op = 0; op < 150; ++op) {
    pool.Reset();
    const size_t len = 1 + rng() % std::min<uint64_t>(256 << 10, end - begin);
    const uint64_t at = begin + rng() % (end - begin - len + 1);
    uint8_t* buf = pool.Take(len, rng);
    if (rng() % 2 == 0) {
      for (size_t i = 0; i < len; ++i) buf[i] = model[at + i] = uint8_t(rng());
      wrong += !v.Write(at, buf, len).ok();
    } else {
      wrong += !v.Read(at, buf, len).ok() || !std::equal(buf, buf + len, model.begin() + at);
    }
  }
  return wrong;
}

}  // namespace

TEST_CASE("Random I/O from several threads over scattered remaps agrees with a memory disk",
          "[volume_batch]") {
  constexpr uint64_t kMain = 4 << 20, kSpare = 1 << 20;
  VarTmpDir dir;
  std::unique_ptr<BlockDevice> main, spare;
  SECTION("O_DIRECT files") {
    main = OpenTestFile(dir.path(), kMain, true);
    ShmDir shm;  // the spare on tmpfs, MAIN on ext4
    spare = OpenTestFile(shm.path(), kSpare, true);
  }
  SECTION("4096-byte device blocks under 512-byte sectors") {
    main = WrapAlignedOrFail(std::make_unique<StrictAlignmentDevice>(kMain, 4096), 4096);
    spare = WrapAlignedOrFail(std::make_unique<StrictAlignmentDevice>(kSpare, 4096), 4096);
  }
  FillPattern(main.get(), 3);
  std::vector<uint8_t> model = Snapshot(main.get());
  std::unique_ptr<Volume> v = OpenOver(std::move(main), std::move(spare));
  std::mt19937_64 rng(8);
  for (int call = 0; call < 3; ++call) {
    std::vector<uint64_t> sectors;
    for (int i = 0; i < 200; ++i) sectors.push_back(rng() % (kMain / kSs));
    REQUIRE_OK(v->AddBad(Sectors(sectors)));
  }
  REQUIRE(v->Stats().remapped > 550);
  CHECK(RandomIo(*v, model, 0, kMain, 1) == 0);
  constexpr unsigned kThreads = 4;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      wrong[t] = RandomIo(*v, model, t * kMain / kThreads, (t + 1) * kMain / kThreads, 10 + t);
    });
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(kThreads, 0));
  CHECK(ByteDiff(ReadVolume(*v, 0, kMain), model) == "");
}
