// OpenMountStack (mount_stack.h) over real files: the stack a mount serves,
// each step's refusal, a refused spare left untouched, the --direct-io
// choice and its fall-back where O_DIRECT is refused, and the metadata read
// once.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "remapfs/main_identity.h"
#include "remapfs/mount_stack.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::ByteDiff;
using remapfs::testing::CreateZeroFile;
using remapfs::testing::MakeGeometry;
using remapfs::testing::OpenFileDeviceOrFail;
using remapfs::testing::Pattern;
using remapfs::testing::ReadVolume;
using remapfs::testing::ScratchDir;
using remapfs::testing::SharedDevice;
using remapfs::testing::Snapshot;
using remapfs::testing::VarTmpDir;

namespace {

constexpr uint64_t kMainBytes = 1 << 20;
constexpr uint64_t kSpareBytes = 64 << 10;
constexpr uint32_t kSector = 512;

FileDeviceOptions Unlocked() {
  FileDeviceOptions options;
  options.exclusive_lock = false;
  return options;
}

std::vector<uint8_t> FileBytes(const std::string& path) {
  return Snapshot(OpenFileDeviceOrFail(path, Unlocked()).get());
}

// MAIN (zeros) and SPARE files in `dir`, the spare formatted for a MAIN of
// `formatted_for` bytes and, with `bound`, bound to this MAIN.
MountStackRequest MakePair(const std::string& dir, uint64_t formatted_for = kMainBytes,
                           bool bound = true) {
  MountStackRequest request;
  request.main_path = dir + "/main.img";
  request.spare_path = dir + "/spare.img";
  CreateZeroFile(request.main_path, kMainBytes);
  CreateZeroFile(request.spare_path, kSpareBytes);
  MainBinding binding;
  if (bound) REQUIRE_OK(BindingOfMain(request.main_path, &binding));
  auto spare = OpenFileDeviceOrFail(request.spare_path, Unlocked());
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Format(spare.get(), MakeGeometry(kSector, formatted_for, kSpareBytes),
                                   binding, &store));
  return request;
}

// Opens `request`, REQUIREing a refusal at `step`; returns the failure.
MountStackFailure RefusedAt(const MountStackRequest& request, MountStackStep step) {
  MountStack stack;
  MountStackFailure failure;
  Status st = OpenMountStack(request, &stack, &failure);
  INFO(st.ToString());
  REQUIRE_FALSE(st.ok());
  REQUIRE(stack.volume == nullptr);
  REQUIRE(failure.step == step);
  REQUIRE(failure.status.code() == st.code());
  REQUIRE(failure.status.message() == st.message());
  return failure;
}

// True when a new file in `dir` cannot be opened with O_DIRECT.
bool RefusesODirect(const std::string& dir) {
  const std::string probe = dir + "/probe";
  int fd = ::open(probe.c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
  const bool refused = fd < 0 && errno == EINVAL;
  if (fd >= 0) ::close(fd);
  ::unlink(probe.c_str());
  return refused;
}

// OpenFileDevice on a filesystem that refuses O_DIRECT, with its error.
Status OpenRefusingODirect(const std::string& path, const FileDeviceOptions& options,
                           std::unique_ptr<BlockDevice>* out) {
  if (options.direct_io) {
    return Status::InvalidArgument("'" + path +
                                   "': its filesystem does not "
                                   "support direct I/O (O_DIRECT)");
  }
  return OpenFileDevice(path, options, out);
}

// Logs every read (offset, length) on its way to the base.
class ReadLog : public SharedDevice {
 public:
  using Reads = std::vector<std::pair<uint64_t, size_t>>;
  ReadLog(std::shared_ptr<BlockDevice> base, std::shared_ptr<Reads> reads)
      : SharedDevice(std::move(base)), reads_(std::move(reads)) {}
  Status Read(uint64_t offset, void* buf, size_t len) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      reads_->emplace_back(offset, len);
    }
    return SharedDevice::Read(offset, buf, len);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<Reads> reads_;
};

