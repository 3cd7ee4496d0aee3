// Bulk remapping benchmark (issue 10, target 2): add_bad and remove of
// 100k scattered sectors and of a contiguous 1M-sector range, on a 1 GiB
// MAIN file and a 768 MiB spare file, buffered and with O_DIRECT.
//
// The baselines, measured in the same run on the same files, are the copies
// as add_bad and remove did them before: a read and a write per sector.
// Their cost per sector (over kBaselineSectors) is set against the Volume's; the
// targets (100k scattered <= 1 s, 1M contiguous <= 2 s) are printed beside
// the figures, never asserted: these machines are noisy. For the range, a
// raw copy of its bytes (1 MiB pieces, to a fresh file) gives the device's
// floor: under O_DIRECT on a slow disk no remapping can beat it. For the
// scattered remove, the floor is its 100k MAIN sector writes alone, in
// device batches of 64 runs and again of 2048 (one per 1 MiB copy batch,
// as remove submits them), then one flush (bench_write_floor.h): remove's
// time over it is what remove adds to the writes it must make.
//
// The O_DIRECT modes run twice: at the alignment the filesystem of DIR
// reports (512 on most, so 512-byte sector writes are already aligned), and
// at 4096, as on a 4Kn disk or a filesystem that asks for 4096: every
// device is then an AlignedDevice of 4096 over the one O_DIRECT opens, so a
// 512-byte sector write covers part of a block (read-modify-write).
//
// Usage: bench_bulk_remap [DIR [MODE]]   (files are made in DIR, default
// /var/tmp; MODE buffered, direct or direct4096 runs that mode alone)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "bench_files.h"
#include "bench_write_floor.h"
#include "remapfs/aligned_device.h"
#include "remapfs/volume.h"

using namespace remapfs;
using namespace remapfs::bench;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kSs = 512;
constexpr uint64_t kMainBytes = 1ull << 30;
constexpr uint64_t kSpareBytes = 768ull << 20;
constexpr uint64_t kScattered = 100000;
constexpr uint64_t kContiguous = 1 << 20;
constexpr uint64_t kBaselineSectors = 20000;

// How the files are opened: buffered, or O_DIRECT at the filesystem's
// alignment or at a forced larger one (`alignment`, 0 for none).
struct IoMode {
  bool direct;
  uint32_t alignment;
};

std::unique_ptr<BlockDevice> Open(const std::string& path, const IoMode& mode) {
  std::unique_ptr<BlockDevice> dev = OpenFile(path, mode.direct, false);
  if (mode.alignment == 0) return dev;
  std::unique_ptr<AlignedDevice> aligned;
  Check(AlignedDevice::Wrap(std::move(dev), mode.alignment, &aligned), "forced alignment");
  return aligned;
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The spare formatted as `remapfs format` would, and the Volume opened.
std::unique_ptr<Volume> FormatAndOpen(const std::string& main, const std::string& spare,
                                      const IoMode& mode) {
  std::unique_ptr<BlockDevice> spare_dev = Open(spare, mode);
  FormatSpare(spare_dev.get(), kMainBytes);
  std::unique_ptr<Volume> v;
  Check(Volume::Open(Open(main, mode), std::move(spare_dev), &v), "open");
  return v;
}

// The old add_bad's copy (to_spare) or remove's (back to MAIN): sector by
// sector, then one flush. Seconds per sector, over the first
// kBaselineSectors of `sectors`, against spare sectors from the middle of
// the spare on.
double BaselinePerSector(const std::string& main, const std::string& spare, const IoMode& mode,
                         const std::vector<uint64_t>& sectors, bool to_spare) {
  std::unique_ptr<BlockDevice> m = Open(main, mode), s = Open(spare, mode);
  BlockDevice& from = to_spare ? *m : *s;
  BlockDevice& to = to_spare ? *s : *m;
  std::vector<uint8_t> buf(kSs);
  const uint64_t first_slot = kSpareBytes / kSs / 2;
  const Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < kBaselineSectors; ++i) {
    const uint64_t main_at = sectors[i] * kSs, spare_at = (first_slot + i) * kSs;
    Check(from.Read(to_spare ? main_at : spare_at, buf.data(), kSs), "baseline read");
    Check(to.Write(to_spare ? spare_at : main_at, buf.data(), kSs), "baseline write");
  }
  Check(to.Flush(), "baseline flush");
  return Seconds(start) / kBaselineSectors;
}

// The floor for a contiguous range: its bytes copied from MAIN to a fresh
// sparse file in 1 MiB pieces, then one flush. Nothing can copy them faster
// on this device; with O_DIRECT this is the disk's write bandwidth.
double RawRangeCopySeconds(const std::string& main, const std::string& scratch, const IoMode& mode,
                           uint64_t first_sector, uint64_t sectors) {
  CreateFile(scratch, sectors * kSs);
  std::unique_ptr<BlockDevice> from = Open(main, mode), to = Open(scratch, mode);
  std::vector<uint8_t> buf(1 << 20);
  const Clock::time_point start = Clock::now();
  for (uint64_t done = 0; done < sectors * kSs; done += buf.size()) {
    const size_t n = std::min<uint64_t>(buf.size(), sectors * kSs - done);
    Check(from->Read(first_sector * kSs + done, buf.data(), n), "raw copy read");
    Check(to->Write(done, buf.data(), n), "raw copy write");
  }
  Check(to->Flush(), "raw copy flush");
  const double seconds = Seconds(start);
  unlink(scratch.c_str());
  return seconds;
}

