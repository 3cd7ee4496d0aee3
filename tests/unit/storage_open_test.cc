// OpenStorageFile (block_device.h): opening MAIN or SPARE never blocks on a
// special file, and the refusal names the path and what it is.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::ScratchDir;

namespace {

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

}  // namespace

// Without the fix, a FIFO with no writer blocks open(2) forever: this test
// then hangs until meson's timeout fails it.
TEST_CASE("givenFifoSocketDirOrCharDevice_whenOpened_thenRefusedNamingWhatItIs",
          "[device]") {
  ScratchDir dir;
  const std::string fifo = dir.File("fifo"), sock = dir.File("sock");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  MakeSocket(sock);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fifo, "a FIFO"}, {sock, "a socket"}, {dir.File(""), "a directory"},
      {"/dev/null", "a character device"}};
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

TEST_CASE("givenRegularFile_whenOpenStorageFile_thenBlockingDescriptor", "[device]") {
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

