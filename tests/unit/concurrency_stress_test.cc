// Concurrency stress at byte granularity: writers at arbitrary offsets and
// lengths, readers, and add_bad/remove of random sector ranges, all at once,
// on a Volume whose MAIN and SPARE take only aligned requests (AlignedDevice
// over StrictAlignmentDevice), compared with a model at quiescent points.
//
// Exactness. Overlapping concurrent writes have no defined order, so within
// a phase no byte has two writers: the phase cuts the volume into stripes of
// one width (3 bytes to 24 KiB, never a multiple of a sector or a block, at
// a random shift) dealt in turn to the writers and to "frozen", which no one
// writes. 3-byte stripes put every writer in every device block, so their
// read-modify-writes of one block race; 24 KiB stripes give writes across
// many sectors and blocks. Every write lies inside one stripe of its writer:
//  - a writer reads back what it wrote: exact, no one else writes there;
//  - readers read anywhere and check the frozen bytes, fixed for the phase;
//  - the control thread alone changes the table, so it knows the remapped
//    set exactly and checks Remaps() after each of its operations.
// Every third phase is overlapping instead: small writes in 16 blocks, so
// whole-block writes meet read-modify-writes of the same block, checked
// every 25 writes per writer (writers quiescent) less exactly: each byte
// holds the value of a write no other write over it certainly followed
// (BytesNoLastWriteExplains), and what it holds becomes the model.
// At each quiescent point (threads joined) every byte of the volume equals
// the model and the views keep the SPEC invariants; at the end the volume
// is reopened over the same bytes and compared again.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "remapfs/aligned_device.h"
#include "stress_support.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

constexpr int kReaders = 2;
constexpr int kMinReadsPerPhase = 40;  // per reader; more while writers run
constexpr int kMinControlOpsPerPhase = 8;
// One width per phase; none is a multiple of 512. 0: an overlapping phase.
constexpr uint64_t kStripeWidths[] = {3, 61, 0, 509, 700, 0, 1531, 4099, 0, 9001, 24571, 0};
constexpr uint64_t kMaxRead = 64 << 10;
constexpr uint64_t kHotBlocks = 16;  // where overlapping writes go
constexpr int kRound = 25;           // writes per writer between checks of overlapping writes

// Writes per writer per phase: 3000, or REMAPFS_STRESS_WRITES when set
// (rounded up to a whole number of rounds). The tsan stage of
// scripts/test.sh sets it lower: ThreadSanitizer slows every access about
// 20-fold, and a quarter of the writes still races every pair of threads
// in every phase.
int WritesPerPhase() {
  static const int writes = [] {
    const char* env = std::getenv("REMAPFS_STRESS_WRITES");
    const int n = env ? std::max(1, std::atoi(env)) : 3000;
    return (n + kRound - 1) / kRound * kRound;
  }();
  return writes;
}

struct StressConfig {
  uint32_t block;  // the only request size and alignment the bases take
  uint32_t sector;
  uint64_t main_bytes, spare_bytes;
};

// MAIN and SPARE memory, which outlives each Volume opened over it.
struct AlignedMemory {
  explicit AlignedMemory(const StressConfig& c)
      : config(c), main(NewMemoryDevice(c.main_bytes)), spare(NewMemoryDevice(c.spare_bytes)) {
    FillPattern(main.get(), 1);
    std::unique_ptr<MetadataStore> formatted;
    REQUIRE_OK(MetadataStore::Format(
        spare.get(), MakeGeometry(c.sector, c.main_bytes, c.spare_bytes), &formatted));
  }
  std::unique_ptr<BlockDevice> Aligned(std::shared_ptr<BlockDevice> mem) const {
    std::unique_ptr<AlignedDevice> out;
    REQUIRE_OK(AlignedDevice::Wrap(
        std::make_unique<StrictAlignmentDevice>(std::make_unique<SharedDevice>(mem), config.block),
        config.block, &out));
    return out;
  }
  std::unique_ptr<Volume> Open() const {
    std::unique_ptr<Volume> v;
    REQUIRE_OK(Volume::Open(Aligned(main), Aligned(spare), &v));
    return v;
  }
  StressConfig config;
  std::shared_ptr<BlockDevice> main, spare;
};

// Random add_bad/remove until the writers are done, each checked against
// `remapped` (this thread's model of the table) through Remaps().
void RunControl(Volume& v, const StressConfig& c, uint64_t seed, const std::atomic<bool>& done,
                std::vector<bool>& remapped, StressCounts& counts, Failures& failures) {
  std::mt19937_64 rng(seed);
  const uint64_t sectors = c.main_bytes / c.sector, max_run = (32 << 10) / c.sector;
  for (int ops = 0; !done || ops < kMinControlOpsPerPhase; ++ops) {
    const uint64_t first = rng() % sectors;
    const SectorRange r{first, std::min(sectors - 1, first + rng() % max_run)};
    const bool add = rng() % 2;
    const Status st = add ? v.AddBad({r}) : v.Remove({r});
    ++counts.control_ops;
    if (add && st.IsNoSpace()) {
      ++counts.no_space;  // all or nothing: the table is unchanged
    } else if (!st.ok()) {
      failures.Add((add ? "add_bad: " : "remove: ") + st.ToString());
    } else {
      for (uint64_t s = r.first; s <= r.last; ++s) {
        counts.remap_changes += remapped[s] != add;
        remapped[s] = add;
      }
    }
    std::string problem = RemapsProblem(v, remapped);
    if (!problem.empty()) failures.Add("after a control operation: " + problem);
  }
}

