// FileDevice's batches in a child process whose limits the test changes,
// where a ring cannot be had or a transfer comes back short: without
// io_uring (a seccomp filter refuses it) every batch runs request by
// request; a thread short of descriptors runs its batch itself and makes
// its ring once they are free; a write cut short by the file size limit fails
// at the request it cut, as Write says, after the requests before it
// landed. Each child reports by its exit status: no Catch in a child.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "batch_test_util.h"
#include "uring_batch.h"

using namespace remapfs;
using namespace remapfs::testing;

namespace {

constexpr uint64_t kSize = 256 * 1024;

// Runs `child` in a forked process over DIR/disk.img (kSize zero bytes);
// CHECKs that it exited 0.
void InChild(const std::function<int(const std::string&)>& child) {
  VarTmpDir dir;
  REQUIRE(!dir.path().empty());
  CreateZeroFile(dir.path() + "/disk.img", kSize);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(child(dir.path()));
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// DIR/disk.img opened buffered, without the lock (the child is its only
// user); null on failure.
std::unique_ptr<BlockDevice> OpenDisk(const std::string& dir) {
  std::unique_ptr<BlockDevice> dev;
  FileDeviceOptions options;
  options.exclusive_lock = false;
  if (!OpenFileDevice(dir + "/disk.img", options, &dev).ok()) return nullptr;
  return dev;
}

// Makes io_uring_setup fail with EPERM for this process from now on, as a
// container's seccomp profile may.
bool RefuseIoUring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
}

// Without io_uring: a batch's bytes, and its failure, as with a ring.
int BatchWithoutRing(const std::string& dir) {
  if (!RefuseIoUring()) return 2;
  if (RunOnThreadRing({})) return 3;  // a ring despite the filter
  std::unique_ptr<BlockDevice> dev = OpenDisk(dir);
  if (!dev) return 4;
  const auto data = Pattern(0, 3 * 4096, 11);
  const std::vector<WriteRequest> writes = {{8192, data.data() + 8192, 4096},
                                            {0, data.data(), 8192}};
  if (!dev->WriteBatch(writes, nullptr).ok()) return 5;
  std::vector<uint8_t> back(3 * 4096);
  const std::vector<ReadRequest> reads = {{4096, back.data() + 4096, 8192}, {0, back.data(), 4096}};
  if (!dev->ReadBatch(reads, nullptr).ok() || back != data) return 6;
  std::vector<uint8_t> past(100);
  const std::vector<ReadRequest> bad = {{0, back.data(), 10}, {kSize - 50, past.data(), 100}};
  size_t failed = 99;
  if (!dev->ReadBatch(bad, &failed).IsInvalidArgument() || failed != 1) return 7;
  return 0;
}

// With every descriptor taken, a thread cannot make a ring and runs its
// batch itself; once descriptors are free, the same thread makes one. No
// thread is started, and no virtual call is first made, while descriptors
// are short: UBSan's type check then needs a pipe.
int RingsAfterDescriptorShortage(const std::string& dir) {
  std::unique_ptr<BlockDevice> dev = OpenDisk(dir);
  if (!dev) return 2;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 3;
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_cur, 512);
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 4;
  const auto data = Pattern(0, 2 * 4096, 13);
  std::vector<uint8_t> back(2 * 4096);
  const std::vector<WriteRequest> writes = {{4096, data.data() + 4096, 4096},
                                            {0, data.data(), 4096}};
  const std::vector<ReadRequest> reads = {{0, back.data(), 8192}};
  if (!dev->WriteBatch(writes, nullptr).ok()) return 5;
  spdlog::default_logger()->flush();  // the sink's first virtual call
  std::atomic<int> phase{0};
  int result = 0;
  const auto await = [&phase](int p) {
    while (phase.load() != p) std::this_thread::yield();
  };
  std::thread worker([&] {  // no ring yet
    await(1);
    const bool fell_back = !RunOnThreadRing({}) && dev->WriteBatch(writes, nullptr).ok() &&
                           dev->ReadBatch(reads, nullptr).ok() && back == data;
    phase.store(2);
    await(3);
    result = !fell_back ? 6 : !RunOnThreadRing({}) ? 7 : 0;
  });
  std::vector<int> taken;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY)) >= 0;) taken.push_back(fd);
  const bool exhausted = errno == EMFILE;
  phase.store(1);
  await(2);
  for (int fd : taken) ::close(fd);
  phase.store(3);
  worker.join();
  return exhausted ? result : 8;
}

// The file size limit cuts the merged write of requests 0 and 1 (bytes
// 32-44 KiB) at 40 KiB: request 1 fails there with EFBIG, as Write says;
// requests 0 and 2 landed, and request 1 up to the limit.
int WriteCutByFileSizeLimit(const std::string& dir) {
  std::unique_ptr<BlockDevice> dev = OpenDisk(dir);
  if (!dev) return 2;
  std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of death
  rlimit limit{};
  if (getrlimit(RLIMIT_FSIZE, &limit) != 0) return 3;
  limit.rlim_cur = 40 << 10;
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 4;
  const auto data = Pattern(0, 48 << 10, 15);
  const auto at = [&](size_t offset) { return data.data() + offset; };
  const std::vector<WriteRequest> writes = {
      {32 << 10, at(32 << 10), 4 << 10}, {36 << 10, at(36 << 10), 8 << 10}, {0, at(0), 4 << 10}};
  size_t failed = 99;
  const Status st = dev->WriteBatch(writes, &failed);
  if (st.ok() || failed != 1) return 5;
  const Status want = dev->Write(36 << 10, at(36 << 10), 8 << 10);
  if (st.ToString() != want.ToString() || st.errno_value() != EFBIG) return 6;
  std::vector<uint8_t> back(40 << 10);
  if (!dev->Read(0, back.data(), back.size()).ok()) return 7;
  if (!std::equal(back.begin(), back.begin() + (4 << 10), data.begin())) return 8;
  if (!std::equal(back.begin() + (32 << 10), back.end(), data.begin() + (32 << 10))) return 9;
  return 0;
}

}  // namespace

TEST_CASE("Without io_uring (a seccomp filter refuses it) a batch runs one request at a time",
          "[batch_child]") {
  if (!RunOnThreadRing({})) WARN("io_uring is unavailable here: every batch runs this way");
  InChild(BatchWithoutRing);
}

TEST_CASE("A thread short of descriptors runs its batch itself, and gets a ring once they are free",
          "[batch_child]") {
  if (!RunOnThreadRing({})) WARN("io_uring is unavailable here: no ring to get back");
  else InChild(RingsAfterDescriptorShortage);
}

TEST_CASE("A write batch cut short fails at the request it cut, after the others landed",
          "[batch_child]") {
  InChild(WriteCutByFileSizeLimit);
}
