// AlignedDevice::WritePartialBlocks: the partial-block writes of one write
// batch slice by read-modify-write in base batches, not one synchronous
// read and write per request (a 4Kn disk under `remove` of scattered
// 512-byte sectors: one RMW per sector, issue 10).
//
// A round takes the requests, in index order, whose aligned spans fit the
// thread's bounce buffer together (later requests wait for the next round,
// so memory stays at kBounceBytes). Spans that share a block are merged
// into one group, so a block is read, patched by every request in it (in
// index order; a batch's requests do not overlap) and written once. Then:
//
//   lock exclusive [first block, last block] of the round   (one range)
//   base ReadBatch: the blocks some request covers only in part
//   patch every request into its group; base WriteBatch: one per group
//   release
//
// Locking is Write's RMW (aligned_device.cc), for many blocks at once: the
// round excludes every other write of the blocks it rewrites between its
// read and its write-back (SPEC invariant 11: no byte reverts). It is one
// range, the thread's only one, so BlockRangeLock's arrival order keeps it
// free of deadlock; several ranges taken in turn would not be (a waiter
// with an earlier ticket between them). The price: while a round runs (one
// base read batch and one write batch), other writes anywhere between its
// first and last block wait, as they wait for the shared range of the
// whole-block batch.
//
// Outcome, as the batch contract asks: a failed read writes nothing of the
// round. When it read one block, the lowest request that needs the block
// fails with the read's status and the block is not read again (a bad
// sector can take seconds to fail, every time); the requests below it go
// by Write. A failed merged read sends the round's requests by Write, one
// by one in index order, up to the first that fails (its status and
// index). Write-back groups go down
// ordered by the lowest request each serves, so every request of an index
// below the failing group's first is written; a group serving one request
// is charged as it stands, one serving several asks Write, request by
// request, from the lowest not known to be written.
#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

#include "bounce_buffer.h"
#include "remapfs/aligned_device.h"

namespace remapfs {
namespace {

constexpr size_t kNone = ~size_t{0};
constexpr size_t kMaxRound = 128;  // requests: a batch slice

// Where one round's requests go: their aligned spans, merged into groups
// when they share a block, laid out one after another in the arena.
class RmwPlan {
 public:
  RmwPlan(std::span<const WriteRequest> requests, std::span<const uint16_t> round,
          uint32_t alignment, uint8_t* arena)
      : requests_(requests), round_(round), align_(alignment), arena_(arena) {
    std::array<uint16_t, kMaxRound> by_begin;
    std::copy(round.begin(), round.end(), by_begin.begin());
    std::sort(by_begin.begin(), by_begin.begin() + round.size(),
              [&](uint16_t a, uint16_t b) { return Begin(a) < Begin(b); });
    size_t used = 0;
    for (size_t k = 0; k < round.size(); ++k) {
      const size_t i = by_begin[k];
      Group* g = n_groups_ == 0 ? nullptr : &groups_[n_groups_ - 1];
      if (g == nullptr || Begin(i) >= g->end) {  // shares no block: a new group
        g = &groups_[n_groups_++];
        *g = Group{Begin(i), Begin(i), used, i, 0};
      }
      g->end = std::max(g->end, End(i));
      g->first_owner = std::min(g->first_owner, i);
      ++g->owners;
      used = g->arena_at + (g->end - g->begin);
      group_of_[i] = static_cast<uint16_t>(g - groups_.data());
    }
    PlanReads();
    OrderWrites();
  }

  uint64_t first_block() const { return groups_[0].begin / align_; }
  uint64_t last_block() const { return (groups_[n_groups_ - 1].end - 1) / align_; }
  std::span<const ReadRequest> reads() const { return {reads_.data(), n_reads_}; }
  std::span<const WriteRequest> writes() const { return {writes_.data(), n_groups_}; }
  size_t owners(size_t write) const { return groups_[order_[write]].owners; }
  size_t first_owner(size_t write) const { return groups_[order_[write]].first_owner; }
  // Request i's group went down at position `write` of writes() or later.
  bool Unsure(size_t i, size_t write) const { return position_[group_of_[i]] >= write; }
  // The lowest request that needs read `read` of reads(), when that read is
  // one block (which request a merged read failed for is not known): kNone
  // otherwise.
  size_t FirstNeeding(size_t read) const {
    if (reads_[read].len != align_) return kNone;
    const uint64_t block = reads_[read].offset / align_;
    for (uint16_t i : round_) {  // ascending
      const uint64_t begin = requests_[i].offset, end = begin + requests_[i].len;
      const bool head = begin / align_ == block && (begin % align_ != 0 || end - begin < align_);
      const bool tail = (end - 1) / align_ == block && end % align_ != 0;
      if (head || tail) return i;
    }
    return kNone;
  }

  // Copies every request's bytes over the blocks read into its group.
  void Patch() const {
    for (uint16_t i : round_) {
      const Group& g = groups_[group_of_[i]];
      std::memcpy(arena_ + g.arena_at + (requests_[i].offset - g.begin), requests_[i].buf,
                  requests_[i].len);
    }
  }

 private:
  struct Group {
    uint64_t begin, end;  // bytes, block-aligned
    size_t arena_at;
    size_t first_owner;  // the lowest request index it serves
    size_t owners;
  };

  uint64_t Begin(size_t i) const { return requests_[i].offset / align_ * align_; }
  uint64_t End(size_t i) const {
    return (requests_[i].offset + requests_[i].len + align_ - 1) / align_ * align_;
  }

