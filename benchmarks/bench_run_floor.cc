// The device floor of bench_remapped_io (bench_run_floor.h).
#include "bench_run_floor.h"

#include <array>
#include <memory>
#include <span>

#include "bench_files.h"
#include "remapfs/metadata.h"

namespace remapfs::bench {
namespace {

// RunBatches' batch size in core/volume_io.cc: keep the two equal.
constexpr size_t kBatchRuns = 128;

// One device's queued runs, issued as a batch when full and at the end.
class Queue {
 public:
  Queue(BlockDevice& device, uint8_t* data, bool write)
      : device_(device), data_(data), write_(write) {}

  Status Push(const DeviceRun& r) {
    reads_[count_] = ReadRequest{r.at, data_ + r.pos, r.len};
    writes_[count_] = WriteRequest{r.at, data_ + r.pos, r.len};
    return ++count_ == kBatchRuns ? Issue() : Status::Ok();
  }

  Status Issue() {
    const size_t n = count_;
    count_ = 0;
    if (n == 0) return Status::Ok();
    return write_ ? device_.WriteBatch(std::span<const WriteRequest>(writes_.data(), n), nullptr)
                  : device_.ReadBatch(std::span<const ReadRequest>(reads_.data(), n), nullptr);
  }

 private:
  BlockDevice& device_;
  uint8_t* const data_;
  const bool write_;
  size_t count_ = 0;
  std::array<ReadRequest, kBatchRuns> reads_;
  std::array<WriteRequest, kBatchRuns> writes_;
};

}  // namespace

RunPlan RunPlan::Load(const std::string& spare, uint64_t main_bytes, size_t block) {
  FileDeviceOptions device_options;
  device_options.read_only = true;
  device_options.direct_io = true;  // no page cache of the spare beside the jobs' O_DIRECT
  device_options.exclusive_lock = false;
  std::unique_ptr<BlockDevice> device;
  Check(OpenFileDevice(spare, device_options, &device), spare.c_str());
  MetadataOpenOptions options;
  options.repair = false;
  options.expected_main_bytes = main_bytes;
  std::unique_ptr<MetadataStore> metadata;
  Check(MetadataStore::Open(device.get(), options, &metadata), "floor: load metadata");
  std::unique_ptr<RemapTable> table;
  Check(RemapTable::Load(std::move(metadata), &table), "floor: load table");
  RunPlan plan;
  plan.block_ = block;
  for (uint64_t at = 0; at + block <= main_bytes; at += block)
    plan.runs_.push_back(table->Runs(at, block));
  return plan;  // the table, which borrows `device`, goes first
}

double RunPlan::MeanRuns() const {
  size_t n = 0;
  for (const auto& r : runs_) n += r.size();
  return runs_.empty() ? 0 : static_cast<double>(n) / runs_.size();
}

Status IssueRuns(BlockDevice& main, BlockDevice& spare, const std::vector<DeviceRun>& runs,
                 uint8_t* data, bool write) {
  if (runs.size() == 1) {  // the Volume's lone run: one plain call, no batch
    const DeviceRun& r = runs[0];
    BlockDevice& d = r.device == DeviceRole::kMain ? main : spare;
    return write ? d.Write(r.at, data + r.pos, r.len) : d.Read(r.at, data + r.pos, r.len);
  }
  Queue main_queue(main, data, write), spare_queue(spare, data, write);
  for (const DeviceRun& r : runs)
    REMAPFS_RETURN_IF_ERROR((r.device == DeviceRole::kMain ? main_queue : spare_queue).Push(r));
  REMAPFS_RETURN_IF_ERROR(main_queue.Issue());
  return spare_queue.Issue();
}

}  // namespace remapfs::bench
