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
// The device floor (bench_run_floor.h), for the sequential jobs: the same
// threads, regions, request sizes and buffers, but each request's device
// runs, as the remap table splits it, go straight to the two devices
// (opened as the Volume opens them), batched as the Volume batches them,
// with no table lookup and no locks. At 100k remaps a 1 MiB request is
// about 190 runs (MAIN runs between one-sector holes: a remapped sector is
// never read from MAIN, it may be bad). So "volume at 0.98x of its floor"
// means remapfs costs 2% over the device work it cannot avoid, and the
// floor's own ratio to the 0-remap floor is the best any remapping layer
// issuing these runs could reach on this machine. Beside it, two floors
// that send both devices' runs together (bench_one_ring.h): through the
// thread's ring in chunks of 128, and in one submission per request. They
// need aligned buffers under O_DIRECT (no bounce buffers). Each round runs
// a job's floors and Volume back to back, the floors first in odd rounds;
// each figure comes with the share of the machine's CPU that was busy.
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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bench_files.h"
#include "bench_io_job.h"
#include "bench_one_ring.h"
#include "bench_rio_report.h"
#include "bench_run_floor.h"
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
constexpr size_t kSeqBlock = 1 << 20;  // the sequential jobs' request size

struct Options {
  std::string dir = "/var/tmp";
  double seconds = 3;
  int rounds = 3;
  bool aligned_buffers = false;
  bool direct = true;
  bool reuse = false;  // keep the files: make them only when missing
};

const Job kJobs[] = {
    {"seq read 1M x16", false, true, kSeqBlock, 16, "10k >= 0.9x, 100k >= 0.5x"},
    {"seq write 1M x16", true, true, kSeqBlock, 16, "10k >= 0.9x, 100k >= 0.5x"},
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

double VolumeJob(Volume& v, const Job& job, const Options& o) {
  return RunJob(job, kMainBytes, o.seconds, o.aligned_buffers,
                [&v](uint64_t at, uint8_t* buf, size_t len, bool write) {
                  return write ? v.Write(at, buf, len) : v.Read(at, buf, len);
                });
}

// The device floor of `job` (bench_run_floor.h): the runs of `plan` straight
// to MAIN and the spare, opened as OpenVolume opens them.
double FloorJob(const std::string& main, const std::string& spare, const RunPlan& plan,
                const Job& job, const Options& o) {
  std::unique_ptr<BlockDevice> m = OpenFile(main, o.direct, false),
                               s = OpenFile(spare, o.direct, false);
  return RunJob(job, kMainBytes, o.seconds, o.aligned_buffers,
                [&](uint64_t at, uint8_t* buf, size_t, bool write) {
                  return IssueRuns(*m, *s, plan.RunsAt(at), buf, write);
                });
}

// The floors of bench_one_ring.h: both devices' runs together.
double OneRingJob(const std::string& main, const std::string& spare, const RunPlan& plan,
                  const Job& job, const Options& o, bool one_submission) {
  RawFiles files(main, spare, o.direct);
  return RunJob(job, kMainBytes, o.seconds, o.aligned_buffers,
                [&](uint64_t at, uint8_t* buf, size_t, bool write) {
                  if (one_submission) IssueRunsOneSubmission(files, plan.RunsAt(at), buf, write);
                  else IssueRunsOneRing(files, plan.RunsAt(at), buf, write);
                  return Status::Ok();
                });
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

// Round `r` at level `l`: each job through the Volume and, beside each
// sequential one, its floor, the floor first in odd rounds.
void RunLevel(const std::string& main, const std::string& spare, const RunPlan& plan, size_t l,
              int r, const Options& o, Figures& f) {
  std::unique_ptr<Volume> v = OpenVolume(main, spare, o.direct);
  std::printf("round %d, %6llu remaps:", r + 1, (unsigned long long)kLevels[l]);
  std::string floors;
  const bool one_ring = !o.direct || o.aligned_buffers;  // raw O_DIRECT: aligned buffers only
  for (size_t j = 0; j < std::size(kJobs); ++j) {
    auto measure = [&](Kind k) {
      if (k != kVolume && (!kJobs[j].sequential || (k != kFloor && !one_ring))) return;
      const CpuMeter cpu;
      const double mibs = k == kVolume ? VolumeJob(*v, kJobs[j], o)
                          : k == kFloor
                              ? FloorJob(main, spare, plan, kJobs[j], o)
                              : OneRingJob(main, spare, plan, kJobs[j], o, k == kOneSubmission);
      f.busy[k][l][j].push_back(cpu.Busy());
      f.mibs[k][l][j].push_back(mibs);
      if (k != kVolume) floors += " " + std::to_string(static_cast<int>(mibs));
    };
    const bool floor_first = r % 2 == 0;
    if (floor_first) measure(kFloor), measure(kOneRing), measure(kOneSubmission);
    measure(kVolume);
    if (!floor_first) measure(kFloor), measure(kOneRing), measure(kOneSubmission);
    std::printf(" %8.1f", f.mibs[kVolume][l][j].back());
  }
  std::printf(" MiB/s; floors%s\n", floors.c_str());
  std::fflush(stdout);
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
  std::vector<RunPlan> plans;
  for (const std::string& s : spares) plans.push_back(RunPlan::Load(s, kMainBytes, kSeqBlock));
  Figures f(kLevels.size(), std::size(kJobs));
  for (int r = 0; r < o.rounds; ++r) {
    for (size_t k = 0; k < kLevels.size(); ++k) {
      const size_t l = (k + r) % kLevels.size();
      RunLevel(main, spares[l], plans[l], l, r, o, f);
    }
  }
  PrintTable(f.mibs[kVolume], kJobs, kLevels);
  PrintFloors(f, plans, kJobs, kLevels);
  if (!o.direct || o.aligned_buffers) PrintOneRing(f, plans, kJobs, kLevels);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)  // what else ran: figures under load mean little
    std::printf("\nload average at the end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  if (o.reuse) return 0;
  unlink(main.c_str());
  for (const std::string& s : spares) unlink(s.c_str());
  return 0;
}