// Writes [at, at+len) from `data` with pattern `seed`, shrunk to the whole
// blocks inside it, when there are any, and from an aligned buffer (the
// AlignedDevice's direct path) if `whole_blocks` or one time in four; else
// as it is from a misaligned buffer. Returns the bytes written (at and len
// now say where), or null.
const uint8_t* WriteRandomly(Volume& v, uint64_t& at, uint64_t& len, uint32_t block,
                             bool whole_blocks, uint64_t seed, std::mt19937_64& rng,
                             AlignedBuffer& data, StressCounts& counts, Failures& failures) {
  size_t misalign = 1 + rng() % (block - 1);
  const uint64_t begin = (at + block - 1) / block * block, end = (at + len) / block * block;
  if ((whole_blocks || rng() % 4 == 0) && begin < end) at = begin, len = end - begin, misalign = 0;
  uint8_t* buf = data.At(misalign);
  for (size_t j = 0; j < len; ++j) buf[j] = PatternByte(at + j, seed);
  if (Status st = v.Write(at, buf, len); !st.ok()) {
    failures.Add("write: " + st.ToString());
    return nullptr;
  }
  ++counts.writes, counts.bytes_written += len;
  return buf;
}

// Random writes inside writer `w`'s stripes, each read back and compared.
void RunWriter(Volume& v, const Stripes& stripes, int w, uint32_t block, uint64_t seed,
               std::vector<uint8_t>& model, StressCounts& counts, Failures& failures) {
  std::mt19937_64 rng(seed);
  AlignedBuffer data(stripes.width), got(stripes.width);
  for (int i = 0; i < WritesPerPhase(); ++i) {
    auto [at, len] = stripes.RandomRange(w, rng);
    const uint8_t* buf = WriteRandomly(v, at, len, block, false, seed * 1000 + i, rng, data, counts,
                                       failures);
    if (buf == nullptr) continue;
    std::memcpy(model.data() + at, buf, len);
    uint8_t* back = got.At(rng() % block);
    if (Status st = v.Read(at, back, len); !st.ok()) {
      failures.Add("read back: " + st.ToString());
    } else if (std::memcmp(back, model.data() + at, len) != 0) {
      failures.Add("a write read back different at " + std::to_string(at));
    } else {
      ++counts.reads, counts.bytes_verified += len;
    }
  }
}

// Random writes of up to two blocks in kHotBlocks from `first`, which
// overlap the other writers'; writer 0 writes whole blocks, which so meet
// the others' read-modify-writes of the same block. Every kRound writes the
// writers meet at `round_end`, which checks the bytes.
void RunOverlappingWriter(Volume& v, uint64_t first, int w, uint32_t block, uint64_t seed,
                          std::atomic<uint64_t>& clock, WriteLog& log,
                          std::barrier<std::function<void()>>& round_end, StressCounts& counts,
                          Failures& failures) {
  std::mt19937_64 rng(seed);
  AlignedBuffer data(2 * block);
  for (int i = 0; i < WritesPerPhase(); ++i) {
    uint64_t at = first + rng() % ((kHotBlocks - 2) * block), len = 1 + rng() % (2 * block);
    if (w == 0) len = 2 * block;  // one or two whole blocks
    const uint64_t began = ++clock;
    if (WriteRandomly(v, at, len, block, w == 0, seed * 1000 + i, rng, data, counts, failures))
      log.Add(at - first, len, seed * 1000 + i, began, ++clock);
    if (i % kRound == kRound - 1) round_end.arrive_and_wait();
  }
}

// Random reads anywhere; the frozen bytes must hold the model's values.
void RunReader(Volume& v, const Stripes& stripes, uint64_t seed, const std::atomic<bool>& done,
               const std::vector<uint8_t>& model, StressCounts& counts, Failures& failures) {
  std::mt19937_64 rng(seed);
  AlignedBuffer storage(kMaxRead);
  for (int i = 0; !done || i < kMinReadsPerPhase; ++i) {
    const uint64_t at = rng() % stripes.size;
    const size_t len = 1 + rng() % std::min(kMaxRead, stripes.size - at);
    uint8_t* buf = storage.At(rng() % 4096);
    if (Status st = v.Read(at, buf, len); !st.ok()) {
      failures.Add("read: " + st.ToString());
      continue;
    }
    ++counts.reads;
    for (size_t j = 0; j < len; ++j) {
      if (!stripes.Frozen(at + j)) continue;
      if (buf[j] != model[at + j]) {
        failures.Add("a frozen byte changed at " + std::to_string(at + j));
        break;
      }
      ++counts.bytes_verified;
    }
  }
}

