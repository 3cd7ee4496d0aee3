// The pieces of the concurrency stress test (concurrency_stress_test.cc)
// that are not its threads: who owns which byte in a phase, buffers at a
// chosen misalignment, failure and work counters safe to share between
// threads, and the checks of the Volume's views against the model.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../common/stripes.h"
#include "remapfs/volume.h"
#include "test_util.h"

namespace remapfs::testing {

constexpr int kWriters = 3;

// Who owns each byte in one phase (tests/common/stripes.h).
using Stripes = StripesOf<kWriters>;

// Room for `len` bytes at any offset below 64 KiB past a 64 KiB boundary.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t len) : storage_(len + 2 * kAlign) {}
  uint8_t* At(size_t misalign) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    return storage_.data() + (kAlign - base % kAlign) + misalign;
  }

 private:
  static constexpr size_t kAlign = 65536;
  std::vector<uint8_t> storage_;
};

// What went wrong on the threads, which may not use Catch's assertions.
class Failures {
 public:
  void Add(const std::string& what) {
    std::lock_guard lock(mu_);
    if (count_++ == 0) first_ = what;
  }
  // "" when nothing failed.
  std::string First() {
    std::lock_guard lock(mu_);
    return count_ == 0 ? "" : std::to_string(count_) + " failures, the first: " + first_;
  }

 private:
  std::mutex mu_;
  uint64_t count_ = 0;
  std::string first_;
};

struct StressCounts {
  std::atomic<uint64_t> writes{0}, reads{0}, bytes_written{0}, bytes_verified{0};
  std::atomic<uint64_t> control_ops{0}, no_space{0}, remap_changes{0};
  std::string Describe() const {
    std::ostringstream os;
    os << writes << " writes (" << bytes_written << " bytes), " << reads << " reads, "
       << bytes_verified << " bytes verified, " << control_ops << " add_bad/remove (" << no_space
       << " refused for space), " << remap_changes << " sectors remapped or returned";
    return os.str();
  }
};

// One writer's writes over a stretch of bytes in an overlapping phase, each
// with when it began and ended on a clock all writers share; `last` gives,
// for each byte of the stretch, the index of the last write over it (-1:
// none).
struct WriteLog {
  struct Entry {
    uint64_t seed, began, ended;  // byte `at` of the volume held PatternByte(at, seed)
  };
  explicit WriteLog(uint64_t size) : last(size, -1) {}
  void Add(uint64_t pos, uint64_t len, uint64_t seed, uint64_t began, uint64_t ended) {
    writes.push_back({seed, began, ended});
    std::fill_n(last.begin() + pos, len, static_cast<int32_t>(writes.size() - 1));
  }
  void Reset() {
    writes.clear();
    std::fill(last.begin(), last.end(), -1);
  }
  std::vector<Entry> writes;
  std::vector<int32_t> last;
};

// How many bytes of `got` (the stretch from volume byte `first`) hold no
// value a write could have left last. Of the writers' last writes over a
// byte, one that ended before another began was certainly overwritten: the
// byte holds the value of one of the others, or its old value (`model`) if
// no write covered it. (A stale read-modify-write brings back a value that
// a later write had replaced.)
inline uint64_t BytesNoLastWriteExplains(const std::vector<uint8_t>& got, uint64_t first,
                                         const std::vector<uint8_t>& model,
                                         const std::vector<WriteLog>& logs) {
  uint64_t wrong = 0;
  for (size_t pos = 0; pos < got.size(); ++pos) {
    uint64_t latest_began = 0;
    for (const WriteLog& log : logs)
      if (log.last[pos] >= 0)
        latest_began = std::max(latest_began, log.writes[log.last[pos]].began);
    bool explained = latest_began == 0 && got[pos] == model[first + pos];
    for (const WriteLog& log : logs) {
      if (log.last[pos] < 0) continue;
      const WriteLog::Entry& e = log.writes[log.last[pos]];
      explained |= e.ended > latest_began && got[pos] == PatternByte(first + pos, e.seed);
    }
    wrong += !explained;
  }
  return wrong;
}

// "" when Remaps() names exactly the sectors `remapped` marks, none
// pending, each in a spare sector of its own outside the reservations.
inline std::string RemapsProblem(const Volume& v, const std::vector<bool>& remapped) {
  const auto remaps = v.Remaps();
  const auto reserved = v.Reservations();
  std::set<uint64_t> spare_sectors;
  uint64_t named = 0;
  for (const RemapEntry& e : remaps) {
    if (e.main_sector >= remapped.size() || !remapped[e.main_sector])
      return "main sector " + std::to_string(e.main_sector) + " remapped unasked";
    if (e.pending) return "main sector " + std::to_string(e.main_sector) + " pending";
    if (!spare_sectors.insert(e.spare_sector).second)
      return "spare sector " + std::to_string(e.spare_sector) + " holds two remaps";
    for (const Extent& x : reserved)
      if (e.spare_sector >= x.first && e.spare_sector <= x.last)
        return "spare sector " + std::to_string(e.spare_sector) + " is in " + x.what;
    ++named;
  }
  const auto want = static_cast<uint64_t>(std::count(remapped.begin(), remapped.end(), true));
  if (named != want)
    return std::to_string(named) + " remaps where " + std::to_string(want) + " were made";
  return "";
}

// "" when the counters agree with the table and no I/O failed.
inline std::string StatsProblem(const Volume& v) {
  const VolumeStats s = v.Stats();
  const uint64_t remaps = v.Remaps().size();
  std::ostringstream os;
  if (s.spare_used + s.spare_free != s.spare_capacity)
    os << "spare_used " << s.spare_used << " + spare_free " << s.spare_free << " != spare_capacity "
       << s.spare_capacity << "; ";
  if (s.spare_used != remaps || s.remapped != remaps || s.pending != 0)
    os << "spare_used " << s.spare_used << ", remapped " << s.remapped << ", pending " << s.pending
       << " for " << remaps << " remaps; ";
  if (s.read_errors + s.write_errors != 0) os << "last error: " << s.last_error;
  return os.str();
}

}  // namespace remapfs::testing
