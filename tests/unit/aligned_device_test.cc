// AlignedDevice (byte-granular I/O over an O_DIRECT base) beyond the
// BlockDevice contract, which device_contract_test.cc runs over it: aligned
// requests pass the caller's buffer straight through, a partial block costs
// one read and one write, an unreadable block fails its read-modify-write,
// and Wrap refuses alignments and sizes it cannot serve. The base is a
// memory device that takes only aligned requests, so this runs everywhere.
#include <cstring>
#include <string>
#include <vector>

#include "remapfs/aligned_device.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::Pattern;
using remapfs::testing::StrictAlignmentDevice;

namespace {

constexpr uint64_t kSize = 256 * 1024;

// AlignedDevice over a base that refuses (and counts) any unaligned request.
template <uint32_t kAlignment>
using StrictFixture = testing::AlignedOverStrict<kSize, kAlignment>;

std::vector<uint8_t> ReadAll(BlockDevice& dev) { return testing::Snapshot(&dev); }

}  // namespace

TEST_CASE("givenAlignedRequest_whenServed_thenCallerBufferGoesStraightToBase", "[aligned]") {
  StrictFixture<512> fx;
  alignas(4096) static uint8_t buf[8192];
  std::memset(buf, 0x5A, sizeof buf);
  REQUIRE_OK(fx.device->Write(4096, buf, sizeof buf));
  REQUIRE(fx.strict->calls.load() == 1);
  REQUIRE(fx.strict->last_buffer.load() == buf);
  REQUIRE_OK(fx.device->Read(512, buf, 1024));
  REQUIRE(fx.strict->calls.load() == 2);
  REQUIRE(fx.strict->last_buffer.load() == buf);
}

TEST_CASE("givenUnalignedWriteWithinOneBlock_whenServed_thenOneReadAndOneWriteOfThatBlock",
          "[aligned]") {
  StrictFixture<4096> fx;
  const auto data = Pattern(0, 10, 3);
  REQUIRE_OK(fx.device->Write(4096 + 100, data.data(), data.size()));
  REQUIRE(fx.strict->calls.load() == 2);  // read the block, write it back
  auto back = testing::ReadRange(fx.device.get(), 4096, 4096);
  std::vector<uint8_t> want(4096, 0);
  std::memcpy(want.data() + 100, data.data(), data.size());
  REQUIRE(testing::ByteDiff(back, want) == "");
}

TEST_CASE("givenUnreadableBlock_whenPartiallyWritten_thenEioAndBlockUnchanged", "[aligned]") {
  auto* faulty = new FaultyDevice(std::make_unique<StrictAlignmentDevice>(kSize, 512), 512);
  auto dev = testing::WrapAlignedOrFail(std::unique_ptr<BlockDevice>(faulty), 512);
  const auto before = Pattern(0, kSize, 5);
  REQUIRE_OK(dev->Write(0, before.data(), kSize));
  faulty->AddFault(3, 3, FaultMode::kRead);
  const auto data = Pattern(0, 100, 6);
  // Head of this write is sector 3: its RMW cannot read the old bytes.
  Status st = dev->Write(3 * 512 + 200, data.data(), data.size());
  REQUIRE(st.errno_value() == EIO);
  faulty->ClearAllFaults();
  REQUIRE(testing::ByteDiff(ReadAll(*dev), before) == "");
  // A whole-sector write needs no read and goes through.
  const auto sector = Pattern(0, 512, 7);
  faulty->AddFault(3, 3, FaultMode::kRead);
  REQUIRE_OK(dev->Write(3 * 512, sector.data(), sector.size()));
}

TEST_CASE("givenBadAlignmentOrSize_whenWrapped_thenInvalidArgument", "[aligned]") {
  for (uint32_t alignment : {0u, 1u, 256u, 1000u, 3072u, 131072u}) {
    CAPTURE(alignment);
    std::unique_ptr<AlignedDevice> out;
    Status st = AlignedDevice::Wrap(NewMemoryDevice(kSize), alignment, &out);
    REQUIRE(st.errno_value() == EINVAL);
    REQUIRE(out == nullptr);
  }
  std::unique_ptr<AlignedDevice> out;
  Status st = AlignedDevice::Wrap(NewMemoryDevice(4096 + 512), 4096, &out);
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(st.message().find("4608") != std::string::npos);
  REQUIRE_OK(AlignedDevice::Wrap(NewMemoryDevice(4096 + 512), 512, &out));
}
