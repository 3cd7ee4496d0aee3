// Shared fixtures for the unit tests: devices whose bytes outlive the Volume
// that owns them (so a test can reopen over the same memory, or inspect and
// corrupt it directly), deterministic data patterns, and sector helpers.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "remapfs/aligned_device.h"
#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/metadata.h"
#include "remapfs/placement.h"
#include "remapfs/sector_list.h"
#include "remapfs/status.h"
#include "remapfs/volume.h"

// REQUIRE/CHECK that a Status is ok, printing it when it is not.
#define REQUIRE_OK(expr)                \
  do {                                  \
    ::remapfs::Status _req_st = (expr); \
    INFO(_req_st.ToString());           \
    REQUIRE(_req_st.ok());              \
  } while (0)
#define CHECK_OK(expr)                  \
  do {                                  \
    ::remapfs::Status _chk_st = (expr); \
    INFO(_chk_st.ToString());           \
    CHECK(_chk_st.ok());                \
  } while (0)

namespace remapfs::testing {

// Forwards every call to its base. The test devices that change some calls
// derive from it and override only those. The base is shared (a
// unique_ptr converts), so its bytes can outlive this device.
class ForwardingDevice : public BlockDevice {
 public:
  explicit ForwardingDevice(std::shared_ptr<BlockDevice> base) : base_(std::move(base)) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    return base_->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    return base_->Write(offset, buf, len);
  }
  Status Flush() override { return base_->Flush(); }
  uint64_t Size() const override { return base_->Size(); }

 protected:
  BlockDevice* base() const { return base_.get(); }

 private:
  std::shared_ptr<BlockDevice> base_;
};

// Forwards to a shared device, so the bytes survive whoever owns this one.
using SharedDevice = ForwardingDevice;

// Once armed, fails the Write and Flush calls numbered [first, first+count)
// (counted from the arming, writes and flushes alike) with EIO; with
// `lands`, a failed write still reaches the base, as a real disk's EIO says
// nothing of what reached the medium. Forwards to a shared device, so the
// bytes outlive it.
class FailingCallsDevice : public ForwardingDevice {
 public:
  static constexpr uint64_t kForever = ~uint64_t{0} / 2;
  using ForwardingDevice::ForwardingDevice;
  void Arm(uint64_t first, uint64_t count, bool lands) {
    calls_ = 0, first_ = first, end_ = first + count, lands_ = lands, armed_ = true;
  }
  void Heal() { armed_ = false; }
  uint64_t calls() const { return calls_; }        // since the arming
  uint64_t injected() const { return injected_; }  // failures, ever
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    if (!Fails()) return base()->Write(offset, buf, len);
    if (lands_) (void)base()->Write(offset, buf, len);
    return Status::IoError("injected write error");
  }
  Status Flush() override {
    return Fails() ? Status::IoError("injected flush error") : base()->Flush();
  }

 private:
  bool Fails() {
    const uint64_t n = calls_++;
    const bool fail = armed_ && n >= first_ && n < end_;
    injected_ += fail;
    return fail;
  }
  uint64_t calls_ = 0, first_ = 0, end_ = 0, injected_ = 0;
  bool lands_ = false, armed_ = false;
};

// Counts the calls that pass through it; owns its base.
class CountingDevice : public ForwardingDevice {
 public:
  explicit CountingDevice(std::unique_ptr<BlockDevice> base) : ForwardingDevice(std::move(base)) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    reads.fetch_add(1);
    return base()->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    writes.fetch_add(1);
    return base()->Write(offset, buf, len);
  }
  Status Flush() override {
    flushes.fetch_add(1);
    return base()->Flush();
  }
  void Reset() { reads = 0, writes = 0, flushes = 0; }

  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> writes{0};
  std::atomic<uint64_t> flushes{0};
};