// How many of `reads` touch the header sector of each copy of `geometry`.
std::vector<int> HeaderReads(const ReadLog::Reads& reads, const Geometry& geometry) {
  std::vector<int> counts;
  for (uint64_t start : geometry.placement.copy_starts) {
    const uint64_t header = start * geometry.sector_size;
    int n = 0;
    for (const auto& [offset, len] : reads)
      n += offset < header + geometry.sector_size && header < offset + len;
    counts.push_back(n);
  }
  return counts;
}

}  // namespace

TEST_CASE("givenFormattedPair_whenStackOpened_thenTheVolumeServesMainUnderItsFaultLayer",
          "[mount_stack]") {
  ScratchDir dir;
  MountStackRequest request = MakePair(dir.path());
  request.volume.error_recovery_time = std::chrono::milliseconds(0);
  const auto data = Pattern(0, 8192, 7);
  {
    MountStack stack;
    REQUIRE_OK(OpenMountStack(request, &stack, nullptr));
    REQUIRE(stack.volume != nullptr);
    REQUIRE(stack.main_faults != nullptr);
    CHECK(stack.volume->size_bytes() == kMainBytes);
    CHECK_FALSE(stack.main_io.direct);
    CHECK(stack.main_io.reason == "--direct-io auto, MAIN is not a block device");
    CHECK_FALSE(stack.spare_io.direct);
    REQUIRE_OK(stack.volume->Write(40960, data.data(), data.size()));
    CHECK(ByteDiff(ReadVolume(*stack.volume, 40960, data.size()), data) == "");

    // The fault layer is the one between the Volume and MAIN.
    stack.main_faults->AddFault(200, 200, FaultMode::kRead);
    std::vector<uint8_t> buf(kSector);
    CHECK(stack.volume->Read(200 * kSector, buf.data(), buf.size()).IsIoError());
    CHECK(stack.volume->Stats().pending == 1);

    // Both files stay locked while the stack lives.
    MountStackFailure busy = RefusedAt(request, MountStackStep::kOpenMain);
    CHECK(busy.status.code() == Status::Code::kBusy);
  }
  const auto main = FileBytes(request.main_path);
  CHECK(ByteDiff({main.begin() + 40960, main.begin() + 40960 + 8192}, data) == "");
  MountStack again;
  CHECK_OK(OpenMountStack(request, &again, nullptr));  // the locks went with it
}

TEST_CASE("givenOneFileAsMainAndSpare_whenOpened_thenRefusedAtTheSameFileStep", "[mount_stack]") {
  ScratchDir dir;
  MountStackRequest request = MakePair(dir.path());
  const std::string alias = dir.File("alias.img");
  REQUIRE(link(request.main_path.c_str(), alias.c_str()) == 0);
  request.spare_path = alias;
  MountStackFailure failure = RefusedAt(request, MountStackStep::kSameFile);
  CHECK(failure.status.IsInvalidArgument());
  CHECK(failure.status.message() == "MAIN and SPARE are the same file");
  CHECK(failure.spare == nullptr);
}

TEST_CASE("givenMissingMainOrSpare_whenOpened_thenRefusedAtItsOpenStep", "[mount_stack]") {
  ScratchDir dir;
  MountStackRequest request = MakePair(dir.path());
  SECTION("MAIN") {
    request.main_path = dir.File("absent.img");
    MountStackFailure failure = RefusedAt(request, MountStackStep::kOpenMain);
    CHECK(failure.status.code() == Status::Code::kNotFound);
  }
  SECTION("SPARE") {
    request.spare_path = dir.File("absent.img");
    MountStackFailure failure = RefusedAt(request, MountStackStep::kOpenSpare);
    CHECK(failure.status.code() == Status::Code::kNotFound);
  }
}

