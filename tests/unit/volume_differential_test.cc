// The Volume against a plain byte vector: random reads, writes, remaps,
// removes and reopens must never make the two disagree. Then the same idea
// under concurrency: workers on disjoint regions against per-thread models
// while another thread remaps and unremaps their sectors.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "remapfs/reservations.h"
#include "test_util.h"

namespace remapfs::testing {
namespace {

// Remaps sorted and unique on both sides, never on a reserved or out-of-range
// spare sector, exactly the expected main sectors, counters agreeing.
void RequireInvariants(Volume& v, const std::set<uint64_t>& expected) {
  const Geometry& g = v.geometry();
  const ReservationSet rs = ReservationSet::ForPlacement(g.placement, g.spare_sectors);
  const std::vector<RemapEntry> remaps = v.Remaps();
  INFO(Describe(remaps));
  std::set<uint64_t> mains, spares;
  for (size_t i = 0; i < remaps.size(); ++i) {
    const RemapEntry& r = remaps[i];
    if (i > 0) REQUIRE(remaps[i - 1].main_sector < r.main_sector);
    REQUIRE(r.spare_sector < g.spare_sectors);
    REQUIRE_FALSE(rs.IsReserved(r.spare_sector));
    REQUIRE(spares.insert(r.spare_sector).second);
    REQUIRE_FALSE(r.pending);
    mains.insert(r.main_sector);
  }
  REQUIRE(mains == expected);
  const VolumeStats st = v.Stats();
  REQUIRE(st.spare_used == remaps.size());
  REQUIRE(st.remapped == remaps.size());
  REQUIRE(st.spare_free == st.spare_capacity - remaps.size());
}

struct DiffConfig {
  uint64_t seed;
  uint32_t sector_size;
  uint64_t main_bytes;
  uint64_t spare_bytes;
};

TEST_CASE("Random I/O, remaps and reopens agree with a plain memory disk", "[differential]") {
  const DiffConfig c = GENERATE(DiffConfig{11, 512, 256 << 10, 64 << 10},
                                DiffConfig{12, 512, 512 << 10, 512 << 10},
                                DiffConfig{13, 4096, 1 << 20, 512 << 10});
  INFO("seed " << c.seed << ", sector " << c.sector_size);
  MemVolumeOptions o;
  o.sector_size = c.sector_size;
  o.main_bytes = c.main_bytes;
  o.spare_bytes = c.spare_bytes;
  MemVolume mv(o);
  const uint64_t ss = c.sector_size, size = c.main_bytes;
  const uint64_t sectors = size / ss;
  const uint64_t capacity = mv->Stats().spare_capacity;
  std::vector<uint8_t> ref = Pattern(0, size, 1);
  std::set<uint64_t> remapped;
  std::mt19937_64 rng(c.seed);
  auto pick_len = [&]() -> uint64_t {
    return rng() % 8 == 0 ? 1 + rng() % (64 << 10) : 1 + rng() % (3 * ss);
  };
  auto pick_ranges = [&] {
    std::vector<SectorRange> ranges;
    for (int n = 1 + rng() % 2; n > 0; --n) {
      const uint64_t first = rng() % sectors;
      ranges.push_back({first, std::min(sectors - 1, first + rng() % 8)});
    }
    return ranges;
  };

  for (int op = 0; op < 3000; ++op) {
    const uint64_t offset = rng() % size;
    const uint64_t len = std::min<uint64_t>(pick_len(), size - offset);
    const int kind = rng() % 100;
    INFO("op " << op << " kind " << kind << " offset " << offset << " len " << len);
    if (kind < 40) {
      const std::vector<uint8_t> data = Pattern(offset, len, 100 + op);
      REQUIRE_OK(mv->Write(offset, data.data(), len));
      std::copy(data.begin(), data.end(), ref.begin() + offset);
    } else if (kind < 80) {
      REQUIRE(ByteDiff(ReadVolume(mv.vol(), offset, len),
                       {ref.begin() + offset, ref.begin() + offset + len}) == "");
    } else if (kind < 89) {
      const std::vector<SectorRange> ranges = pick_ranges();
      std::set<uint64_t> after = remapped;
      for (const SectorRange& r : ranges) {
        for (uint64_t s = r.first; s <= r.last; ++s) after.insert(s);
      }
      const Status st = mv->AddBad(ranges);
      if (after.size() <= capacity) {
        REQUIRE_OK(st);
        remapped = after;
      } else {
        REQUIRE(st.errno_value() == ENOSPC);
      }
      RequireInvariants(mv.vol(), remapped);
    } else if (kind < 97) {
      const std::vector<SectorRange> ranges = pick_ranges();
      REQUIRE_OK(mv->Remove(ranges));
      for (const SectorRange& r : ranges) {
        for (uint64_t s = r.first; s <= r.last; ++s) remapped.erase(s);
      }
      RequireInvariants(mv.vol(), remapped);
    } else if (kind < 98) {
      const std::vector<uint8_t> data(ss, 0xEE);
      const Status st = mv->Write(size - ss / 2, data.data(), ss);
      REQUIRE(st.errno_value() == ENOSPC);
    } else {
      REQUIRE_OK(mv.Reopen());
      RequireInvariants(mv.vol(), remapped);
      REQUIRE(ByteDiff(ReadVolume(mv.vol(), 0, size), ref) == "");
    }
  }
  REQUIRE(ByteDiff(ReadVolume(mv.vol(), 0, size), ref) == "");
}

// First failure seen by any thread; Catch's macros are main-thread only.
class FailureLog {
 public:
  void Add(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_++ == 0) first_ = what;
  }
  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    return count_ == 0 ? "" : std::to_string(count_) + " failures, first: " + first_;
  }

