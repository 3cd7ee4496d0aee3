// The figures of bench_remapped_io and their printing: the Volume's table
// against the targets, each sequential job beside its device floor
// (bench_run_floor.h), and beside the floors that send both devices' runs
// together (bench_one_ring.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "bench_io_job.h"
#include "bench_run_floor.h"

namespace remapfs::bench {

// By [level][job][round]; floors only for the sequential jobs.
using Series = std::vector<std::vector<std::vector<double>>>;

// What is measured: the Volume, the per-device floor (IssueRuns), and the
// floors of bench_one_ring.h.
enum Kind { kVolume, kFloor, kOneRing, kOneSubmission, kKinds };

struct Figures {
  Figures(size_t levels, size_t jobs);
  Series mibs[kKinds];  // MiB/s
  Series busy[kKinds];  // the machine's CPU busy during the job, 0-1
};

double Median(std::vector<double> v);

// The Volume's MiB/s per job and remap count, with ratios to 0 remaps.
void PrintTable(const Series& mibs, std::span<const Job> jobs, std::span<const uint64_t> levels);
// Each sequential job: the Volume beside its per-device floor.
void PrintFloors(const Figures& f, const std::vector<RunPlan>& plans, std::span<const Job> jobs,
                 std::span<const uint64_t> levels);
// Each sequential job: the per-device floor beside the one-ring floors, with
// the io_uring submissions each makes per request and the CPU busy.
void PrintOneRing(const Figures& f, const std::vector<RunPlan>& plans, std::span<const Job> jobs,
                  std::span<const uint64_t> levels);

}  // namespace remapfs::bench
