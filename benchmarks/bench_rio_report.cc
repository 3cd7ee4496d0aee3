// The figures of bench_remapped_io and their printing (bench_rio_report.h).
#include "bench_rio_report.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "bench_one_ring.h"

namespace remapfs::bench {
namespace {

std::string Remaps(uint64_t n) { return n == 0 ? "0" : std::to_string(n / 1000) + "k"; }

}  // namespace

Figures::Figures(size_t levels, size_t jobs) {
  const Series empty(levels, std::vector<std::vector<double>>(jobs));
  for (int k = 0; k < kKinds; ++k) mibs[k] = busy[k] = empty;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void PrintTable(const Series& mibs, std::span<const Job> jobs, std::span<const uint64_t> levels) {
  std::printf("\n%-18s", "MiB/s (ratio)");
  for (uint64_t n : levels) std::printf(" %20llu remaps", (unsigned long long)n);
  std::printf("   target\n");
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::printf("%-18s", jobs[j].name);
    const double base = Median(mibs[0][j]);
    for (size_t l = 0; l < levels.size(); ++l) {
      const double m = Median(mibs[l][j]);
      std::printf(" %13.1f (%5.2fx)", m, m / base);
    }
    std::printf("   %s\n", jobs[j].target);
  }
}

void PrintFloors(const Figures& f, const std::vector<RunPlan>& plans, std::span<const Job> jobs,
                 std::span<const uint64_t> levels) {
  std::printf("\ndevice floor: each request's device runs straight to MAIN and the spare "
              "(no table, no locks)\n");
  const Series &volume = f.mibs[kVolume], &floor = f.mibs[kFloor];
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!jobs[j].sequential) continue;
    const double volume_base = Median(volume[0][j]), floor_base = Median(floor[0][j]);
    for (size_t l = 0; l < levels.size(); ++l) {
      const double v = Median(volume[l][j]), fl = Median(floor[l][j]);
      std::printf("%s, %s remaps: volume %.0f MiB/s = %.2fx of 0 remaps; device floor for the "
                  "same runs (%.1f per request) %.0f MiB/s = %.2fx; volume at %.2fx of its floor\n",
                  jobs[j].name, Remaps(levels[l]).c_str(), v, v / volume_base, plans[l].MeanRuns(),
                  fl, fl / floor_base, v / fl);
    }
    std::printf("  target: %s (of 0 remaps)\n", jobs[j].target);
  }
}

void PrintOneRing(const Figures& f, const std::vector<RunPlan>& plans, std::span<const Job> jobs,
                  std::span<const uint64_t> levels) {
  std::printf("\nfloors with both devices' runs together (bench_one_ring.h): MiB/s = ratio to "
              "its own 0 remaps [io_uring submissions per request]\n");
  const char* names[] = {"floor per device (today)", "floor, one ring for both devices",
                         "floor, one submission per request"};
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!jobs[j].sequential) continue;
    for (size_t l = 0; l < levels.size(); ++l) {
      const Submissions s = CountSubmissions(plans[l].Requests());
      const double subs[] = {s.per_device, s.one_ring, s.one};
      std::printf("%s, %s remaps, %.1f runs = %.1f ops per request:", jobs[j].name,
                  Remaps(levels[l]).c_str(), plans[l].MeanRuns(), s.ops);
      for (int k = kFloor; k <= kOneSubmission; ++k) {
        const double m = Median(f.mibs[k][l][j]), base = Median(f.mibs[k][0][j]);
        std::printf("%s %s %.0f MiB/s = %.2fx [%.2f]", k == kFloor ? "" : ";", names[k - kFloor], m,
                    m / base, subs[k - kFloor]);
      }
      const double floor = Median(f.mibs[kFloor][l][j]);
      std::printf("\n  one ring at %.2fx of the per-device floor, one submission at %.2fx; "
                  "machine CPU busy: volume %.0f%%, floors %.0f%% / %.0f%% / %.0f%%\n",
                  Median(f.mibs[kOneRing][l][j]) / floor,
                  Median(f.mibs[kOneSubmission][l][j]) / floor, 100 * Median(f.busy[kVolume][l][j]),
                  100 * Median(f.busy[kFloor][l][j]), 100 * Median(f.busy[kOneRing][l][j]),
                  100 * Median(f.busy[kOneSubmission][l][j]));
    }
  }
}

}  // namespace remapfs::bench
