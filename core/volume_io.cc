// Volume: the byte-range I/O fast path. A request holds its sectors' region
// shared, then table_mu_ shared; one that meets a failing MAIN sector or a
// pending sector lets both go and moves to the recovery in
// volume_recovery.cc, which takes its region exclusively.
//
// The table splits the request into device runs (RemapTable::ForEachRun)
// while the request holds table_mu_ shared, so the mapping of every sector
// it touches is fixed until it finishes. Runs are byte ranges, so an
// unaligned head or tail needs no read-modify-write here: both devices are
// byte-addressable. A device that needs alignment (O_DIRECT) provides it
// below this layer, and with it the exclusion of every write overlapping the
// block it rewrites: AlignedDevice does both, so a sector-sized write over a
// larger device block never reverts a neighbour's write. The Volume's own
// copies of sector data (AddBad, Remove, the partial sector of a failed
// write, scrub) hold the sectors' region exclusively, so no request's write
// lands between their read and their write.
//
// The runs of one request go to each device as one batch (BlockDevice::
// ReadBatch/WriteBatch), which a file device runs concurrently: k remapped
// sectors cost two rounds of concurrent calls (MAIN's, then the spare's),
// not 2k+1 calls one after another. A request over sectors with no remap
// is still one plain call, with no allocation: the batches live on the
// stack.
#include <spdlog/spdlog.h>

#include <array>
#include <type_traits>

#include "remapfs/volume.h"

namespace remapfs {
namespace {

// The runs of one request, gathered per device and issued in batches of up
// to kBatchRuns. The outcome is the run-by-run loop's: the status of the
// first run, in request order, that fails (each device's batch reports its
// first failing run; the earlier of the two wins). Once a run has failed,
// later runs cannot change that, so Add stops the split.
template <typename Request>
class RunBatches {
 public:
  using Byte = std::conditional_t<std::is_same_v<Request, ReadRequest>, uint8_t, const uint8_t>;
  RunBatches(BlockDevice& main, BlockDevice& spare, Byte* data)
      : devices_{&main, &spare}, data_(data) {}

  // For RemapTable::ForEachRun: Ok unless a run has failed already.
  Status Add(const DeviceRun& r) {
    if (runs_++ == 0) {
      first_ = r;  // a lone run stays one plain call (Finish)
      return Status::Ok();
    }
    if (runs_ == 2) Push(first_);
    Push(r);
    return status_;
  }

  Status Finish() {
    if (runs_ == 1) return One(*devices_[Index(first_.device)], first_);
    Issue(0);
    Issue(1);
    return status_;
  }

 private:
  static constexpr size_t kBatchRuns = 128;
  static size_t Index(DeviceRole role) { return role == DeviceRole::kMain ? 0 : 1; }

  Status One(BlockDevice& d, const DeviceRun& r) {
    if constexpr (std::is_same_v<Request, ReadRequest>) return d.Read(r.at, data_ + r.pos, r.len);
    else return d.Write(r.at, data_ + r.pos, r.len);
  }

  void Push(const DeviceRun& r) {
    const size_t d = Index(r.device);
    queued_[d][count_[d]++] = Request{r.at, data_ + r.pos, r.len};
    if (count_[d] == kBatchRuns) Issue(d);
  }

  void Issue(size_t d) {
    if (count_[d] == 0) return;
    const std::span<const Request> batch(queued_[d].data(), count_[d]);
    count_[d] = 0;
    size_t at = 0;
    Status st;
    if constexpr (std::is_same_v<Request, ReadRequest>) st = devices_[d]->ReadBatch(batch, &at);
    else st = devices_[d]->WriteBatch(batch, &at);
    if (st.ok()) return;
    const size_t pos = static_cast<Byte*>(batch[at].buf) - data_;
    if (status_.ok() || pos < failed_pos_) {
      status_ = st;
      failed_pos_ = pos;
    }
  }

  std::array<BlockDevice*, 2> devices_;  // by Index(role)
  Byte* const data_;
  size_t runs_ = 0;
  DeviceRun first_{};
  std::array<std::array<Request, kBatchRuns>, 2> queued_;
  std::array<size_t, 2> count_{};
  Status status_;
  size_t failed_pos_ = 0;  // the request offset of the run status_ is for
};

}  // namespace

void Volume::CountError(const Status& st, bool is_write) {
  std::lock_guard lock(stats_mu_);
  (is_write ? write_errors_ : read_errors_)++;
  last_error_ = st.ToString();
}

// A device EIO is what the failing-disk paths (volume_recovery.cc) handle;
// any other failure is returned as it is.
bool Volume::IsMediaError(const Status& st) { return st.IsIoError() && st.errno_value() == EIO; }

Status Volume::ReadRuns(uint64_t offset, void* buf, size_t len) const {
  RunBatches<ReadRequest> runs(*main_, *spare_, static_cast<uint8_t*>(buf));
  (void)table_->ForEachRun(offset, len, [&runs](const DeviceRun& r) { return runs.Add(r); });
  return runs.Finish();
}

Status Volume::WriteRuns(uint64_t offset, const void* buf, size_t len) {
  RunBatches<WriteRequest> runs(*main_, *spare_, static_cast<const uint8_t*>(buf));
  (void)table_->ForEachRun(offset, len, [&runs](const DeviceRun& r) { return runs.Add(r); });
  return runs.Finish();
}

Status Volume::Read(uint64_t offset, void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::InvalidArgument("read past the end of the volume");
  if (len == 0) return Status::Ok();
  const uint64_t ss = geometry().sector_size;
  const Clock::time_point start = Clock::now();  // error_recovery_time runs from here
  {
    auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                     BlockRangeLock::Mode::kShared);
    std::shared_lock lock(table_mu_);
    if (table_->RangeHasPending(offset, len))
      return Status::IoError("read of a pending sector (unreadable until rewritten)");
    Status st = ReadRuns(offset, buf, len);
    if (st.ok()) return st;
    CountError(st, false);
    if (!IsMediaError(st)) return st;
  }
  return RecoverRead(offset, buf, len, start);
}

Status Volume::Write(uint64_t offset, const void* buf, size_t len) {
  if (offset > size_bytes() || len > size_bytes() - offset)
    return Status::NoSpace("write past the end of the volume");
  if (len == 0) return Status::Ok();
  const uint64_t ss = geometry().sector_size;
  const Clock::time_point start = Clock::now();  // error_recovery_time runs from here
  bool main_failed = false;
  {
    auto region = sector_locks_.Lock(offset / ss, (offset + len - 1) / ss,
                                     BlockRangeLock::Mode::kShared);
    std::shared_lock lock(table_mu_);
    // After a commit whose outcome on disk is unknown, the slow path must
    // first make the table certain again (MetadataStore::Commit); a pending
    // sector rewritten changes the table.
    if (table_->healthy() && !table_->RangeHasPending(offset, len)) {
      Status st = WriteRuns(offset, buf, len);
      if (st.ok()) return st;
      CountError(st, true);
      if (!IsMediaError(st)) return st;
      main_failed = true;
    }
  }  // the recovery takes the region exclusively
  return RecoverWrite(offset, buf, len, start, main_failed);
}

// A failed flush is a writeback error of earlier writes (with buffered I/O
// it surfaces only here, and fdatasync reports it just once): it goes to the
// caller and into write_errors / last_error, never swallowed.
Status Volume::Sync() {
  Status st = main_->Flush().WithContext("flush main");
  if (st.ok()) st = spare_->Flush().WithContext("flush spare");
  if (!st.ok()) CountError(st, true);
  return st;
}

}  // namespace remapfs
