// stripe_writers: concurrent writers and readers at byte granularity on one
// file, with an exact model, for concurrency_stress.sh.
//
//   stripe_writers FILE WRITES SEED EXPECT
//
// Overlapping concurrent writes have no defined order, so no byte has two
// writers: each phase cuts the file into stripes of one width (3 bytes to
// 24 KiB, at a random shift) dealt in turn to kWriters writers and to
// "frozen", which no one writes. Each writer makes WRITES pwrites of random
// ranges inside its own stripes and reads each back (exact: no one else
// writes there). The last writer also opens FILE with O_DIRECT and writes
// the whole 4096-byte blocks of a range, when it holds any, from an aligned
// buffer. A reader checks the frozen bytes of random reads until the
// writers are done. After each phase (threads joined) the whole file is
// compared with the model; at the end the file is fsynced and the model
// written to EXPECT.
//
// Prints the counts. Exit 0 when every comparison held, 1 when one did not,
// 2 on bad arguments or a failed system call.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "../common/stripes.h"

namespace {

constexpr int kWriters = 4;
constexpr size_t kDirectBlock = 4096;
constexpr uint64_t kWidths[] = {3, 509, 4099, 24571};  // one phase each

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(2);
}

struct Counts {
  std::atomic<uint64_t> writes{0}, direct_writes{0}, bytes_written{0};
  std::atomic<uint64_t> reads{0}, bytes_verified{0}, mismatches{0};
};

// Who owns each byte of a phase (see the top of the file).
using Stripes = remapfs::testing::StripesOf<kWriters>;

void ReadAll(int fd, uint8_t* buf, uint64_t len, uint64_t at) {
  for (uint64_t done = 0; done < len;) {
    const ssize_t n = pread(fd, buf + done, len - done, at + done);
    if (n <= 0) Die("pread");
    done += n;
  }
}

void WriteAll(int fd, const uint8_t* buf, uint64_t len, uint64_t at) {
  if (pwrite(fd, buf, len, at) != static_cast<ssize_t>(len)) Die("pwrite");
}

void RunWriter(int fd, int direct_fd, const Stripes& s, int w, uint64_t writes, uint64_t seed,
               std::vector<uint8_t>& model, Counts& c) {
  std::mt19937_64 rng(seed);
  void* aligned = nullptr;
  if (posix_memalign(&aligned, kDirectBlock, s.width + kDirectBlock) != 0) Die("posix_memalign");
  auto* buf = static_cast<uint8_t*>(aligned);
  std::vector<uint8_t> got(s.width);
  for (uint64_t i = 0; i < writes; ++i) {
    auto [at, len] = s.RandomRange(w, rng);
    const uint64_t begin = (at + kDirectBlock - 1) / kDirectBlock * kDirectBlock;
    const uint64_t end = (at + len) / kDirectBlock * kDirectBlock;
    const bool direct = direct_fd >= 0 && begin < end;
    if (direct) at = begin, len = end - begin;
    for (uint64_t j = 0; j < len; ++j) buf[j] = uint8_t(rng());
    WriteAll(direct ? direct_fd : fd, buf, len, at);
    std::memcpy(model.data() + at, buf, len);
    ++c.writes, c.direct_writes += direct, c.bytes_written += len;
    ReadAll(fd, got.data(), len, at);
    ++c.reads;
    if (std::memcmp(got.data(), buf, len) != 0) {
      if (c.mismatches++ == 0)
        std::fprintf(stderr, "write at %llu read back different\n",
                     static_cast<unsigned long long>(at));
    } else {
      c.bytes_verified += len;
    }
  }
  std::free(aligned);
}

void RunReader(int fd, const Stripes& s, uint64_t seed, const std::atomic<bool>& done,
               const std::vector<uint8_t>& model, Counts& c) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> buf(64 << 10);
  while (!done) {
    const uint64_t at = rng() % s.size,
                   len = 1 + rng() % std::min<uint64_t>(buf.size(), s.size - at);
    ReadAll(fd, buf.data(), len, at);
    ++c.reads;
    for (uint64_t j = 0; j < len; ++j) {
      if (!s.Frozen(at + j)) continue;
      if (buf[j] != model[at + j]) {
        if (c.mismatches++ == 0)
          std::fprintf(stderr, "frozen byte %llu changed\n",
                       static_cast<unsigned long long>(at + j));
        break;
      }
      ++c.bytes_verified;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: stripe_writers FILE WRITES SEED EXPECT\n");
    return 2;
  }
  const uint64_t writes = std::strtoull(argv[2], nullptr, 10),
                 seed = std::strtoull(argv[3], nullptr, 10);
  const int fd = open(argv[1], O_RDWR), direct_fd = open(argv[1], O_RDWR | O_DIRECT);
  if (fd < 0 || direct_fd < 0) Die("open");
  struct stat st {};
  if (fstat(fd, &st) != 0) Die("fstat");
  const uint64_t size = st.st_size;
  std::vector<uint8_t> model(size), got(size);
  ReadAll(fd, model.data(), size, 0);
  Counts c;
  for (size_t phase = 0; phase < std::size(kWidths); ++phase) {
    std::mt19937_64 rng(seed * 100 + phase);
    const Stripes s{kWidths[phase], rng() % kWidths[phase], size};
    std::atomic<bool> done{false};
    std::thread reader(RunReader, fd, std::cref(s), rng(), std::cref(done), std::cref(model),
                       std::ref(c));
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back(RunWriter, fd, w == kWriters - 1 ? direct_fd : -1, std::cref(s), w,
                           writes, rng(), std::ref(model), std::ref(c));
    for (auto& t : writers) t.join();
    done = true;
    reader.join();
    ReadAll(fd, got.data(), size, 0);
    c.bytes_verified += size;
    if (got != model) {
      ++c.mismatches;
      std::fprintf(stderr, "phase %zu: the file differs from the model\n", phase);
      break;  // later phases would only repeat the difference
    }
  }
  if (fsync(fd) != 0) Die("fsync");
  const int out = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out < 0) Die("open EXPECT");
  WriteAll(out, model.data(), size, 0);
  close(out);
  std::printf("%llu writes (%llu O_DIRECT), %llu bytes written, %llu reads, %llu bytes verified, "
              "%llu mismatches\n",
              (unsigned long long)c.writes, (unsigned long long)c.direct_writes,
              (unsigned long long)c.bytes_written, (unsigned long long)c.reads,
              (unsigned long long)c.bytes_verified, (unsigned long long)c.mismatches);
  return c.mismatches == 0 ? 0 : 1;
}
