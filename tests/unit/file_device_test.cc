// FileDevice (core/file_device.cc) beyond the BlockDevice contract: the
// exclusive and shared locks, refusals of what is no storage (opening MAIN
// or SPARE never blocks on a special file, and the refusal names the path
// and what it is), bytes that persist across a reopen, and the O_DIRECT
// alignment QueryLogicalBlockSize finds: the filesystem's own (statx
// STATX_DIOALIGN) when it reports one, so that a 512-byte bad sector on ext4
// is narrowed to one sector, not eight; 4096 when it does not (tmpfs, FUSE).
// Which case a machine offers depends on where its directories live, so
// those tests say so and return when they cannot run.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "remapfs/aligned_device.h"
#include "remapfs/block_device.h"
#include "remapfs/status.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::CreateZeroFile;
using remapfs::testing::OpenFileDeviceOrFail;
using remapfs::testing::Pattern;
using remapfs::testing::ScratchDir;
using remapfs::testing::VarTmpDir;

namespace {

std::vector<unsigned char> ReadAll(BlockDevice& dev) { return testing::Snapshot(&dev); }

// A Unix socket bound at `path`; the fd stays open: the path only has to exist.
void MakeSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::strcpy(addr.sun_path, path.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
}

// A fresh 64 KiB file in a new directory under `parent`; empty on failure.
class TempFile {
 public:
  explicit TempFile(const std::string& parent) {
    std::string tmpl = parent + "/remapfs-dio-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    int fd = ::open((dir_ + "/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 && ::ftruncate(fd, 64 * 1024) == 0) path_ = dir_ + "/f";
    if (fd >= 0) ::close(fd);
  }
  ~TempFile() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

// What statx says, independently of the code under test: 0 if nothing.
uint32_t ReportedDioAlignment(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_DIOALIGN, &stx) != 0) return 0;
  if ((stx.stx_mask & STATX_DIOALIGN) == 0 || stx.stx_dio_offset_align == 0) return 0;
  return std::max<uint32_t>({512, stx.stx_dio_offset_align, stx.stx_dio_mem_align});
}

}  // namespace

// ---- Locks and persistence ----------------------------------------------

TEST_CASE("givenExclusiveHolder_whenOpenedAgain_thenBusyUntilClosed", "[file_device]") {
  ScratchDir dir;
  const std::string path = dir.File("main.img");
  CreateZeroFile(path, 4096);
  auto holder = OpenFileDeviceOrFail(path);

  std::unique_ptr<BlockDevice> second;
  Status st = OpenFileDevice(path, {}, &second);
  REQUIRE(st.code() == Status::Code::kBusy);
  REQUIRE(st.errno_value() == EBUSY);
  REQUIRE(st.message() == path + " is in use by another remapfs process");
  REQUIRE(second == nullptr);

  FileDeviceOptions ro;
  ro.read_only = true;
  REQUIRE(OpenFileDevice(path, ro, &second).code() == Status::Code::kBusy);

  holder.reset();
  REQUIRE(OpenFileDevice(path, {}, &second).ok());
}

TEST_CASE("givenNoExclusiveHolder_whenOpenedReadOnly_thenSharedOpensCoexist", "[file_device]") {
  ScratchDir dir;
  const std::string path = dir.File("spare.img");
  CreateZeroFile(path, 8192);
  {
    auto writer = OpenFileDeviceOrFail(path);
    auto data = Pattern(0, 8192, 5);
    REQUIRE(writer->Write(0, data.data(), data.size()).ok());
    REQUIRE(writer->Flush().ok());
  }
  FileDeviceOptions ro;
  ro.read_only = true;
  auto first = OpenFileDeviceOrFail(path, ro);
  auto second = OpenFileDeviceOrFail(path, ro);
  REQUIRE(first->Size() == 8192);
  REQUIRE(ReadAll(*second) == Pattern(0, 8192, 5));
  unsigned char byte = 1;
  REQUIRE_FALSE(first->Write(0, &byte, 1).ok());  // opened O_RDONLY
  REQUIRE(ReadAll(*first) == Pattern(0, 8192, 5));

  std::unique_ptr<BlockDevice> writer;
  REQUIRE(OpenFileDevice(path, {}, &writer).code() == Status::Code::kBusy);
}

TEST_CASE("givenPathsThatAreNotDevices_whenOpened_thenClearErrors", "[file_device]") {
  ScratchDir dir;
  std::unique_ptr<BlockDevice> dev;
  FileDeviceOptions ro;
  ro.read_only = true;
  for (const FileDeviceOptions& opts : {FileDeviceOptions{}, ro}) {
    Status st = OpenFileDevice(dir.path(), opts, &dev);
    REQUIRE(st.IsInvalidArgument());
    REQUIRE(st.message().find(dir.path()) != std::string::npos);

    st = OpenFileDevice(dir.File("missing.img"), opts, &dev);
    REQUIRE(st.code() == Status::Code::kNotFound);
    REQUIRE(st.errno_value() == ENOENT);
    REQUIRE(st.message().find("missing.img") != std::string::npos);
  }
  Status st = OpenFileDevice("/dev/null", ro, &dev);
  REQUIRE(st.IsInvalidArgument());
  REQUIRE(dev == nullptr);
}