// A quiescent point of the overlapping writers (std::barrier's completion):
// the hot blocks from `first` hold values their writes explain; they become
// the model, and the logs start again.
void CheckOverlappingRound(Volume& v, uint64_t first, std::vector<WriteLog>& logs,
                           std::vector<uint8_t>& model, StressCounts& counts,
                           Failures& failures) noexcept {
  std::vector<uint8_t> got(logs[0].last.size());
  if (Status st = v.Read(first, got.data(), got.size()); !st.ok()) {
    failures.Add("read of the overlapping writes: " + st.ToString());
  } else if (const uint64_t wrong = BytesNoLastWriteExplains(got, first, model, logs)) {
    failures.Add(std::to_string(wrong) + " bytes no overlapping write explains near " +
                 std::to_string(first));
  } else {
    counts.bytes_verified += got.size();
  }
  std::copy(got.begin(), got.end(), model.begin() + first);
  for (WriteLog& log : logs) log.Reset();
}

void RunStress(const StressConfig& c) {
  AlignedMemory mem(c);
  auto v = mem.Open();
  std::vector<uint8_t> model = Pattern(0, c.main_bytes, 1);
  std::vector<bool> remapped(c.main_bytes / c.sector, false);
  StressCounts counts;
  Failures failures;
  for (size_t phase = 0; phase < std::size(kStripeWidths); ++phase) {
    const uint64_t seed = (uint64_t{c.block} << 32) + c.sector * 100 + phase * 10;
    std::mt19937_64 rng(seed);
    // An overlapping phase is one stripe, writer 0's: no byte is frozen.
    const bool overlapping = kStripeWidths[phase] == 0;
    const uint64_t width = overlapping ? c.main_bytes : kStripeWidths[phase];
    const Stripes stripes{width, overlapping ? 0 : rng() % width, c.main_bytes};
    const uint64_t hot = rng() % (c.main_bytes / c.block - kHotBlocks) * c.block;
    std::vector<WriteLog> logs(kWriters, WriteLog(overlapping ? kHotBlocks * c.block : 0));
    std::atomic<uint64_t> clock{0};
    std::barrier<std::function<void()>> round_end(kWriters, [&]() noexcept {
      CheckOverlappingRound(*v, hot, logs, model, counts, failures);
    });
    std::atomic<bool> writers_done{false};
    std::vector<std::thread> others, writers;
    others.emplace_back(
        [&] { RunControl(*v, c, seed + 1, writers_done, remapped, counts, failures); });
    for (int r = 0; r < kReaders; ++r)
      others.emplace_back(
          [&, r] { RunReader(*v, stripes, seed + 2 + r, writers_done, model, counts, failures); });
    for (int w = 0; w < kWriters; ++w)
      writers.emplace_back([&, w] {
        if (overlapping)
          RunOverlappingWriter(*v, hot, w, c.block, seed + 5 + w, clock, logs[w], round_end, counts,
                               failures);
        else RunWriter(*v, stripes, w, c.block, seed + 5 + w, model, counts, failures);
      });
    for (auto& t : writers) t.join();
    writers_done = true;
    for (auto& t : others) t.join();

    INFO("phase " << phase << ": " << (overlapping ? "overlapping writes" : "stripes of ")
                  << (overlapping ? "" : std::to_string(width) + " bytes"));
    REQUIRE(failures.First() == "");
    REQUIRE_OK(v->Sync());
    REQUIRE(ByteDiff(ReadVolume(*v, 0, c.main_bytes), model) == "");
    counts.bytes_verified += c.main_bytes;
    CHECK(RemapsProblem(*v, remapped) == "");
    CHECK(StatsProblem(*v) == "");
  }
  const auto remaps_before = v->Remaps();
  v.reset();
  v = mem.Open();
  INFO("after reopening");
  CHECK(ByteDiff(ReadVolume(*v, 0, c.main_bytes), model) == "");
  CHECK(Describe(v->Remaps()) == Describe(remaps_before));
  CHECK(StatsProblem(*v) == "");
  WARN("block " << c.block << ", sector " << c.sector << ": " << counts.Describe());
  CHECK(counts.remap_changes > 0);
}

}  // namespace

TEST_CASE("givenWritersReadersAndRemapChurnOnAlignedDevices_whenEachPhaseEnds_"
          "thenEveryByteMatchesTheModel",
          "[stress]") {
  const StressConfig config = GENERATE(values<StressConfig>({
      {512, 512, 1 << 20, 256 << 10},
      {4096, 512, 1 << 20, 256 << 10},
      {512, 4096, 1 << 20, 512 << 10},
      {4096, 4096, 1 << 20, 512 << 10},
  }));
  CAPTURE(config.block, config.sector);
  RunStress(config);
}

}  // namespace remapfs::testing
