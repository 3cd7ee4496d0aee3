// BlockDevice::ReadBatch/WriteBatch (block_device.h): a batch moves the
// bytes that Read/Write one by one would, over every device and stack,
// buffered files and O_DIRECT ones (on ext4 in /var/tmp and on tmpfs), from
// many threads at once; and it fails as they would, at the lowest-index
// request that fails, with that request's own status: past the end, on a
// file that shrank under it (short transfers), on a file that refuses
// writes. AlignedDevice's own batch is in aligned_batch_test.cc; batches
// without a ring, and a write cut short, in batch_child_test.cc.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "batch_test_util.h"
#include "remapfs/faulty_device.h"

using namespace remapfs;
using namespace remapfs::testing;

namespace {

constexpr uint64_t kSize = 256 * 1024;

struct MemoryFixture {
  std::unique_ptr<BlockDevice> device = NewMemoryDevice(kSize);
};

// Nothing armed: the batch goes through to the memory device.
struct FaultyFixture {
  std::unique_ptr<BlockDevice> device = std::make_unique<FaultyDevice>(NewMemoryDevice(kSize), 512);
};

struct BufferedFileFixture {
  VarTmpDir dir;
  std::unique_ptr<BlockDevice> device = OpenTestFile(dir.path(), kSize, false);
};

// AlignedDevice over a FileDevice opened O_DIRECT, on ext4.
struct DirectFileFixture {
  VarTmpDir dir;
  std::unique_ptr<BlockDevice> device = OpenTestFile(dir.path(), kSize, true);
};

// The same on tmpfs, which takes O_DIRECT on recent kernels.
struct DirectShmFixture {
  ShmDir dir;
  std::unique_ptr<BlockDevice> device = OpenTestFile(dir.path(), kSize, true);
};

template <uint32_t kAlignment>
using AlignedFixture = AlignedOverStrict<kSize, kAlignment>;

#define BATCH_FIXTURES                                                                    \
  MemoryFixture, FaultyFixture, BufferedFileFixture, DirectFileFixture, DirectShmFixture, \
      AlignedFixture<512>, AlignedFixture<4096>

}  // namespace

TEMPLATE_TEST_CASE("A batch moves the bytes Read and Write one by one would", "[batch]",
                   BATCH_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  std::vector<uint8_t> model = Pattern(0, kSize, 5);
  REQUIRE_OK(dev.Write(0, model.data(), kSize));
  std::mt19937_64 rng(42);
  BufferPool pool(4 << 20);
  for (int round = 0; round < 40; ++round) {
    CAPTURE(round);
    pool.Reset();
    std::vector<WriteRequest> writes;
    for (auto [at, len] : RandomRanges(rng, 0, kSize, 1 + rng() % 80)) {
      uint8_t* buf = pool.Take(len, rng);
      const auto data = Pattern(at, len, 100 + round);
      std::memcpy(buf, data.data(), len);
      std::memcpy(model.data() + at, data.data(), len);
      writes.push_back({at, buf, len});
    }
    REQUIRE_OK(dev.WriteBatch(writes, nullptr));
    // Reads may overlap each other and any write.
    std::vector<ReadRequest> reads;
    for (int pass = 0; pass < 2; ++pass)
      for (auto [at, len] : RandomRanges(rng, 0, kSize, 1 + rng() % 40))
        reads.push_back({at, pool.Take(len, rng), len});
    size_t failed = 0;
    REQUIRE_OK(dev.ReadBatch(reads, &failed));
    for (const ReadRequest& r : reads) {
      const auto* got = static_cast<const uint8_t*>(r.buf);
      CHECK(ByteDiff(std::vector<uint8_t>(got, got + r.len),
                     std::vector<uint8_t>(model.begin() + r.offset,
                                          model.begin() + r.offset + r.len)) == "");
    }
  }
  CHECK(ByteDiff(Snapshot(&dev), model) == "");
}

