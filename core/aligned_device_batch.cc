// AlignedDevice::ReadBatch/WriteBatch: as many of a batch's requests as can
// go to the base in one base batch (aligned_device.h says which), the rest
// by Read/Write after it.
//
// Outcome. The contract (block_device.h) asks for the status of the
// lowest-index request that fails, as Read/Write would give it. The base
// batch reports only its own lowest failing entry, so its entries are
// ordered by the lowest caller index they serve: every entry before the
// failing one succeeded, and with it every request of a lower index than
// that entry's. An entry that serves one request is the very base call
// Read/Write makes for it, so its status is the answer as it stands (a
// dying disk is not asked twice). An entry that serves several (merged
// spans) failed for one of them, which Read says, request by request, from
// the lowest not yet known to be good. Requests left to Read/Write run last,
// in index order, only while they could still be the lowest failure.
//
// Locking is Write's (aligned_device.cc): whole-block writes hold their
// blocks shared, here the one range from the batch's first block to its
// last (one range per thread at a time keeps BlockRangeLock free of
// deadlock); the partial-block writes take their blocks exclusively, one
// range per round, after the batch has let its range go. Reads take no
// lock.
#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <type_traits>

#include "batch_slices.h"
#include "bounce_buffer.h"
#include "remapfs/aligned_device.h"

namespace remapfs {
namespace {

constexpr size_t kNone = ~size_t{0};

// Runs requests[i] for each i in `which` (ascending) that is below
// *lowest, by `one`, stopping at the first failure, which becomes *lowest.
template <typename Request, typename One>
void RunEachBelow(std::span<const Request> requests, const bool* which, size_t* lowest,
                  Status* status, One one) {
  for (size_t i = 0; i < requests.size() && i < *lowest; ++i) {
    if (!which[i]) continue;
    Status st = one(requests[i]);
    if (st.ok()) continue;
    *lowest = i;
    *status = st;
  }
}

}  // namespace

Status AlignedDevice::ReadBatch(std::span<const ReadRequest> requests, size_t* failed) {
  return RunBatch(requests, failed);
}

Status AlignedDevice::WriteBatch(std::span<const WriteRequest> requests, size_t* failed) {
  return RunBatch(requests, failed);
}

template <typename Request>
Status AlignedDevice::RunBatch(std::span<const Request> requests, size_t* failed) {
  return RunInSlices(requests, failed, size_, "device", kBatchSlice,
                     [this](std::span<const Request> slice, size_t* at) {
                       const bool plain = slice.size() == 1 || ThreadBounceBuffer() == nullptr;
                       if constexpr (std::is_same_v<Request, WriteRequest>) {
                         return plain ? BlockDevice::WriteBatch(slice, at) : WriteSlice(slice, at);
                       } else {
                         return plain ? BlockDevice::ReadBatch(slice, at) : ReadSlice(slice, at);
                       }
                     });
}

namespace {

// How one slice of a read batch goes to the base: one entry per aligned
// request and one per span of the others, spans that overlap or touch
// merged, each span read into the arena. Entries are ordered by the lowest
// request index each serves (see the top of this file).
class ReadPlan {
 public:
  ReadPlan(std::span<const ReadRequest> requests, uint32_t alignment, uint8_t* arena)
      : requests_(requests), mask_(alignment - 1), arena_(arena) {
    std::array<uint16_t, kSlice> unaligned;
    size_t n_unaligned = 0;
    for (size_t i = 0; i < requests.size(); ++i) {
      const ReadRequest& r = requests[i];
      if (r.len == 0) continue;
      if (((r.offset | r.len | reinterpret_cast<uintptr_t>(r.buf)) & mask_) != 0) {
        unaligned[n_unaligned++] = static_cast<uint16_t>(i);
        continue;
      }
      entry_of_[i] = n_entries_;
      entries_[n_entries_++] = Entry{r, i, 1};
    }
    std::sort(unaligned.begin(), unaligned.begin() + n_unaligned,
              [&](uint16_t a, uint16_t b) { return SpanBegin(a) < SpanBegin(b); });
    for (size_t u = 0; u < n_unaligned; ++u) AddToSpan(unaligned[u]);
    Order();
  }

  std::span<const ReadRequest> base() const { return {base_.data(), n_entries_}; }
  // After the base batch failed at entry `bad` (or base().size() if none):
  // copies out what the entries before it read.
  void CopyOut(size_t bad) const {
    for (size_t i = 0; i < requests_.size(); ++i)
      if (bounced_[i] != nullptr && position_[entry_of_[i]] < bad)
        std::memcpy(requests_[i].buf, bounced_[i], requests_[i].len);
  }
  size_t owners(size_t bad) const { return entries_[order_[bad]].owners; }
  size_t first_owner(size_t bad) const { return entries_[order_[bad]].first_owner; }
  // Request i went down in entry `bad` or after it: unknown whether it read.
  bool Unsure(size_t i, size_t bad) const {
    return requests_[i].len > 0 && !by_read_[i] && position_[entry_of_[i]] >= bad;
  }
  // Requests that did not fit the arena: Read's.
  const bool* by_read() const { return by_read_.data(); }

 private:
  static constexpr size_t kSlice = 128;
  struct Entry {
    ReadRequest base;
    size_t first_owner;  // the lowest request index it serves
    size_t owners;
  };

  uint64_t SpanBegin(size_t i) const { return requests_[i].offset & ~mask_; }