TEST_CASE("givenSpareForAnotherMainSize_whenOpened_thenRefusedAtMetadataAndSpareUnchanged",
          "[mount_stack]") {
  ScratchDir dir;
  const uint64_t other_main = 2 * kMainBytes;
  MountStackRequest request = MakePair(dir.path(), other_main);
  // A damaged table sector in copy 1: any repair would rewrite that copy.
  const Geometry g = MakeGeometry(kSector, other_main, kSpareBytes);
  {
    auto spare = OpenFileDeviceOrFail(request.spare_path, Unlocked());
    const uint8_t junk[16] = {0xde, 0xad};
    REQUIRE_OK(spare->Write((g.placement.copy_starts.at(1) + 1) * kSector + 20, junk, 16));
  }
  const auto before = FileBytes(request.spare_path);

  MountStackFailure failure = RefusedAt(request, MountStackStep::kMetadata);
  CHECK(failure.status.IsInvalidArgument());
  CHECK(failure.status.message().find("formatted for a MAIN of 2097152 bytes") !=
        std::string::npos);
  // The caller gets the spare to word its message: it is a remapfs spare.
  REQUIRE(failure.spare != nullptr);
  CHECK(MetadataStore::LooksFormatted(failure.spare.get()));
  failure.spare.reset();
  CHECK(ByteDiff(FileBytes(request.spare_path), before) == "");
}

TEST_CASE("givenMainThatCannotBeIdentified_whenOpened_thenRefusedAtTheIdentifyStep",
          "[mount_stack]") {
  ScratchDir dir;
  MountStackRequest request = MakePair(dir.path());
  // MAIN's device opens (from memory), but its path names nothing to identify.
  request.main_path = dir.File("gone.img");
  request.open_device = [&](const std::string& path, const FileDeviceOptions& options,
                            std::unique_ptr<BlockDevice>* out) {
    if (path != request.main_path) return OpenFileDevice(path, options, out);
    *out = NewMemoryDevice(kMainBytes);
    return Status::Ok();
  };
  MountStackFailure failure = RefusedAt(request, MountStackStep::kIdentifyMain);
  CHECK(failure.status.code() == Status::Code::kNotFound);
}

TEST_CASE("givenUnboundSpareThatCannotBeWritten_whenOpened_thenRefusedAtTheVolumeStep",
          "[mount_stack]") {
  ScratchDir dir;
  // The Volume binds an unbound spare to MAIN: a write this spare refuses.
  MountStackRequest request = MakePair(dir.path(), kMainBytes, /*bound=*/false);
  request.open_device = [&](const std::string& path, FileDeviceOptions options,
                            std::unique_ptr<BlockDevice>* out) {
    options.read_only = options.read_only || path == request.spare_path;
    return OpenFileDevice(path, options, out);
  };
  MountStackFailure failure = RefusedAt(request, MountStackStep::kVolume);
  CHECK(failure.status.message().find("binding the spare to MAIN") != std::string::npos);
}

TEST_CASE("givenStack_whenOpened_thenEachMetadataHeaderIsReadAsOftenAsByOneOpen", "[mount_stack]") {
  ScratchDir dir;
  MountStackRequest request = MakePair(dir.path());
  auto stack_reads = std::make_shared<ReadLog::Reads>();
  request.open_device = [&](const std::string& path, const FileDeviceOptions& options,
                            std::unique_ptr<BlockDevice>* out) {
    REMAPFS_RETURN_IF_ERROR(OpenFileDevice(path, options, out));
    if (path == request.spare_path) *out = std::make_unique<ReadLog>(std::move(*out), stack_reads);
    return Status::Ok();
  };
  Geometry geometry;
  {
    MountStack stack;
    REQUIRE_OK(OpenMountStack(request, &stack, nullptr));
    geometry = stack.volume->geometry();
  }
  // The same bytes, loaded by one MetadataStore::Open.
  auto one_open_reads = std::make_shared<ReadLog::Reads>();
  ReadLog spare(OpenFileDeviceOrFail(request.spare_path, Unlocked()), one_open_reads);
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Open(&spare, MetadataOpenOptions{}, &store));

  const std::vector<int> once = HeaderReads(*one_open_reads, geometry);
  REQUIRE(once.size() == geometry.placement.copy_starts.size());
  for (int n : once) REQUIRE(n > 0);
  CHECK(HeaderReads(*stack_reads, geometry) == once);
}