// A device that takes only what O_DIRECT takes: offset, length and buffer
// address all multiples of `alignment`; anything else is EINVAL (and counted
// in `rejected`). It records the last buffer it was handed, to show
// pass-through. Each call is atomic, as a disk writes a request as a unit.
// Owns its base (by default a new zero-filled memory device).
class StrictAlignmentDevice : public ForwardingDevice {
 public:
  StrictAlignmentDevice(uint64_t size, uint32_t alignment)
      : StrictAlignmentDevice(NewMemoryDevice(size), alignment) {}
  StrictAlignmentDevice(std::unique_ptr<BlockDevice> base, uint32_t alignment)
      : ForwardingDevice(std::move(base)), alignment_(alignment) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    REMAPFS_RETURN_IF_ERROR(Check(offset, buf, len));
    std::lock_guard<std::mutex> lock(mu_);
    return base()->Read(offset, buf, len);
  }
  Status Write(uint64_t offset, const void* buf, size_t len) override {
    REMAPFS_RETURN_IF_ERROR(Check(offset, buf, len));
    std::lock_guard<std::mutex> lock(mu_);
    return base()->Write(offset, buf, len);
  }

  std::atomic<const void*> last_buffer{nullptr};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> rejected{0};

 private:
  Status Check(uint64_t offset, const void* buf, size_t len) {
    calls.fetch_add(1);
    last_buffer.store(buf);
    if (offset % alignment_ || len % alignment_ || reinterpret_cast<uintptr_t>(buf) % alignment_) {
      rejected.fetch_add(1);
      return Status::InvalidArgument("unaligned request reached the base");
    }
    return Status::Ok();
  }
  std::mutex mu_;
  const uint32_t alignment_;
};

// AlignedDevice::Wrap, REQUIREing success.
std::unique_ptr<AlignedDevice> WrapAlignedOrFail(std::unique_ptr<BlockDevice> base,
                                                 uint32_t alignment);

// An AlignedDevice of `kSize` bytes over a StrictAlignmentDevice, which must
// never have been handed an unaligned request by the time it is destroyed.
template <uint64_t kSize, uint32_t kAlignment>
struct AlignedOverStrict {
  StrictAlignmentDevice* strict = new StrictAlignmentDevice(kSize, kAlignment);
  std::unique_ptr<AlignedDevice> device = WrapAlignedOrFail(std::unique_ptr<BlockDevice>(strict),
                                                            kAlignment);
  ~AlignedOverStrict() { CHECK(strict->rejected.load() == 0); }
};

