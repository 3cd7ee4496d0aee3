// Remapped I/O benchmark (issue 10, item 1): throughput of the Volume's
// request path with 0, 10k and 100k scattered remaps, on a 1 GiB MAIN file
// and a 256 MiB spare file opened with O_DIRECT.
//
// The remaps mirror what the issue measured (benchmarks/peer_remaps.sh on
// the peer-benchmark branch): distinct sectors in a seeded random order,
// added 10,000 per add_bad call, so each call's sectors get consecutive
// slots in MAIN order and the calls' slots interleave. Each remap count
// has its own spare (all made for the one MAIN), so the rounds can visit
// the counts in a rotating order: what ran just before never favours one.
//
// Jobs, each for a fixed time, through Volume::Read/Write from many
// threads: 16 threads reading (then writing) 1 MiB sequentially, each in
// its own 64 MiB region, and 32 threads reading (then writing) 4 KiB at
// random. Buffers sit 16 bytes past a page boundary by default, where
// glibc's malloc puts the FUSE adapter's read buffer (and libfuse its
// write data): not aligned for O_DIRECT. --aligned-buffers aligns them.
//
// The figures are medians over the rounds, with each count's ratio to 0
// remaps measured in the same run, printed beside the targets; nothing is
// asserted: these machines are noisy.
//
// Usage: bench_remapped_io [--dir DIR] [--seconds S] [--rounds N]
//                          [--aligned-buffers] [--buffered] [--reuse]
// --reuse keeps the files in DIR for the next run (made only when missing:
// the 100k add_bad calls take a minute), for comparing two builds.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_files.h"
#include "remapfs/volume.h"

using namespace remapfs;
using namespace remapfs::bench;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kSs = 512;
constexpr uint64_t kMainBytes = 1ull << 30;
constexpr uint64_t kSpareBytes = 256ull << 20;
constexpr uint64_t kPerAddBad = 10000;
const std::vector<uint64_t> kLevels = {0, 10000, 100000};

struct Options {
  std::string dir = "/var/tmp";
  double seconds = 3;
  int rounds = 3;
  bool aligned_buffers = false;
  bool direct = true;
  bool reuse = false;  // keep the files: make them only when missing
};

struct Job {
  const char* name;
  bool write;
  bool sequential;
  size_t block;
  int threads;
  const char* target;
};

const Job kJobs[] = {
    {"seq read 1M x16", false, true, 1 << 20, 16, "10k >= 0.9x, 100k >= 0.5x"},
    {"seq write 1M x16", true, true, 1 << 20, 16, "10k >= 0.9x, 100k >= 0.5x"},
    {"rand read 4k x32", false, false, 4096, 32, "ratios within 10% of the last build's"},
    {"rand write 4k x32", true, false, 4096, 32, "ratios within 10% of the last build's"},
};

// MAIN fully written (a hole would read as zeros without touching the disk).
void CreateMain(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Check(Status::FromErrno(errno, path), "create main");
  std::vector<uint8_t> chunk(1 << 20);
  std::mt19937_64 rng(1);
  for (auto& b : chunk) b = static_cast<uint8_t>(rng());
  for (uint64_t at = 0; at < kMainBytes; at += chunk.size()) {
    chunk[0] = static_cast<uint8_t>(at >> 20);
    if (::pwrite(fd, chunk.data(), chunk.size(), at) != static_cast<ssize_t>(chunk.size()))
      Check(Status::FromErrno(errno, path), "fill main");
  }
  if (::fsync(fd) != 0) Check(Status::FromErrno(errno, path), "fsync main");
  ::close(fd);
}

std::unique_ptr<Volume> OpenVolume(const std::string& main, const std::string& spare, bool direct) {
  std::unique_ptr<Volume> v;
  Check(Volume::Open(OpenFile(main, direct), OpenFile(spare, direct), &v), "open volume");
  return v;
}

// A formatted spare holding the first `n` sectors of `order` as remaps,
// kPerAddBad per add_bad call.
void CreateSpare(const std::string& main, const std::string& spare,
                 const std::vector<uint64_t>& order, uint64_t n) {
  CreateFile(spare, kSpareBytes);
  FormatSpare(OpenFile(spare, true).get(), kMainBytes);
  std::unique_ptr<Volume> v = OpenVolume(main, spare, true);
  for (uint64_t i = 0; i < n; i += kPerAddBad) {
    std::vector<SectorRange> ranges;
    for (uint64_t k = i; k < std::min(n, i + kPerAddBad); ++k)
      ranges.push_back({order[k], order[k]});
    Check(v->AddBad(ranges), "add_bad");
  }
}

// A buffer of `len` bytes, 16 bytes past a 4 KiB boundary unless aligned.
struct Buffer {
  Buffer(size_t len, bool aligned) : storage(len + 8192) {
    const auto base = reinterpret_cast<uintptr_t>(storage.data());
    data = storage.data() + ((4096 - base % 4096) % 4096) + (aligned ? 0 : 16);
    std::memset(data, 0x5a, len);
  }
  std::vector<uint8_t> storage;
  uint8_t* data;
};

