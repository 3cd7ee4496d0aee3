// ReadRequest (fuse/request_reader.h), the worker pool's one read of
// /dev/fuse: its count is the buffer's room and nothing more, whatever
// arrives. A SOCK_SEQPACKET socket stands in for the device: like
// /dev/fuse it hands out one message per read(2), and it truncates a message
// to the count, so a count larger than the room would show as bytes written
// past it.
#include <linux/fuse.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <vector>

#include "fuse/request_reader.h"

using remapfs::fuse::ReadRequest;

namespace {

constexpr char kCanary = 0x5a;

struct Device {
  int fds[2] = {-1, -1};
  Device() { REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0); }
  ~Device() {
    for (int fd : fds) close(fd);
  }
  void Send(size_t bytes) {
    std::vector<char> message(bytes, 'r');
    REQUIRE(write(fds[1], message.data(), bytes) == static_cast<ssize_t>(bytes));
  }
};

}  // namespace

TEST_CASE("a request larger than the buffer never lands past it", "[request_reader]") {
  Device dev;
  std::vector<char> memory(64 << 10, kCanary);
  std::span<char> room(memory.data() + 4096, 16 << 10);  // canaries after it
  dev.Send(room.size() + 8192);
  ssize_t n = ReadRequest(dev.fds[0], room);
  CHECK(n == static_cast<ssize_t>(room.size()));
  for (size_t i = 4096 + room.size(); i < memory.size(); ++i) {
    INFO("byte " << i << " past the room");
    REQUIRE(memory[i] == kCanary);
  }
  for (size_t i = 0; i < 4096; ++i) REQUIRE(memory[i] == kCanary);
}

TEST_CASE("one read returns one whole request", "[request_reader]") {
  Device dev;
  std::vector<char> memory(1 << 20);
  dev.Send(sizeof(fuse_in_header) + 100);
  dev.Send(sizeof(fuse_in_header) + 7);
  CHECK(ReadRequest(dev.fds[0], memory) == static_cast<ssize_t>(sizeof(fuse_in_header) + 100));
  CHECK(ReadRequest(dev.fds[0], memory) == static_cast<ssize_t>(sizeof(fuse_in_header) + 7));
}

TEST_CASE("a read shorter than a request header is -EIO", "[request_reader]") {
  Device dev;
  std::vector<char> memory(4096);
  dev.Send(sizeof(fuse_in_header) - 1);
  CHECK(ReadRequest(dev.fds[0], memory) == -EIO);
}

TEST_CASE("a failed read returns the negative errno", "[request_reader]") {
  std::vector<char> memory(4096);
  CHECK(ReadRequest(-1, memory) == -EBADF);
  Device dev;
  close(dev.fds[1]);
  dev.fds[1] = -1;
  CHECK(ReadRequest(dev.fds[0], memory) == -EIO);  // end of file: a 0-byte read
}

TEST_CASE("the end of the connection is a clean end, a device error is not", "[request_reader]") {
  using remapfs::fuse::ClassifyReceiveError;
  using remapfs::fuse::ReceiveError;
  CHECK(ClassifyReceiveError(-EINTR) == ReceiveError::kRetry);
  CHECK(ClassifyReceiveError(-ENODEV) == ReceiveError::kSessionEnded);
  // The last close after `umount -l` races the abort of the connection.
  CHECK(ClassifyReceiveError(-ECONNABORTED) == ReceiveError::kSessionEnded);
  CHECK(ClassifyReceiveError(-EIO) == ReceiveError::kFailed);
  CHECK(ClassifyReceiveError(-EINVAL) == ReceiveError::kFailed);
  CHECK(ClassifyReceiveError(-ENOMEM) == ReceiveError::kFailed);
}