 private:
  mutable std::mutex mu_;
  int count_ = 0;
  std::string first_;
};

TEST_CASE("Concurrent writers never lose data while their sectors are "
          "remapped and unremapped",
          "[differential]") {
  constexpr uint32_t kSector = 512;
  constexpr uint64_t kRegion = 128;  // sectors per worker
  constexpr int kWorkers = 3;
  MemVolumeOptions o;
  o.main_bytes = 1 << 20;
  o.spare_bytes = 512 << 10;
  MemVolume mv(o);
  std::vector<std::vector<uint8_t>> models;
  for (int w = 0; w < kWorkers; ++w) {
    models.push_back(ReadVolume(mv.vol(), w * kRegion * kSector, kRegion * kSector));
  }
  FailureLog failures;
  std::atomic<int> running{kWorkers};
  std::atomic<int> control_ops{0};

  auto worker = [&](int w) {
    std::mt19937_64 rng(500 + w);
    std::vector<uint8_t>& model = models[w];
    const uint64_t base = w * kRegion * kSector;
    // Keep going until the controller has switched plenty of remaps under us.
    for (int i = 0; i < 1500 || control_ops.load() < 300; ++i) {
      const uint64_t off = rng() % model.size();
      const uint64_t len = std::min<uint64_t>(1 + rng() % (3 * kSector), model.size() - off);
      const std::vector<uint8_t> data = Pattern(base + off, len, (uint64_t(w) << 32) + i);
      Status st = mv->Write(base + off, data.data(), len);
      if (!st.ok()) failures.Add("write: " + st.ToString());
      std::copy(data.begin(), data.end(), model.begin() + off);
      const uint64_t roff = rng() % model.size();
      const uint64_t rlen = std::min<uint64_t>(1 + rng() % (3 * kSector), model.size() - roff);
      std::vector<uint8_t> got(rlen);
      st = mv->Read(base + roff, got.data(), rlen);
      if (!st.ok()) failures.Add("read: " + st.ToString());
      if (!std::equal(got.begin(), got.end(), model.begin() + roff)) {
        failures.Add("worker " + std::to_string(w) + " read stale bytes at op " +
                     std::to_string(i));
      }
    }
    running.fetch_sub(1);
  };
  auto controller = [&] {
    std::mt19937_64 rng(99);
    while (running.load() > 0) {
      const uint64_t first = rng() % (kWorkers * kRegion);
      const std::vector<SectorRange> r = SectorRun(first, 1 + rng() % 4);
      const Status st = rng() % 2 ? mv->AddBad(r) : mv->Remove(r);
      if (!st.ok()) failures.Add("control: " + st.ToString());
      control_ops.fetch_add(1);
    }
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) threads.emplace_back(worker, w);
  threads.emplace_back(controller);
  for (std::thread& t : threads) t.join();

  CHECK(failures.Summary() == "");
  for (int reopen = 0; reopen < 2; ++reopen) {
    for (int w = 0; w < kWorkers; ++w) {
      INFO("worker " << w << (reopen ? " after reopen" : ""));
      CHECK(ByteDiff(ReadVolume(mv.vol(), w * kRegion * kSector, kRegion * kSector), models[w]) ==
            "");
    }
    REQUIRE_OK(mv.Reopen());
  }
  CHECK(mv->Stats().spare_used == mv->Remaps().size());
}

}  // namespace
}  // namespace remapfs::testing