// MiB/s of `job` on `v` for `seconds`.
double RunJob(Volume& v, const Job& job, const Options& o) {
  std::atomic<uint64_t> bytes{0};
  std::atomic<bool> failed{false};
  const Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < job.threads; ++t) {
    threads.emplace_back([&, t] {
      Buffer buf(job.block, o.aligned_buffers);
      std::mt19937_64 rng(t + 100);
      const uint64_t region = kMainBytes / job.threads;
      uint64_t at = t * region, done = 0;
      while (Clock::now() < end) {
        if (!job.sequential) at = rng() % (kMainBytes / job.block) * job.block;
        Status st = job.write ? v.Write(at, buf.data, job.block) : v.Read(at, buf.data, job.block);
        if (!st.ok()) {
          std::fprintf(stderr, "%s at %llu: %s\n", job.name, (unsigned long long)at,
                       st.ToString().c_str());
          failed = true;
          return;
        }
        done += job.block;
        if (job.sequential && (at += job.block) + job.block > (t + 1) * region) at = t * region;
      }
      bytes += done;
    });
  }
  for (auto& th : threads) th.join();
  if (failed) std::exit(1);
  return static_cast<double>(bytes) / (1 << 20) / o.seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc) o.dir = argv[++i];
    else if (a == "--seconds" && i + 1 < argc) o.seconds = std::stod(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) o.rounds = std::stoi(argv[++i]);
    else if (a == "--aligned-buffers") o.aligned_buffers = true;
    else if (a == "--buffered") o.direct = false;
    else if (a == "--reuse") o.reuse = true;
    else {
      std::fprintf(stderr, "usage: bench_remapped_io [--dir DIR] [--seconds S] [--rounds N] "
                           "[--aligned-buffers] [--buffered] [--reuse]\n");
      std::exit(2);
    }
  }
  return o;
}

void PrintTable(const std::vector<std::vector<std::vector<double>>>& mibs) {
  std::printf("\n%-18s", "MiB/s (ratio)");
  for (uint64_t n : kLevels) std::printf(" %20llu remaps", (unsigned long long)n);
  std::printf("   target\n");
  for (size_t j = 0; j < std::size(kJobs); ++j) {
    std::printf("%-18s", kJobs[j].name);
    const double base = Median(mibs[0][j]);
    for (size_t l = 0; l < kLevels.size(); ++l) {
      const double m = Median(mibs[l][j]);
      std::printf(" %13.1f (%5.2fx)", m, m / base);
    }
    std::printf("   %s\n", kJobs[j].target);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // no line per add_bad and open
  const std::string main = o.dir + "/bench_rio_main.img";
  std::printf("remapped I/O: 1 GiB MAIN, 256 MiB spare, %u-byte sectors, %s, %s buffers, "
              "%.0f s per job, %d rounds\n",
              kSs, o.direct ? "O_DIRECT" : "buffered", o.aligned_buffers ? "aligned" : "unaligned",
              o.seconds, o.rounds);
  const bool have = o.reuse && access(main.c_str(), F_OK) == 0;
  if (!have) CreateMain(main);
  std::vector<uint64_t> order(kMainBytes / kSs);
  for (uint64_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(10);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string> spares;
  for (uint64_t n : kLevels) {
    spares.push_back(o.dir + "/bench_rio_spare_" + std::to_string(n) + ".img");
    if (have && access(spares.back().c_str(), F_OK) == 0) continue;
    const Clock::time_point t = Clock::now();
    CreateSpare(main, spares.back(), order, n);
    std::printf("spare with %llu remaps made in %.1f s\n", (unsigned long long)n,
                std::chrono::duration<double>(Clock::now() - t).count());
  }
  // mibs[level][job][round]
  std::vector<std::vector<std::vector<double>>> mibs(
      kLevels.size(), std::vector<std::vector<double>>(std::size(kJobs)));
  for (int r = 0; r < o.rounds; ++r) {
    for (size_t k = 0; k < kLevels.size(); ++k) {
      const size_t l = (k + r) % kLevels.size();
      std::unique_ptr<Volume> v = OpenVolume(main, spares[l], o.direct);
      std::printf("round %d, %6llu remaps:", r + 1, (unsigned long long)kLevels[l]);
      for (size_t j = 0; j < std::size(kJobs); ++j) {
        mibs[l][j].push_back(RunJob(*v, kJobs[j], o));
        std::printf(" %8.1f", mibs[l][j].back());
      }
      std::printf(" MiB/s\n");
      std::fflush(stdout);
    }
  }
  PrintTable(mibs);
  if (o.reuse) return 0;
  unlink(main.c_str());
  for (const std::string& s : spares) unlink(s.c_str());
  return 0;
}