// A private directory under `parent`, removed with everything in it;
// path() is empty when it could not be made.
class TempDirIn {
 public:
  explicit TempDirIn(const char* parent);
  ~TempDirIn();
  TempDirIn(const TempDirIn&) = delete;
  TempDirIn& operator=(const TempDirIn&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Under /var/tmp, a disk filesystem (tmpfs may refuse O_DIRECT).
struct VarTmpDir : TempDirIn {
  VarTmpDir() : TempDirIn("/var/tmp") {}
};

// Creates (or truncates) `path` as a file of `size` zero bytes, REQUIREing
// that the open and the truncate succeed.
void CreateZeroFile(const std::string& path, uint64_t size);

// OpenFileDevice, REQUIREing success.
std::unique_ptr<BlockDevice> OpenFileDeviceOrFail(const std::string& path,
                                                  const FileDeviceOptions& options = {});

// A private directory under $TMPDIR, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The used slots of a store, one per line ("slot:used pending:main"):
// comparable and readable.
std::string TableText(const MetadataStore& store);
// A device of `device_sectors` 512-byte sectors whose first `spare_bytes`
// hold a linear spare (MAIN 1 MiB) with 300 remaps committed (slot i ->
// MAIN 1000+i): the starting image of the grow tests.
std::shared_ptr<BlockDevice> SpareWithRemapsBeforeGrow(uint64_t spare_bytes,
                                                       uint64_t device_sectors);

// Deterministic pseudo-random bytes: byte `offset` of stream `seed`.
uint8_t PatternByte(uint64_t offset, uint64_t seed);
std::vector<uint8_t> Pattern(uint64_t offset, size_t len, uint64_t seed);
// Writes stream `seed` over the whole device.
void FillPattern(BlockDevice* dev, uint64_t seed);
// The whole content of a device (or a range of it).
std::vector<uint8_t> Snapshot(BlockDevice* dev);
std::vector<uint8_t> ReadRange(BlockDevice* dev, uint64_t offset, size_t len);
// Reads through the Volume, REQUIREing success.
std::vector<uint8_t> ReadVolume(Volume& v, uint64_t offset, size_t len);

// "" when equal, else where the first difference is (keeps failure output
// short where Catch would print whole buffers). Use as
// CHECK(ByteDiff(actual, expected) == "").
std::string ByteDiff(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected);

// One range per listed sector.
std::vector<SectorRange> Sectors(std::initializer_list<uint64_t> sectors);
std::vector<SectorRange> Sectors(const std::vector<uint64_t>& sectors);
// `count` sectors from `first`.
std::vector<SectorRange> SectorRun(uint64_t first, uint64_t count);

// A readable dump of a remap table, so failed comparisons show the tables.
std::string Describe(const std::vector<RemapEntry>& remaps);
std::string Describe(const std::vector<Extent>& extents);

// Geometry the way `remapfs format` computes it.
Geometry MakeGeometry(uint32_t sector_size, uint64_t main_bytes, uint64_t spare_bytes,
                      Strategy strategy = Strategy::kAuto);

// The smallest copy length the SPEC allows for `copies` copies on a spare of
// `spare_sectors`: never under 8, holding a header and a table of every slot.
uint64_t SpecCopyLength(uint32_t sector_size, uint64_t spare_sectors, uint64_t copies);

struct MemVolumeOptions {
  uint64_t main_bytes = 1 << 20;
  uint64_t spare_bytes = 64 << 10;
  uint32_t sector_size = 512;
  Strategy strategy = Strategy::kAuto;
  uint64_t main_seed = 1;  // main starts filled with Pattern(main_seed)
};

// A Volume over two memory devices. The stack handed to the Volume is
// CountingDevice -> FaultyDevice -> SharedDevice -> memory, for main and
// spare alike; the raw pointers below stay valid until the next Reopen.
class MemVolume {
 public:
  explicit MemVolume(const MemVolumeOptions& options);
  ~MemVolume();

  Volume& vol() { return *volume_; }
  Volume* operator->() { return volume_.get(); }
  bool is_open() const { return volume_ != nullptr; }

  // Destroys the Volume (if open) and opens a new one over the same bytes,
  // with fresh fault and counting layers.
  Status Reopen();
  void Close();

  // The memory itself: read or corrupt it behind the Volume's back.
  BlockDevice* main_mem() { return main_mem_.get(); }
  BlockDevice* spare_mem() { return spare_mem_.get(); }
  FaultyDevice* main_fault() { return main_fault_; }
  FaultyDevice* spare_fault() { return spare_fault_; }
  CountingDevice* main_count() { return main_count_; }
  CountingDevice* spare_count() { return spare_count_; }

  const MemVolumeOptions& options() const { return options_; }
  uint32_t sector_size() const { return options_.sector_size; }
  uint64_t main_sectors() const { return options_.main_bytes / sector_size(); }
  uint64_t spare_sectors() const { return options_.spare_bytes / sector_size(); }

  // Opens a second MetadataStore over the raw spare (repair off unless
  // asked), for inspecting the copies. The Volume should be closed.
  Status InspectMetadata(std::unique_ptr<MetadataStore>* out, bool repair = false);

 private:
  MemVolumeOptions options_;
  std::shared_ptr<BlockDevice> main_mem_;
  std::shared_ptr<BlockDevice> spare_mem_;
  std::unique_ptr<Volume> volume_;
  FaultyDevice* main_fault_ = nullptr;
  FaultyDevice* spare_fault_ = nullptr;
  CountingDevice* main_count_ = nullptr;
  CountingDevice* spare_count_ = nullptr;
};

}  // namespace remapfs::testing