TEMPLATE_TEST_CASE("A request past the end fails its batch there, after those before it ran",
                   "[batch]", BATCH_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  const auto data = Pattern(0, 8192, 3);
  const std::vector<WriteRequest> writes = {{0, data.data(), 512},
                                            {4096, data.data() + 512, 100},
                                            {kSize - 100, data.data(), 200},
                                            {8192, data.data(), 512}};
  size_t failed = 99;
  Status st = dev.WriteBatch(writes, &failed);
  CHECK(st.IsInvalidArgument());
  CHECK(failed == 2);
  CHECK(st.message() == dev.Write(kSize - 100, data.data(), 200).message());
  CHECK(ReadRange(&dev, 0, 512) == std::vector<uint8_t>(data.begin(), data.begin() + 512));
  CHECK(ReadRange(&dev, 4096, 100) == std::vector<uint8_t>(data.begin() + 512, data.begin() + 612));

  std::vector<uint8_t> a(512), b(100), c(200);
  const std::vector<ReadRequest> reads = {
      {0, a.data(), 512}, {4096, b.data(), 100}, {kSize - 100, c.data(), 200}};
  failed = 99;
  st = dev.ReadBatch(reads, &failed);
  CHECK(st.IsInvalidArgument());
  CHECK(failed == 2);
  CHECK(st.message() == dev.Read(kSize - 100, c.data(), 200).message());
  CHECK(a == std::vector<uint8_t>(data.begin(), data.begin() + 512));
  CHECK(b == std::vector<uint8_t>(data.begin() + 512, data.begin() + 612));
}

TEMPLATE_TEST_CASE("Batches from many threads at once each move their own bytes", "[batch]",
                   BATCH_FIXTURES) {
  TestType fx;
  BlockDevice& dev = *fx.device;
  constexpr unsigned kThreads = 8;
  constexpr uint64_t kRegion = kSize / kThreads;
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      BufferPool pool(1 << 20);
      std::vector<uint8_t> model(kRegion, 0);
      const uint64_t base = t * kRegion;
      for (int round = 0; round < 30; ++round) {
        pool.Reset();
        std::vector<WriteRequest> writes;
        for (auto [at, len] : RandomRanges(rng, base, base + kRegion, 24)) {
          uint8_t* buf = pool.Take(len, rng);
          for (size_t i = 0; i < len; ++i) buf[i] = model[at - base + i] = uint8_t(rng());
          writes.push_back({at, buf, len});
        }
        std::vector<uint8_t> back(kRegion);
        const std::vector<ReadRequest> reads = {{base, back.data(), kRegion / 2},
                                                {base + kRegion / 2, back.data() + kRegion / 2,
                                                 kRegion / 2}};
        if (!dev.WriteBatch(writes, nullptr).ok() || !dev.ReadBatch(reads, nullptr).ok() ||
            back != model)
          ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == std::vector<int>(kThreads, 0));
}

TEST_CASE("An armed FaultyDevice sees every request of a batch, an idle one passes it down whole",
          "[batch]") {
  // The base logs the batches it is handed (its own default loop does the I/O).
  struct Log : ForwardingDevice {
    using ForwardingDevice::ForwardingDevice;
    Status ReadBatch(std::span<const ReadRequest> r, size_t* failed) override {
      sizes.push_back(r.size());
      return BlockDevice::ReadBatch(r, failed);
    }
    Status WriteBatch(std::span<const WriteRequest> r, size_t* failed) override {
      sizes.push_back(r.size());
      return BlockDevice::WriteBatch(r, failed);
    }
    std::vector<size_t> sizes;
  };
  auto* log = new Log(NewMemoryDevice(kSize));
  FaultyDevice dev(std::unique_ptr<BlockDevice>(log), 512);
  std::vector<uint8_t> a(512), b(512), c(512);
  const std::vector<ReadRequest> reads = {
      {0, a.data(), 512}, {10 * 512, b.data(), 512}, {20 * 512, c.data(), 512}};
  const std::vector<WriteRequest> writes = {
      {0, a.data(), 512}, {10 * 512, b.data(), 512}, {20 * 512, c.data(), 512}};
  REQUIRE_OK(dev.ReadBatch(reads, nullptr));
  REQUIRE_OK(dev.WriteBatch(writes, nullptr));
  CHECK(log->sizes == std::vector<size_t>{3, 3});
  CHECK(dev.writes_seen() == 3);

  dev.AddFault(10, 10, FaultMode::kReadWrite);
  size_t failed = 99;
  Status st = dev.ReadBatch(reads, &failed);
  CHECK(failed == 1);
  CHECK(st.ToString() == dev.Read(10 * 512, b.data(), 512).ToString());
  failed = 99;
  st = dev.WriteBatch(writes, &failed);
  CHECK(failed == 1);
  CHECK(st.ToString() == dev.Write(10 * 512, b.data(), 512).ToString());
  CHECK(log->sizes == std::vector<size_t>{3, 3});  // each request went down alone
}