  // Request i joins the open span if their blocks overlap or touch (and the
  // arena holds the union), else opens a new one.
  void AddToSpan(size_t i) {
    const uint64_t b = SpanBegin(i), e = (requests_[i].offset + requests_[i].len + mask_) & ~mask_;
    ReadRequest* span = open_ == kNone ? nullptr : &entries_[open_].base;
    if (span != nullptr && b <= span->offset + span->len &&
        open_at_ + (std::max(e, span->offset + span->len) - span->offset) <= kBounceBytes) {
      span->len = std::max(e, span->offset + span->len) - span->offset;
      entries_[open_].first_owner = std::min(entries_[open_].first_owner, i);
      ++entries_[open_].owners;
    } else if (used_ + (e - b) <= kBounceBytes) {
      open_ = n_entries_++;
      open_at_ = used_;
      entries_[open_] = Entry{ReadRequest{b, arena_ + open_at_, e - b}, i, 1};
    } else {
      by_read_[i] = true;
      return;
    }
    used_ = open_at_ + entries_[open_].base.len;
    entry_of_[i] = open_;
    bounced_[i] = arena_ + open_at_ + (requests_[i].offset - entries_[open_].base.offset);
  }

  void Order() {
    std::iota(order_.begin(), order_.begin() + n_entries_, 0);
    std::sort(order_.begin(), order_.begin() + n_entries_, [&](uint16_t a, uint16_t b) {
      return entries_[a].first_owner < entries_[b].first_owner;
    });
    for (size_t k = 0; k < n_entries_; ++k) {
      base_[k] = entries_[order_[k]].base;
      position_[order_[k]] = k;
    }
  }

  const std::span<const ReadRequest> requests_;
  const uint64_t mask_;
  uint8_t* const arena_;
  std::array<Entry, kSlice> entries_;
  size_t n_entries_ = 0;
  size_t open_ = kNone, open_at_ = 0, used_ = 0;  // the span being extended; arena bytes
  std::array<size_t, kSlice> entry_of_;           // the entry serving request i
  std::array<uint8_t*, kSlice> bounced_{};        // where request i's bytes land in the arena
  std::array<bool, kSlice> by_read_{};
  std::array<uint16_t, kSlice> order_;   // entries by first owner
  std::array<size_t, kSlice> position_;  // of entry k in base_
  std::array<ReadRequest, kSlice> base_;
};

}  // namespace

Status AlignedDevice::ReadSlice(std::span<const ReadRequest> requests, size_t* failed) {
  static_assert(kBatchSlice <= 128, "ReadPlan holds 128 requests");
  const ReadPlan plan(requests, alignment_, ThreadBounceBuffer());
  const size_t n_base = plan.base().size();
  size_t bad = n_base;  // the base's failing entry
  Status st = n_base == 0 ? Status::Ok() : base_->ReadBatch(plan.base(), &bad);
  if (st.ok()) bad = n_base;
  plan.CopyOut(bad);  // before any Read below reuses the arena

  size_t lowest = kNone;
  Status status;
  auto read = [this](const ReadRequest& r) { return Read(r.offset, r.buf, r.len); };
  if (bad < n_base && plan.owners(bad) == 1) {
    lowest = plan.first_owner(bad);
    status = st;
  } else if (bad < n_base) {  // a merged span: Read tells which request fails
    std::array<bool, kBatchSlice> unsure{};
    for (size_t i = 0; i < requests.size(); ++i) unsure[i] = plan.Unsure(i, bad);
    RunEachBelow(requests, unsure.data(), &lowest, &status, read);
  }
  RunEachBelow(requests, plan.by_read(), &lowest, &status, read);
  if (lowest != kNone) *failed = lowest;
  return status;
}

// Whole-block requests in one base batch, in request order, under one
// shared lock; partial-block ones after it, read-modify-write in base
// batches (aligned_device_rmw.cc); what does not fit the bounce buffer by
// Write.
Status AlignedDevice::WriteSlice(std::span<const WriteRequest> requests, size_t* failed) {
  const size_t n = requests.size();
  uint8_t* const arena = ThreadBounceBuffer();
  std::array<WriteRequest, kBatchSlice> base;
  std::array<size_t, kBatchSlice> owner;
  std::array<bool, kBatchSlice> partial{}, by_write{};
  size_t n_base = 0, used = 0;
  uint64_t first = ~uint64_t{0}, end = 0;  // bytes the batch's blocks span
  for (size_t i = 0; i < n; ++i) {
    const WriteRequest& r = requests[i];
    if (r.len == 0) continue;
    if (!IsAligned(r.offset) || !IsAligned(r.len)) {
      partial[i] = true;
      continue;
    }
    if (!IsAligned(r.buf) && used + r.len > kBounceBytes) {
      by_write[i] = true;
      continue;
    }
    const void* from = r.buf;
    if (!IsAligned(r.buf)) {
      std::memcpy(arena + used, r.buf, r.len);
      from = arena + used;
      used += r.len;
    }
    owner[n_base] = i;
    base[n_base++] = WriteRequest{r.offset, from, r.len};
    first = std::min(first, r.offset);
    end = std::max(end, r.offset + r.len);
  }
  size_t lowest = kNone;
  Status status;
  if (n_base > 0) {
    size_t bad = 0;
    auto shared = LockBlocks(first, end - first, BlockRangeLock::Mode::kShared);
    status = base_->WriteBatch(std::span(base.data(), n_base), &bad);
    if (!status.ok()) lowest = owner[bad];
  }
  WritePartialBlocks(requests, partial.data(), &lowest, &status);  // reuses the arena
  RunEachBelow(requests, by_write.data(), &lowest, &status,
               [this](const WriteRequest& r) { return Write(r.offset, r.buf, r.len); });
  if (lowest != kNone) *failed = lowest;
  return status;
}

}  // namespace remapfs
