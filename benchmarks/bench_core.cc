// Core benchmarks. Prints figures as ratios against a baseline measured in
// the same run; it asserts nothing about time (these machines are noisy).
//
//  1. Spare allocation cost as the spare grows: ns per Allocate+Free at
//     capacities 2^10 .. 2^22 slots, and the ratio to the smallest. O(1) or
//     O(log n) allocation keeps the ratio near 1 (a table scan would grow it
//     ~4000x).
//  2. Volume I/O overhead: 4 KiB random reads and writes through a Volume on
//     memory devices, against the same requests on the bare memory device,
//     with no remaps and with 1000 scattered remaps.
//  3. CRC32C throughput, the cost of `remapfs check` on a big spare: MB/s of
//     each implementation (core/crc32c_impl.h) over 64 MiB in 4 KiB sectors,
//     one call a sector as the checker makes them, and the ratio to the
//     byte-at-a-time table.
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "crc32c_impl.h"  // internal: bench_core has core/ on its include path
#include "remapfs/block_device.h"
#include "remapfs/spare_allocator.h"
#include "remapfs/volume.h"

using namespace remapfs;
using Clock = std::chrono::steady_clock;

namespace {

double NsPerOp(Clock::time_point start, uint64_t ops) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / ops;
}

double AllocatorNsPerOp(uint64_t slots) {
  SpareAllocator alloc(slots);
  uint64_t slot = 0;
  for (uint64_t i = 0; i < slots / 2; ++i) (void)alloc.Allocate(&slot);
  std::mt19937_64 rng(1);
  const uint64_t ops = 200000;
  auto start = Clock::now();
  for (uint64_t i = 0; i < ops; ++i) {
    uint64_t victim = rng() % (slots / 2);
    if (alloc.IsUsed(victim)) (void)alloc.Free(victim);
    (void)alloc.Allocate(&slot);
  }
  return NsPerOp(start, ops);
}

void BenchAllocator() {
  std::printf("allocator: Free+Allocate cost by spare capacity\n");
  double base = 0;
  for (uint64_t slots = 1 << 10; slots <= (1u << 22); slots <<= 4) {
    double ns = AllocatorNsPerOp(slots);
    if (base == 0) base = ns;
    std::printf("  slots %8llu: %7.1f ns/op  ratio %.2f\n", static_cast<unsigned long long>(slots),
                ns, ns / base);
  }
}

double IoNsPerOp(BlockDevice& dev, uint64_t size, bool write) {
  std::vector<uint8_t> buf(4096, 0x5a);
  std::mt19937_64 rng(2);
  const uint64_t ops = 200000;
  auto start = Clock::now();
  for (uint64_t i = 0; i < ops; ++i) {
    uint64_t off = (rng() % (size / 4096)) * 4096;
    Status st = write ? dev.Write(off, buf.data(), buf.size())
                      : dev.Read(off, buf.data(), buf.size());
    if (!st.ok()) std::abort();
  }
  return NsPerOp(start, ops);
}

// Adapts a Volume to the BlockDevice interface so both run the same loop.
class VolumeDevice : public BlockDevice {
 public:
  explicit VolumeDevice(Volume* v) : v_(v) {}
  Status Read(uint64_t o, void* b, size_t n) override { return v_->Read(o, b, n); }
  Status Write(uint64_t o, const void* b, size_t n) override { return v_->Write(o, b, n); }
  Status Flush() override { return v_->Sync(); }
  uint64_t Size() const override { return v_->size_bytes(); }

 private:
  Volume* v_;
};

void BenchVolume() {
  const uint64_t main_bytes = 256ull << 20;
  auto raw = NewMemoryDevice(main_bytes);
  std::unique_ptr<Volume> volume;
  if (!NewMemoryVolume(main_bytes, 8ull << 20, &volume).ok()) std::abort();
  VolumeDevice vdev(volume.get());
  std::printf("volume: 4 KiB random I/O, ns/op (ratio to the bare memory device)\n");
  const double raw_r = IoNsPerOp(*raw, main_bytes, false);
  const double raw_w = IoNsPerOp(*raw, main_bytes, true);
  auto report = [&](const char* what) {
    double r = IoNsPerOp(vdev, main_bytes, false), w = IoNsPerOp(vdev, main_bytes, true);
    std::printf("  %-18s read %6.0f (x%.2f)  write %6.0f (x%.2f)\n", what, r, r / raw_r, w,
                w / raw_w);
  };
  std::printf("  %-18s read %6.0f          write %6.0f\n", "bare device", raw_r, raw_w);
  report("no remaps");
  std::vector<SectorRange> bad;
  for (uint64_t i = 0; i < 1000; ++i) bad.push_back({i * 521, i * 521});
  if (!volume->AddBad(bad).ok()) std::abort();
  report("1000 remaps");
}

// The CRCs land here: a volatile store the compiler must keep, so it must
// also keep the calls that compute them.
volatile uint32_t crc_sink;

double Crc32cMBPerSecond(uint32_t (*crc)(const void*, size_t, uint32_t),
                         const std::vector<uint8_t>& data) {
  const size_t sector = 4096;
  uint32_t sink = 0;
  auto start = Clock::now();
  for (size_t off = 0; off < data.size(); off += sector) sink ^= crc(data.data() + off, sector, 0);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  crc_sink = sink;
  return data.size() / seconds / 1e6;
}

void BenchCrc32c() {
  std::vector<uint8_t> data(64ull << 20);
  std::mt19937_64 rng(3);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  std::printf("crc32c: 64 MiB in 4 KiB sectors, MB/s (ratio to byte-at-a-time)\n");
  const double base = Crc32cMBPerSecond(Crc32cBytewise, data);
  std::printf("  %-14s %8.0f\n", "byte-at-a-time", base);
  const double slicing = Crc32cMBPerSecond(Crc32cPortable, data);
  std::printf("  %-14s %8.0f (x%.1f)\n", "slicing-by-8", slicing, slicing / base);
  if (!HardwareCrc32cAvailable()) {
    std::printf("  %-14s no SSE4.2 on this CPU: Crc32c uses slicing-by-8\n", "hardware");
    return;
  }
  const double hardware = Crc32cMBPerSecond(Crc32cHardware, data);
  std::printf("  %-14s %8.0f (x%.1f)\n", "hardware", hardware, hardware / base);
}

}  // namespace

int main() {
  BenchAllocator();
  BenchVolume();
  BenchCrc32c();
  return 0;
}
