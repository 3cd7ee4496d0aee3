// torture_writer: one writer of stamped sectors for torture.sh.
//
//   torture_writer DISK ID FIRST COUNT MODE ROUND SEED ACKLOG STOPFILE
//
// Writes sectors [FIRST, FIRST+COUNT) of DISK (512-byte sectors), which no
// one else writes. Every sector written carries a stamp (stamp.py reads
// it): magic, writer ID, its own sector number, the write's sequence
// number, and 60 words derived from those three, so a torn, misplaced or
// stale sector is told apart from the one acknowledged. Sequence numbers are
// ROUND << 32 | n: a write left unacknowledged by a killed daemon in one
// round never carries the number of a later round's write.
//
// A write is acknowledged only once it is durable by the SPEC's contract:
// after fsync returns 0, or, in mode direct-ack (O_DIRECT on a volume
// opened with direct I/O, SPEC invariant 8), when the O_DIRECT write
// returns. Only then is `FIRST_SECTOR COUNT SEQ T_START` appended to ACKLOG
// (fdatasync'd), T_START being CLOCK_REALTIME in ns taken before the write
// began: the verifier compares it with the times of injected faults.
//
// MODE: init (stamp the whole range once with sequence ROUND << 32, fsync,
// acknowledge, exit), buffered (1 to 8 sectors a write, batches of 1 to 8
// writes, then fsync), direct (O_DIRECT writes of 1 or 2 aligned 4 KiB
// blocks, then fsync), direct-ack (as direct; each write acknowledged as it
// returns). Runs until STOPFILE exists or the daemon is gone (ENOTCONN,
// ECONNABORTED: it was killed).
//
// Prints its counts. Exit 0 when it stopped for one of those reasons, 2 on
// bad arguments or an errno the volume must never return here (EIO is
// allowed: an auto-remap with the spare exhausted fails with it).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr uint64_t kSector = 512;
constexpr uint64_t kBlock = 4096;                   // O_DIRECT unit
constexpr uint64_t kMagic = 0x5452555452504d52ULL;  // "RMPRTURT"
constexpr uint64_t kWords = kSector / 8;

enum class Mode { kInit, kBuffered, kDirect, kDirectAck };

struct Counts {
  uint64_t writes = 0, acked_writes = 0, acked_sectors = 0, fsyncs = 0, eio = 0;
};

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

// Must match stamp.py.
void Stamp(uint64_t writer, uint64_t sector, uint64_t seq, uint64_t* w) {
  w[0] = kMagic, w[1] = writer, w[2] = sector, w[3] = seq;
  for (uint64_t i = 4; i < kWords; ++i) w[i] = (seq * 0x9e3779b97f4a7c15ULL) ^ (sector << 20) ^ i;
}

// The daemon is gone: a kill -9 aborts the FUSE connection.
bool DaemonGone(int err) { return err == ENOTCONN || err == ECONNABORTED; }

struct Write {
  uint64_t first, count, seq, t_start;
};