TEST_CASE("givenWrittenFile_whenReopened_thenBytesPersist", "[file_device]") {
  ScratchDir dir;
  const std::string path = dir.File("persist.img");
  CreateZeroFile(path, 3 * 512);
  auto data = Pattern(0, 700, 77);
  {
    auto dev = OpenFileDeviceOrFail(path);
    REQUIRE(dev->Write(300, data.data(), data.size()).ok());
    REQUIRE(dev->Flush().ok());
  }
  auto dev = OpenFileDeviceOrFail(path);
  std::vector<unsigned char> back(700);
  REQUIRE(dev->Read(300, back.data(), back.size()).ok());
  REQUIRE(back == data);
}

// ---- What is no storage ------------------------------------------------

// Without the fix, a FIFO with no writer blocks open(2) forever: this test
// then hangs until meson's timeout fails it.
TEST_CASE("givenFifoSocketDirOrCharDevice_whenOpened_thenRefusedNamingWhatItIs", "[file_device]") {
  ScratchDir dir;
  const std::string fifo = dir.File("fifo"), sock = dir.File("sock");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  MakeSocket(sock);
  const std::vector<std::pair<std::string, std::string>> cases = {{fifo, "a FIFO"},
                                                                  {sock, "a socket"},
                                                                  {dir.File(""), "a directory"},
                                                                  {"/dev/null",
                                                                   "a character device"}};
  for (const auto& [path, what] : cases) {
    const std::string want = "'" + path + "' is " + what + ", not a regular file or block device";
    for (int flags : {O_RDONLY, O_RDWR}) {
      int fd = -1;
      Status st = OpenStorageFile(path, flags, &fd);
      CHECK(st.IsInvalidArgument());
      CHECK(st.message() == want);
      CHECK(fd == -1);
    }
    std::unique_ptr<BlockDevice> dev;
    Status st = OpenFileDevice(path, FileDeviceOptions{}, &dev);
    CHECK(st.message() == want);
    CHECK(dev == nullptr);
  }
}

TEST_CASE("givenRegularFile_whenOpenStorageFile_thenBlockingDescriptor", "[file_device]") {
  ScratchDir dir;
  ::close(::open(dir.File("f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
  int fd = -1;
  REQUIRE_OK(OpenStorageFile(dir.File("f"), O_RDWR, &fd));
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  ::close(fd);
  Status st = OpenStorageFile(dir.File("absent"), O_RDONLY, &fd);
  CHECK(st.code() == Status::Code::kNotFound);
  CHECK(st.message() == "'" + dir.File("absent") + "' does not exist");
}

// ---- O_DIRECT alignment -------------------------------------------------

TEST_CASE("givenDirectIoFile_whenOpened_thenAlignmentIsWhatTheFilesystemReports", "[file_device]") {
  VarTmpDir dir;
  REQUIRE_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/main.img";
  CreateZeroFile(path, 64 * 1024);
  uint32_t logical = 0;
  REQUIRE_OK(QueryLogicalBlockSize(path, &logical));
  REQUIRE(logical >= 512);
  REQUIRE((logical & (logical - 1)) == 0);
  FileDeviceOptions options;
  options.direct_io = true;
  std::unique_ptr<BlockDevice> dev;
  Status st = OpenFileDevice(path, options, &dev);
  if (st.ok()) {
    auto* aligned = dynamic_cast<AlignedDevice*>(dev.get());
    REQUIRE(aligned != nullptr);
    REQUIRE(aligned->alignment() == logical);
  } else {
    REQUIRE(st.IsInvalidArgument());  // the filesystem refuses O_DIRECT
    REQUIRE(st.message().find(path) != std::string::npos);
  }
  // A size that is no multiple of 512 can never take O_DIRECT.
  dev.reset();
  const std::string odd = dir.path() + "/odd.img";
  CreateZeroFile(odd, 1000);
  st = OpenFileDevice(odd, options, &dev);
  REQUIRE(st.errno_value() == EINVAL);
  REQUIRE(st.message().find(odd) != std::string::npos);
  REQUIRE(dev == nullptr);
  REQUIRE(QueryLogicalBlockSize(dir.path() + "/missing", &logical).errno_value() == ENOENT);
}

TEST_CASE("givenFilesystemReportingDioAlign_whenQueried_thenTheAlignmentItReports",
          "[file_device]") {
  TempFile file("/var/tmp");
  REQUIRE_FALSE(file.path().empty());
  const uint32_t reported = ReportedDioAlignment(file.path());
  if (reported == 0) {
    WARN("/var/tmp's filesystem reports no O_DIRECT alignment; nothing to compare");
    return;
  }
  uint32_t got = 0;
  REQUIRE(QueryLogicalBlockSize(file.path(), &got).ok());
  REQUIRE(got == reported);
}

TEST_CASE("givenFilesystemReportingNoDioAlign_whenQueried_thenTheSafe4096", "[file_device]") {
  // tmpfs before Linux 6.6 takes no O_DIRECT and reports no alignment; later
  // ones report one, and then this case has nothing to check.
  TempFile file("/dev/shm");
  if (file.path().empty() || ReportedDioAlignment(file.path()) != 0) {
    WARN("no filesystem without an O_DIRECT alignment at /dev/shm; nothing to check");
    return;
  }
  uint32_t got = 0;
  REQUIRE(QueryLogicalBlockSize(file.path(), &got).ok());
  REQUIRE(got == 4096);
}