  // The blocks a request covers only in part (its first and last block,
  // when it starts or ends inside them) are read, runs of neighbours within
  // a group in one request; blocks that requests cover whole are not.
  void PlanReads() {
    std::array<uint64_t, 2 * kMaxRound> blocks;
    size_t n = 0;
    for (uint16_t i : round_) {
      const uint64_t begin = requests_[i].offset, end = begin + requests_[i].len;
      if (begin % align_ != 0 || end - begin < align_) blocks[n++] = begin / align_;
      if (end % align_ != 0) blocks[n++] = (end - 1) / align_;
    }
    std::sort(blocks.begin(), blocks.begin() + n);
    n = std::unique(blocks.begin(), blocks.begin() + n) - blocks.begin();
    size_t g = 0;
    for (size_t k = 0; k < n; ++k) {
      const uint64_t at = blocks[k] * align_;
      while (groups_[g].end <= at) ++g;  // groups are sorted and disjoint
      ReadRequest* last = n_reads_ == 0 ? nullptr : &reads_[n_reads_ - 1];
      if (last != nullptr && blocks[k] == blocks[k - 1] + 1 && at < groups_[g].end &&
          last->offset >= groups_[g].begin) {
        last->len += align_;  // the next block of the same group
        continue;
      }
      reads_[n_reads_++] = ReadRequest{at, arena_ + groups_[g].arena_at + (at - groups_[g].begin),
                                       align_};
    }
  }

  void OrderWrites() {
    std::iota(order_.begin(), order_.begin() + n_groups_, 0);
    std::sort(order_.begin(), order_.begin() + n_groups_, [&](uint16_t a, uint16_t b) {
      return groups_[a].first_owner < groups_[b].first_owner;
    });
    for (size_t k = 0; k < n_groups_; ++k) {
      const Group& g = groups_[order_[k]];
      writes_[k] = WriteRequest{g.begin, arena_ + g.arena_at, g.end - g.begin};
      position_[order_[k]] = k;
    }
  }

  const std::span<const WriteRequest> requests_;
  const std::span<const uint16_t> round_;
  const uint64_t align_;
  uint8_t* const arena_;
  std::array<Group, kMaxRound> groups_;
  size_t n_groups_ = 0;
  std::array<uint16_t, kMaxRound> group_of_;  // by request index in the slice
  std::array<ReadRequest, 2 * kMaxRound> reads_;
  size_t n_reads_ = 0;
  std::array<uint16_t, kMaxRound> order_;   // groups by first owner
  std::array<size_t, kMaxRound> position_;  // of group g in writes_
  std::array<WriteRequest, kMaxRound> writes_;
};

}  // namespace

void AlignedDevice::WritePartialBlocks(std::span<const WriteRequest> requests, const bool* which,
                                       size_t* lowest, Status* status) {
  static_assert(kBatchSlice <= kMaxRound, "RmwPlan holds a slice");
  auto span_bytes = [&](const WriteRequest& r) {
    return (r.offset + r.len + alignment_ - 1) / alignment_ * alignment_ -
           r.offset / alignment_ * alignment_;
  };
  std::array<uint16_t, kMaxRound> batched;
  std::array<bool, kMaxRound> by_write{};  // spans larger than the arena
  size_t n = 0;
  for (size_t i = 0; i < requests.size() && i < *lowest; ++i) {
    if (!which[i]) continue;
    if (span_bytes(requests[i]) <= kBounceBytes) batched[n++] = static_cast<uint16_t>(i);
    else by_write[i] = true;
  }
  for (size_t next = 0; next < n;) {
    size_t end = next, bytes = 0;
    while (end < n && bytes + span_bytes(requests[batched[end]]) <= kBounceBytes)
      bytes += span_bytes(requests[batched[end++]]);
    size_t at = kNone;
    Status st = RmwRound(requests, std::span(batched.data() + next, end - next), &at);
    if (!st.ok()) {
      *lowest = at;  // every later round serves higher indices only
      *status = st;
      break;
    }
    next = end;
  }
  for (size_t i = 0; i < requests.size() && i < *lowest; ++i) {
    if (!by_write[i]) continue;
    Status st = Write(requests[i].offset, requests[i].buf, requests[i].len);
    if (st.ok()) continue;
    *lowest = i;
    *status = st;
  }
}

Status AlignedDevice::RmwRound(std::span<const WriteRequest> requests,
                               std::span<const uint16_t> round, size_t* failed) {
  const RmwPlan plan(requests, round, alignment_, ThreadBounceBuffer());
  size_t bad = 0;
  Status st;
  bool read_failed = false;
  {
    auto exclusive = block_locks_.Lock(plan.first_block(), plan.last_block(),
                                       BlockRangeLock::Mode::kExclusive);
    if (!plan.reads().empty()) st = base_->ReadBatch(plan.reads(), &bad);
    read_failed = !st.ok();
    if (!read_failed) {
      plan.Patch();
      st = base_->WriteBatch(plan.writes(), &bad);
    }
  }  // Write below takes its own locks
  if (st.ok()) return st;
  if (!read_failed && plan.owners(bad) == 1) {
    *failed = plan.first_owner(bad);
    return st;
  }
  // A block that failed to read is not read again: on a dying disk each
  // try can take seconds. The lowest request that needs it fails with the
  // read's status, as Write would have; the requests below it go by Write.
  const size_t charged = read_failed ? plan.FirstNeeding(bad) : kNone;
  const Status read_status = st;
  // Otherwise Write tells which request fails: every one of a failed
  // merged read, and those of the failing write-back group and after it.
  for (uint16_t i : round) {
    if (i >= charged) break;  // `round` ascends
    if (!read_failed && !plan.Unsure(i, bad)) continue;
    st = Write(requests[i].offset, requests[i].buf, requests[i].len);
    if (st.ok()) continue;
    *failed = i;
    return st;
  }
  if (charged == kNone) return Status::Ok();
  *failed = charged;
  return read_status;
}

}  // namespace remapfs