std::vector<SectorRange> RangesOf(const std::vector<uint64_t>& sectors) {
  std::vector<SectorRange> ranges;
  for (uint64_t s : sectors) ranges.push_back({s, s});
  return ranges;
}

void Report(const char* what, uint64_t count, double seconds, double baseline_per_sector,
            const char* target) {
  const double per_sector = seconds / count;
  std::printf("  %-28s %8.3f s  %6.2f us/sector  %6.1fx faster than per-sector  (target %s)\n",
              what, seconds, per_sector * 1e6, baseline_per_sector / per_sector, target);
}

void BenchMode(const std::string& dir, const IoMode& mode) {
  const std::string main = dir + "/bench_bulk_main.img", spare = dir + "/bench_bulk_spare.img";
  CreateFile(main, kMainBytes);
  CreateFile(spare, kSpareBytes);
  std::printf("%s I/O%s, 1 GiB MAIN, 768 MiB spare, %u-byte sectors:\n",
              mode.direct ? "O_DIRECT" : "buffered",
              mode.alignment == 4096 ? " at a forced 4096-byte alignment" : "", kSs);
  std::mt19937_64 rng(10);
  std::vector<uint64_t> scattered;  // one sector in each stride of 18, shuffled
  for (uint64_t i = 0; i < kScattered; ++i) scattered.push_back(2 * i * 9 + rng() % 9);
  std::shuffle(scattered.begin(), scattered.end(), rng);
  const double to_spare = BaselinePerSector(main, spare, mode, scattered, true);
  const double to_main = BaselinePerSector(main, spare, mode, scattered, false);
  std::printf("  %-28s %8s    %6.2f us/sector  (baseline for add_bad, %llu sectors)\n",
              "per-sector copy to spare", "", to_spare * 1e6,
              static_cast<unsigned long long>(kBaselineSectors));
  std::printf("  %-28s %8s    %6.2f us/sector  (baseline for remove)\n", "per-sector copy to MAIN",
              "", to_main * 1e6);

  std::unique_ptr<Volume> v = FormatAndOpen(main, spare, mode);
  Clock::time_point t = Clock::now();
  Check(v->AddBad(RangesOf(scattered)), "add_bad scattered");
  Report("add_bad 100k scattered", kScattered, Seconds(t), to_spare, "<= 1 s");
  t = Clock::now();
  Check(v->Remove(RangesOf(scattered)), "remove scattered");
  const double remove_scattered = Seconds(t);
  Report("remove 100k scattered", kScattered, remove_scattered, to_main, "<= 1 s");
  // Batches of 64 runs (the group add_bad and remove submit reads in) and
  // of 2048, one per 1 MiB copy batch, as remove submits its MAIN writes.
  for (size_t batch_runs : {size_t{64}, size_t{2048}}) {
    const double floor = ScatteredWriteFloorSeconds(
        dir + "/bench_bulk_scratch.img", kMainBytes,
        [&mode](const std::string& path) { return Open(path, mode); }, scattered,
        {scattered.begin(), scattered.begin() + kBaselineSectors}, batch_runs);
    std::printf("  %-28s %8.3f s  remove at %.2fx (device floor: its 100k MAIN sector writes, "
                "batches of %zu runs, one flush)\n",
                "floor for remove 100k", floor, remove_scattered / floor, batch_runs);
  }

  const SectorRange range{kMainBytes / kSs / 4, kMainBytes / kSs / 4 + kContiguous - 1};
  const double raw = RawRangeCopySeconds(main, dir + "/bench_bulk_scratch.img", mode, range.first,
                                         kContiguous);
  std::printf("  %-28s %8.3f s  (the device's floor for the range: its bytes in 1 MiB pieces)\n",
              "raw copy of the 1M range", raw);
  t = Clock::now();
  Check(v->AddBad({range}), "add_bad contiguous");
  const double add_seconds = Seconds(t);
  Report("add_bad 1M-sector range", kContiguous, add_seconds, to_spare, "<= 2 s");
  std::printf("  %-28s %8.2fx the raw copy\n", "", add_seconds / raw);
  t = Clock::now();
  Check(v->Remove({range}), "remove contiguous");
  const double remove_seconds = Seconds(t);
  Report("remove 1M-sector range", kContiguous, remove_seconds, to_main, "<= 2 s");
  std::printf("  %-28s %8.2fx the raw copy\n", "", remove_seconds / raw);
  v.reset();
  unlink(main.c_str());
  unlink(spare.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/var/tmp";
  const std::string only = argc > 2 ? argv[2] : "";
  std::printf("bulk remapping (the Volume's add_bad/remove against a per-sector copy)\n");
  if (only.empty() || only == "buffered") BenchMode(dir, {false, 0});
  if (only.empty() || only == "direct") BenchMode(dir, {true, 0});
  if (only.empty() || only == "direct4096") BenchMode(dir, {true, 4096});
  return 0;
}
