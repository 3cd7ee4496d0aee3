// The layout of the live status page in shared memory (live_status.h) and
// its seqlock. Internal to the core: readers and the publisher only.
#pragma once

#include <atomic>
#include <cstdint>

#include "remapfs/live_status.h"

namespace remapfs {

inline constexpr uint64_t kLivePageMagic = 0x5245'4d41'5046'534cULL;  // "REMAPFSL"
inline constexpr size_t kLiveSlotWords = 512;
// The name of the page object inside the segment.
inline constexpr const char* kLivePageObject = "remapfs_live_page";

static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "the page is shared between processes: its atomics must be lock-free");

// One copy of the stats: `seq` is odd while the publisher writes `words`.
struct LiveSlot {
  std::atomic<uint64_t> seq{0};
  std::atomic<uint64_t> words[kLiveSlotWords];
};

// Plain old data apart from the atomics; written once (identity) before
// the segment is renamed into view, then only through the slots.
struct LivePage {
  std::atomic<uint64_t> magic{0};
  uint32_t version = kLivePageVersion;
  int32_t pid = 0;
  char volume_id[40] = {};
  char mountpoint[kLivePathBytes] = {};
  char main_path[kLivePathBytes] = {};
  char spare_path[kLivePathBytes] = {};
  LiveSlot slots[2];
};

// The stats as words and back (live_page.cc).
void EncodeLiveStats(const LiveStats& stats, uint64_t* words);
void DecodeLiveStats(const uint64_t* words, LiveStats* stats);

// Writes `stats` into the slot older than the other (one writer only).
void WriteLiveSlots(LivePage* page, const LiveStats& stats);
// The newest slot that was whole while it was copied; false when neither
// was (a publisher that stopped mid-write of one slot leaves the other).
bool ReadLiveSlots(const LivePage& page, LiveStats* stats);

}  // namespace remapfs
