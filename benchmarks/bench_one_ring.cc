// The one-ring device floors of bench_remapped_io (bench_one_ring.h).
#include "bench_one_ring.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <span>
#include <utility>

#include "uring_batch.h"

namespace remapfs::bench {
namespace {

// The most runs of a 1 MiB request: one per 512-byte sector.
constexpr unsigned kRequestOps = 2048;

[[noreturn]] void Fail(const char* what, int64_t result, size_t len) {
  std::fprintf(stderr, "%s: %s: %lld of %zu bytes (%s)\n", program_invocation_short_name, what,
               (long long)result, len, result < 0 ? std::strerror(-result) : "short");
  std::exit(1);
}

size_t OpLen(const UringOp& op) {
  size_t len = 0;
  for (unsigned i = 0; i < op.iovcnt; ++i) len += op.iov[i].iov_len;
  return len;
}

int OpenRaw(const std::string& path, bool direct) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, path.c_str(),
                 std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// The Volume's lone run: one plain call.
void IssueLone(const RawFiles& files, const DeviceRun& r, uint8_t* data, bool write) {
  const int fd = files.Fd(r.device);
  const ssize_t got = write ? ::pwrite(fd, data + r.pos, r.len, static_cast<off_t>(r.at))
                            : ::pread(fd, data + r.pos, r.len, static_cast<off_t>(r.at));
  if (got != static_cast<ssize_t>(r.len)) Fail("floor: lone run", got < 0 ? -errno : got, r.len);
}

// The ops of a request's runs, both devices together, as FileDevice builds
// a batch's (core/file_device_batch.cc): in device order, MAIN first, runs
// that follow each other on a device merged into one vectored op. The
// number of ops; `iov` and `ops` hold kRequestOps.
size_t BuildOps(const RawFiles& files, const std::vector<DeviceRun>& runs, uint8_t* data,
                bool write, iovec* iov, UringOp* ops) {
  if (runs.size() > kRequestOps) Fail("floor: runs in a request", runs.size(), kRequestOps);
  std::array<uint16_t, kRequestOps> order;
  std::iota(order.begin(), order.begin() + runs.size(), 0);
  std::sort(order.begin(), order.begin() + runs.size(), [&](uint16_t a, uint16_t b) {
    return std::pair(runs[a].device, runs[a].at) < std::pair(runs[b].device, runs[b].at);
  });
  size_t nops = 0;
  uint64_t end = 0;  // of the last op on its device
  for (size_t p = 0; p < runs.size(); ++p) {
    const DeviceRun& r = runs[order[p]];
    iov[p] = iovec{data + r.pos, r.len};
    const int fd = files.Fd(r.device);
    const bool merge = nops > 0 && ops[nops - 1].fd == fd && end == r.at;
    end = r.at + r.len;
    if (merge) ++ops[nops - 1].iovcnt;
    else ops[nops++] = UringOp{fd, write, r.at, &iov[p], 1, 0};
  }
  return nops;
}

// This file's ring with room for a whole request, one per thread, made with
// the flags of core/uring_batch.cc.
struct BigRing {
  BigRing() {
    int err = io_uring_queue_init(kRequestOps, &ring,
                                  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                      IORING_SETUP_SUBMIT_ALL);
    if (err == -EINVAL) err = io_uring_queue_init(kRequestOps, &ring, 0);
    if (err < 0) Fail("floor: io_uring_queue_init", err, 0);
  }
  ~BigRing() { io_uring_queue_exit(&ring); }
  io_uring ring{};
};

}  // namespace

RawFiles::RawFiles(const std::string& main, const std::string& spare, bool direct)
    : main_(OpenRaw(main, direct)), spare_(OpenRaw(spare, direct)) {}

RawFiles::~RawFiles() {
  ::close(main_);
  ::close(spare_);
}

void IssueRunsOneRing(const RawFiles& files, const std::vector<DeviceRun>& runs, uint8_t* data,
                      bool write) {
  if (runs.size() == 1) return IssueLone(files, runs[0], data, write);
  std::array<iovec, kRequestOps> iov;
  std::array<UringOp, kRequestOps> ops;
  const size_t nops = BuildOps(files, runs, data, write, iov.data(), ops.data());
  for (size_t first = 0; first < nops; first += kUringMaxOps) {
    const std::span<UringOp> chunk(ops.data() + first, std::min(kUringMaxOps, nops - first));
    if (!RunOnThreadRing(chunk)) Fail("floor: no io_uring", -ENOSYS, 0);
    for (const UringOp& op : chunk)
      if (op.result != static_cast<int64_t>(OpLen(op)))
        Fail("floor, one ring", op.result, OpLen(op));
  }
}

void IssueRunsOneSubmission(const RawFiles& files, const std::vector<DeviceRun>& runs,
                            uint8_t* data, bool write) {
  if (runs.size() == 1) return IssueLone(files, runs[0], data, write);
  thread_local BigRing big;
  io_uring* ring = &big.ring;
  std::array<iovec, kRequestOps> iov;
  std::array<UringOp, kRequestOps> ops;
  const size_t nops = BuildOps(files, runs, data, write, iov.data(), ops.data());
  for (size_t i = 0; i < nops; ++i) {
    const UringOp& op = ops[i];
    io_uring_sqe* sqe = io_uring_get_sqe(ring);  // never null: the ring is empty between calls
    if (write) io_uring_prep_writev(sqe, op.fd, op.iov, op.iovcnt, op.offset);
    else io_uring_prep_readv(sqe, op.fd, op.iov, op.iovcnt, op.offset);
    io_uring_sqe_set_data64(sqe, i);
  }
  const int got = io_uring_submit_and_wait(ring, static_cast<unsigned>(nops));
  if (got != static_cast<int>(nops)) Fail("floor: one submission", got, nops);
  for (size_t done = 0; done < nops;) {
    io_uring_cqe* cqe = nullptr;
    const int err = io_uring_wait_cqe(ring, &cqe);
    if (err == -EINTR) continue;
    if (err < 0) Fail("floor: io_uring_wait_cqe", err, 0);
    const size_t len = OpLen(ops[io_uring_cqe_get_data64(cqe)]);
    if (cqe->res != static_cast<int>(len)) Fail("floor, one submission", cqe->res, len);
    io_uring_cqe_seen(ring, cqe);
    ++done;
  }
}

Submissions CountSubmissions(const std::vector<std::vector<DeviceRun>>& requests) {
  auto chunks = [](size_t n) { return static_cast<double>((n + kUringMaxOps - 1) / kUringMaxOps); };
  Submissions s;
  for (const std::vector<DeviceRun>& runs : requests) {
    if (runs.size() <= 1) {  // a lone run is a plain call
      s.ops += static_cast<double>(runs.size());
      continue;
    }
    size_t ops = 0;
    for (DeviceRole role : {DeviceRole::kMain, DeviceRole::kSpare}) {
      std::vector<DeviceRun> mine;  // in the Volume's batches of 128 runs, each merged apart
      for (const DeviceRun& r : runs)
        if (r.device == role) mine.push_back(r);
      s.per_device += chunks(mine.size());
      for (size_t first = 0; first < mine.size(); first += kUringMaxOps) {
        const auto b = mine.begin() + first, e = b + std::min(kUringMaxOps, mine.size() - first);
        std::sort(b, e, [](const DeviceRun& x, const DeviceRun& y) { return x.at < y.at; });
        for (auto it = b; it != e; ++it) ops += it == b || (it - 1)->at + (it - 1)->len != it->at;
      }
    }
    s.one_ring += chunks(ops);
    s.one += 1;
    s.ops += static_cast<double>(ops);
  }
  if (requests.empty()) return s;
  const double n = static_cast<double>(requests.size());
  return Submissions{s.per_device / n, s.one_ring / n, s.one / n, s.ops / n};
}

CpuMeter::CpuMeter() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  busy_ = user + nice + system + irq + softirq + steal;
  total_ = busy_ + idle + iowait;
}

double CpuMeter::Busy() const {
  const CpuMeter now;
  const uint64_t total = now.total_ - total_;
  return total == 0 ? 0 : static_cast<double>(now.busy_ - busy_) / static_cast<double>(total);
}

}  // namespace remapfs::bench
