// The words of a live status slot, and the seqlock over the two slots
// (live_page.h). The field order here is the page format: a change of it
// is a new kLivePageVersion.
#include "live_page.h"

#include <algorithm>
#include <cstring>
#include <thread>

namespace remapfs {
namespace {

constexpr size_t kLastErrorWords = kLiveLastErrorBytes / 8;

// Appends / takes words in order, so Encode and Decode list the fields the
// same way.
struct WordWriter {
  uint64_t* w;
  size_t n = 0;
  void Put(uint64_t v) { w[n++] = v; }
};
struct WordReader {
  const uint64_t* w;
  size_t n = 0;
  uint64_t Take() { return w[n++]; }
  template <typename T>
  void Get(T* v) {
    *v = static_cast<T>(Take());
  }
};

// One list of the fields for both directions: `io` is a WordWriter or a
// WordReader, `s` a const or mutable LiveStats.
template <typename Io, typename S>
void Fields(Io& io, S& s, auto field) {
  VolumeStats& v = const_cast<VolumeStats&>(s.volume);
  field(io, v.sector_size);
  field(io, v.main_sectors);
  field(io, v.spare_sectors);
  field(io, v.strategy);
  field(io, v.metadata_copies);
  field(io, v.metadata_valid_copies);
  field(io, v.metadata_repaired_copies);
  field(io, v.metadata_sequence);
  field(io, v.metadata_commits_failing);
  field(io, v.reserved_sectors);
  field(io, v.spare_capacity);
  field(io, v.spare_used);
  field(io, v.spare_free);
  field(io, v.remapped);
  field(io, v.pending);
  field(io, v.read_errors);
  field(io, v.write_errors);
  field(io, v.auto_remaps);
  field(io, v.operation);
  field(io, v.operation_done);
  field(io, v.operation_total);
  ScrubProgress& p = const_cast<ScrubProgress&>(s.scrub);
  field(io, p.state);
  field(io, p.done);
  field(io, p.total);
  field(io, p.found);
  field(io, const_cast<uint64_t&>(s.inject_latency_ms));
  field(io, const_cast<uint64_t&>(s.log_write_failures));
  field(io, const_cast<uint64_t&>(s.heartbeat_unix_ms));
}

constexpr size_t kScalarWords = 28;
static_assert(kScalarWords + kLastErrorWords + 1 + 2 * kLiveErrorMinutes <= kLiveSlotWords);

}  // namespace

void EncodeLiveStats(const LiveStats& stats, uint64_t* words) {
  std::fill(words, words + kLiveSlotWords, 0);
  WordWriter out{words};
  Fields(out, stats, [](WordWriter& io, const auto& v) { io.Put(static_cast<uint64_t>(v)); });
  char text[kLiveLastErrorBytes] = {};
  const std::string& e = stats.volume.last_error;
  const size_t len = std::min(e.size(), kLiveLastErrorBytes);
  std::memcpy(text, e.data(), len);
  out.Put(len);
  for (size_t i = 0; i < kLastErrorWords; ++i) {
    uint64_t w;
    std::memcpy(&w, text + 8 * i, 8);
    out.Put(w);
  }
  // The newest minutes, if a caller passed more than fit.
  const auto& m = stats.error_minutes;
  const size_t first = m.size() > kLiveErrorMinutes ? m.size() - kLiveErrorMinutes : 0;
  for (size_t i = first; i < m.size(); ++i) {
    out.Put(m[i].first);
    out.Put(m[i].second);
  }
}

void DecodeLiveStats(const uint64_t* words, LiveStats* stats) {
  WordReader in{words};
  Fields(in, *stats, [](WordReader& io, auto& v) { io.Get(&v); });
  const size_t len = std::min<uint64_t>(in.Take(), kLiveLastErrorBytes);
  char text[kLiveLastErrorBytes];
  for (size_t i = 0; i < kLastErrorWords; ++i) {
    uint64_t w = in.Take();
    std::memcpy(text + 8 * i, &w, 8);
  }
  stats->volume.last_error.assign(text, len);
  stats->error_minutes.clear();
  for (size_t i = 0; i < kLiveErrorMinutes; ++i) {
    uint64_t minute = in.Take();
    uint64_t count = in.Take();
    if (minute != 0) stats->error_minutes.emplace_back(minute, count);
  }
}

void WriteLiveSlots(LivePage* page, const LiveStats& stats) {
  uint64_t words[kLiveSlotWords];
  EncodeLiveStats(stats, words);
  LiveSlot& a = page->slots[0];
  LiveSlot& b = page->slots[1];
  LiveSlot& slot = a.seq.load(std::memory_order_relaxed) <= b.seq.load(std::memory_order_relaxed)
                       ? a
                       : b;
  // The newer slot's sequence is the highest: the written one goes above it.
  const uint64_t top = std::max(a.seq.load(std::memory_order_relaxed),
                                b.seq.load(std::memory_order_relaxed));
  const uint64_t begin = (top | 1) + 2;  // odd: being written
  slot.seq.store(begin, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < kLiveSlotWords; ++i) {
    slot.words[i].store(words[i], std::memory_order_relaxed);
  }
  slot.seq.store(begin + 1, std::memory_order_release);  // even: whole
}

namespace {

// One slot, copied under its sequence number: false if it was being
// written before or during the copy.
bool CopySlot(const LiveSlot& slot, uint64_t* words, uint64_t* seq) {
  const uint64_t before = slot.seq.load(std::memory_order_acquire);
  if (before == 0 || before % 2 == 1) return false;
  for (size_t i = 0; i < kLiveSlotWords; ++i) {
    words[i] = slot.words[i].load(std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  *seq = before;
  return slot.seq.load(std::memory_order_relaxed) == before;
}

}  // namespace

bool ReadLiveSlots(const LivePage& page, LiveStats* stats) {
  // A live publisher rewrites one slot while the other stays whole; a few
  // attempts get past the rare reader that both raced.
  for (int attempt = 0; attempt < 100; ++attempt) {
    uint64_t words[2][kLiveSlotWords];
    uint64_t seq[2] = {0, 0};
    bool ok[2] = {CopySlot(page.slots[0], words[0], &seq[0]),
                  CopySlot(page.slots[1], words[1], &seq[1])};
    // Slot 0 may have been rewritten while slot 1 was copied: then its
    // copy is no longer the newest, and a reader could go back in time.
    ok[0] = ok[0] && page.slots[0].seq.load(std::memory_order_acquire) == seq[0];
    if (!ok[0] && !ok[1]) {
      std::this_thread::yield();  // let the writer finish its slot
      continue;
    }
    const int best = !ok[1] || (ok[0] && seq[0] > seq[1]) ? 0 : 1;
    DecodeLiveStats(words[best], stats);
    return true;
  }
  return false;
}

}  // namespace remapfs