// The file is cut to 40 KiB after the device was opened at 64 KiB: what
// lies past the new end reads short, then not at all, which the device
// reports as "unexpected end of file" at the first missing byte.
TEST_CASE("A batch over a file that shrank fails where Read fails, as Read says", "[batch]") {
  for (const bool direct : {false, true}) {
    CAPTURE(direct);
    VarTmpDir dir;
    std::unique_ptr<BlockDevice> opened = OpenTestFile(dir.path(), 64 << 10, direct);
    BlockDevice* dev = FileDeviceOf(opened.get());
    const auto data = Pattern(0, 64 << 10, 8);
    REQUIRE_OK(opened->Write(0, data.data(), data.size()));
    REQUIRE(::truncate((dir.path() + "/disk.img").c_str(), 40 << 10) == 0);
    BufferPool pool(1 << 20);
    auto aligned = [&](size_t len) { return pool.TakeAligned(len); };
    // 1 and 2 follow each other on the device (one op, cut short inside 2).
    const std::vector<ReadRequest> reads = {{0, aligned(4096), 4096},
                                            {32 << 10, aligned(4096), 4096},
                                            {36 << 10, aligned(8192), 8192},
                                            {48 << 10, aligned(4096), 4096},
                                            {8 << 10, aligned(4096), 4096}};
    size_t failed = 99;
    Status st = dev->ReadBatch(reads, &failed);
    const Status want = dev->Read(36 << 10, aligned(8192), 8192);
    CHECK(!want.ok());
    CHECK(failed == 2);
    CHECK(st.ToString() == want.ToString());
    for (size_t i : {0, 1}) {
      const auto* got = static_cast<const uint8_t*>(reads[i].buf);
      CHECK(std::equal(got, got + 4096, data.begin() + reads[i].offset));
    }
  }
}

TEST_CASE("A write batch the file refuses fails at its first request, as Write says", "[batch]") {
  const bool direct = GENERATE(false, true);
  CAPTURE(direct);
  {
    VarTmpDir dir;
    OpenTestFile(dir.path(), 64 << 10, direct).reset();
    std::unique_ptr<BlockDevice> opened = OpenTestFile(dir.path(), 64 << 10, direct,
                                                       /*read_only=*/true, /*create=*/false);
    BlockDevice* dev = FileDeviceOf(opened.get());
    BufferPool pool(1 << 20);
    const WriteRequest a{0, pool.TakeAligned(4096), 4096}, b{4096, pool.TakeAligned(4096), 4096},
        c{16384, pool.TakeAligned(4096), 4096};
    const Status want = dev->Write(0, a.buf, 4096);
    REQUIRE(!want.ok());
    SECTION("merged with its neighbour, which comes first in the batch") {
      // b and a follow each other on the device: one op, which fails; the
      // lowest index is b's, and the status is the one Write gives for b.
      size_t failed = 99;
      Status st = dev->WriteBatch(std::vector<WriteRequest>{b, a}, &failed);
      CHECK(failed == 0);
      CHECK(st.ToString() == dev->Write(4096, b.buf, 4096).ToString());
    }
    SECTION("alone") {
      size_t failed = 99;
      Status st = dev->WriteBatch(std::vector<WriteRequest>{a, c}, &failed);
      CHECK(failed == 0);
      CHECK(st.ToString() == want.ToString());
    }
  }
}