TEST_CASE("givenDirectIoMode_whenChosen_thenAutoIsDirectOnlyForABlockDevice", "[mount_stack]") {
  ScratchDir dir;
  const std::string file = dir.File("main.img");
  CreateZeroFile(file, 4096);
  DirectIoMode mode = DirectIoMode::kOff;
  REQUIRE(ParseDirectIoMode("auto", &mode));
  CHECK(mode == DirectIoMode::kAuto);
  CHECK_FALSE(ParseDirectIoMode("yes", &mode));
  CHECK(ChooseDirectIo(DirectIoMode::kOn, file).direct);
  CHECK_FALSE(ChooseDirectIo(DirectIoMode::kOff, file).direct);
  CHECK_FALSE(ChooseDirectIo(DirectIoMode::kAuto, file).direct);
}

TEST_CASE("givenFilesystemRefusingODirect_whenDirectIoOn_thenRefused_andAutoFallsBack",
          "[mount_stack]") {
  // tmpfs refuses O_DIRECT before Linux 6.6; elsewhere an opener plays it.
  ScratchDir scratch;
  std::string where = scratch.path();
  DeviceOpener open;
  char shm[] = "/dev/shm/remapfs-stack-XXXXXX";
  if (mkdtemp(shm) != nullptr && RefusesODirect(shm)) {
    where = shm;
  } else {
    WARN("no tmpfs here refuses O_DIRECT: an opener refuses it as tmpfs did");
    open = OpenRefusingODirect;
  }
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::filesystem::remove_all(path); }
  } cleanup{shm};
  MountStackRequest request = MakePair(where);
  request.open_device = open;

  request.direct_io = DirectIoMode::kOn;
  CHECK(RefusedAt(request, MountStackStep::kOpenMain).status.IsInvalidArgument());

  // auto wants O_DIRECT for a block device; here is what it does if refused.
  const DirectIoChoice wants_direct{DirectIoMode::kAuto, true, "MAIN is a block device"};
  std::unique_ptr<BlockDevice> device;
  DeviceIo io;
  REQUIRE_OK(
      OpenDeviceForMount("SPARE", request.spare_path, false, wants_direct, open, &device, &io));
  CHECK_FALSE(io.direct);
  CHECK(io.alignment == 0);
  CHECK(io.reason == "--direct-io auto, O_DIRECT refused");
  device.reset();
  const DirectIoChoice on{DirectIoMode::kOn, true, "--direct-io on"};
  CHECK(OpenDeviceForMount("SPARE", request.spare_path, false, on, open, &device, nullptr)
            .IsInvalidArgument());
  CHECK(device == nullptr);
}

TEST_CASE("givenDiskFilesystem_whenDirectIoOn_thenBothDevicesGetODirect", "[mount_stack]") {
  VarTmpDir dir;
  REQUIRE_FALSE(dir.path().empty());
  MountStackRequest request = MakePair(dir.path());
  request.direct_io = DirectIoMode::kOn;
  MountStack stack;
  MountStackFailure failure;
  Status st = OpenMountStack(request, &stack, &failure);
  if (!st.ok() && failure.step == MountStackStep::kOpenMain && st.IsInvalidArgument()) {
    WARN("/var/tmp refuses O_DIRECT here: " + st.ToString());
    return;
  }
  REQUIRE_OK(st);
  CHECK(stack.main_io.direct);
  CHECK(stack.main_io.alignment >= 512);
  CHECK(stack.main_io.reason == "--direct-io on");
  CHECK(stack.spare_io.direct);
  const auto data = Pattern(0, 1000, 3);  // unaligned: through the AlignedDevice
  REQUIRE_OK(stack.volume->Write(12345, data.data(), data.size()));
  CHECK(ByteDiff(ReadVolume(*stack.volume, 12345, data.size()), data) == "");
}
