// race_writers: two threads racing on one device block of a file, for
// concurrent_rmw.sh (SPEC invariant 11 through a real mount).
//
//   race_writers FILE OFFSET BLOCK WRITES EXPECT
//
// Writer A rewrites the BLOCK bytes at OFFSET whole, WRITES times, each time
// with a new pattern, and reads back the first quarter after each write: a
// different value there means a concurrent read-modify-write wrote stale
// bytes over A's write (a reverted write). Writer B writes 16 bytes in the
// middle of the same block, in a loop, until A is done; below the mount
// each of B's writes is a read-modify-write of the device block.
//
// Afterwards the block must hold A's last pattern, or A's last pattern with
// B's last 16 bytes (whichever write came last): both are written to
// EXPECT.a and EXPECT.ab for the caller to compare with the disk.
//
// Prints the counts. Exit 0 when no write was reverted, 1 when some were,
// 2 on bad arguments or a failed system call.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kSmall = 16;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// `len` bytes of stream `seed`.
std::vector<uint8_t> Pattern(uint64_t seed, size_t len) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i)
    out[i] = uint8_t(SplitMix(seed * 1000003 + i / 8) >> (i % 8 * 8));
  return out;
}

[[noreturn]] void Die(const char* what) {
  std::perror(what);
  std::exit(2);
}

struct Args {
  std::string file, expect;
  off_t offset = 0;
  size_t block = 0;
  long writes = 0;
};

bool WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s FILE OFFSET BLOCK WRITES EXPECT\n", argv[0]);
    return 2;
  }
  const Args args{argv[1], argv[5], std::atoll(argv[2]), size_t(std::atoll(argv[3])),
                  std::atol(argv[4])};
  if (args.block < 4 * kSmall || args.writes < 1) {
    std::fprintf(stderr, "BLOCK must be at least %zu and WRITES at least 1\n", 4 * kSmall);
    return 2;
  }
  const int fd = ::open(args.file.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) Die("open");
  const off_t small_at = args.offset + off_t(args.block / 2 - kSmall / 2);
  const size_t quarter = args.block / 4;
  std::atomic<bool> a_done{false};
  long reverted = 0, b_writes = 0;

  std::thread b([&] {
    while (!a_done.load()) {
      const auto bytes = Pattern(1u << 30 | uint64_t(b_writes), kSmall);
      if (::pwrite(fd, bytes.data(), kSmall, small_at) != ssize_t(kSmall)) Die("pwrite B");
      ++b_writes;
    }
  });
  std::vector<uint8_t> back(quarter);
  for (long i = 0; i < args.writes; ++i) {
    const auto block = Pattern(uint64_t(i), args.block);
    if (::pwrite(fd, block.data(), args.block, args.offset) != ssize_t(args.block)) Die("pwrite A");
    if (::pread(fd, back.data(), quarter, args.offset) != ssize_t(quarter)) Die("pread A");
    if (std::memcmp(back.data(), block.data(), quarter) != 0) ++reverted;
  }
  a_done.store(true);
  b.join();
  ::close(fd);

  auto expect = Pattern(uint64_t(args.writes - 1), args.block);
  if (!WriteFile(args.expect + ".a", expect)) Die("write EXPECT.a");
  const auto last_b = Pattern(1u << 30 | uint64_t(b_writes - 1), kSmall);
  std::memcpy(expect.data() + (small_at - args.offset), last_b.data(), kSmall);
  if (!WriteFile(args.expect + ".ab", expect)) Die("write EXPECT.ab");
  std::printf("A: %ld whole-block writes, %ld reverted; B: %ld 16-byte writes\n", args.writes,
              reverted, b_writes);
  return reverted == 0 ? 0 : 1;
}