class Writer {
 public:
  Writer(const char* disk, uint64_t id, uint64_t first, uint64_t count, Mode mode, uint64_t round,
         uint64_t seed, const char* acklog)
      : id_(id), first_(first), count_(count), mode_(mode), seq_(round << 32), rng_(seed) {
    const bool direct = mode == Mode::kDirect || mode == Mode::kDirectAck;
    fd_ = open(disk, O_RDWR | (direct ? O_DIRECT : 0));
    // A writer slow to start may find the mount already cleared by the kill.
    if (fd_ < 0 && mode != Mode::kInit && (DaemonGone(errno) || errno == ENOENT)) {
      std::printf("writer %llu: the daemon was gone before it started\n", (unsigned long long)id);
      std::exit(0);
    }
    ack_fd_ = open(acklog, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd_ < 0 || ack_fd_ < 0) Fail("open");
    if (posix_memalign(&buf_, kBlock, 2 * kBlock + count * kSector) != 0) Fail("posix_memalign");
  }
  ~Writer() {
    std::free(buf_);
    if (fd_ >= 0) close(fd_);
    if (ack_fd_ >= 0) close(ack_fd_);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Returns false once the daemon is gone.
  bool Step() {
    if (mode_ == Mode::kInit) return WriteAndAck({{first_, count_}});
    const bool blocks = mode_ != Mode::kBuffered;
    std::vector<std::pair<uint64_t, uint64_t>> batch(1 + rng_() % 8);
    for (auto& [at, n] : batch) {
      if (blocks) {  // 4 KiB-aligned blocks inside the range
        const uint64_t per = kBlock / kSector;
        const uint64_t lo = (first_ + per - 1) / per, hi = (first_ + count_) / per;
        n = per * (1 + rng_() % 2);
        at = (lo + rng_() % (hi - lo - 1)) * per;
      } else {
        n = 1 + rng_() % 8;
        at = first_ + rng_() % (count_ - n + 1);
      }
    }
    return WriteAndAck(batch);
  }

  void Print() const {
    std::printf(
        "writer %llu: %llu writes, %llu acknowledged (%llu sectors), %llu fsyncs, %llu EIO\n",
        (unsigned long long)id_, (unsigned long long)c_.writes, (unsigned long long)c_.acked_writes,
        (unsigned long long)c_.acked_sectors, (unsigned long long)c_.fsyncs,
        (unsigned long long)c_.eio);
  }

 private:
  [[noreturn]] static void Fail(const char* what) {
    std::fprintf(stderr, "torture_writer: %s: %s\n", what, std::strerror(errno));
    std::exit(2);
  }

  // An errno from the disk: false when the daemon is gone, true for an EIO
  // (the writes in question are not acknowledged); anything else is a bug.
  bool Tolerate(const char* what) {
    if (DaemonGone(errno)) return false;
    if (errno == EIO && mode_ != Mode::kInit) {
      ++c_.eio;
      return true;
    }
    Fail(what);
  }

  bool WriteAndAck(const std::vector<std::pair<uint64_t, uint64_t>>& batch) {
    std::vector<Write> done;
    for (const auto& [at, n] : batch) {
      Write w{at, n, mode_ == Mode::kInit ? seq_ : ++seq_, NowNs()};
      auto* words = static_cast<uint64_t*>(buf_);
      for (uint64_t s = 0; s < n; ++s) Stamp(id_, at + s, w.seq, words + s * kWords);
      ++c_.writes;
      const ssize_t got = pwrite(fd_, buf_, n * kSector, at * kSector);
      if (got < 0) {
        if (!Tolerate("pwrite")) return false;
        continue;
      }
      if (uint64_t(got) != n * kSector) {
        std::fprintf(stderr, "torture_writer: short write %zd of %llu bytes\n", got,
                     (unsigned long long)(n * kSector));
        std::exit(2);
      }
      if (mode_ == Mode::kDirectAck) {
        Ack({w});
      } else {
        done.push_back(w);
      }
    }
    if (done.empty()) return true;
    ++c_.fsyncs;
    if (fsync(fd_) != 0) return Tolerate("fsync");
    Ack(done);
    return true;
  }

  void Ack(const std::vector<Write>& writes) {
    std::string lines;
    for (const Write& w : writes) {
      lines += std::to_string(w.first) + " " + std::to_string(w.count) + " " +
               std::to_string(w.seq) + " " + std::to_string(w.t_start) + "\n";
      ++c_.acked_writes, c_.acked_sectors += w.count;
    }
    if (write(ack_fd_, lines.data(), lines.size()) != ssize_t(lines.size())) Fail("write ACKLOG");
    if (fdatasync(ack_fd_) != 0) Fail("fdatasync ACKLOG");
  }

  const uint64_t id_, first_, count_;
  const Mode mode_;
  uint64_t seq_;
  std::mt19937_64 rng_;
  int fd_ = -1, ack_fd_ = -1;
  void* buf_ = nullptr;
  Counts c_;
};

bool ParseMode(const std::string& s, Mode* mode) {
  if (s == "init") *mode = Mode::kInit;
  else if (s == "buffered") *mode = Mode::kBuffered;
  else if (s == "direct") *mode = Mode::kDirect;
  else if (s == "direct-ack") *mode = Mode::kDirectAck;
  else return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Mode mode{};
  if (argc != 10 || !ParseMode(argv[5], &mode)) {
    std::fprintf(stderr,
                 "usage: torture_writer DISK ID FIRST COUNT init|buffered|direct|direct-ack "
                 "ROUND SEED ACKLOG STOPFILE\n");
    return 2;
  }
  auto num = [&](int i) { return std::strtoull(argv[i], nullptr, 10); };
  const uint64_t count = num(4);
  if (count < 4 * kBlock / kSector || num(3) + count > (1ULL << 40)) {
    std::fprintf(stderr, "torture_writer: COUNT must be at least 4 blocks\n");
    return 2;
  }
  Writer writer(argv[1], num(2), num(3), count, mode, num(6), num(7), argv[8]);
  const char* stopfile = argv[9];
  struct stat st {};
  bool alive = true;
  do {
    alive = writer.Step();
  } while (alive && mode != Mode::kInit && stat(stopfile, &st) != 0);
  writer.Print();
  if (mode == Mode::kInit && !alive) {
    std::fprintf(stderr, "torture_writer: the daemon went away during init\n");
    return 2;
  }
  return 0;
}
