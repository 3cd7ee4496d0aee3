// The device floor of bench_bulk_remap's scattered remove
// (bench_write_floor.h).
#include "bench_write_floor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "bench_files.h"

namespace remapfs::bench {
namespace {

constexpr uint32_t kSs = 512;

// Writes `sectors` through the page cache, makes them durable and drops
// them from the cache, so an O_DIRECT device finds no cached page there.
void Prewrite(const std::string& path, const std::vector<uint64_t>& sectors) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) Check(Status::FromErrno(errno, path), "floor: open");
  const std::vector<uint8_t> sector(kSs, 0xa5);
  for (uint64_t s : sectors)
    if (::pwrite(fd, sector.data(), kSs, s * kSs) != kSs)
      Check(Status::FromErrno(errno, path), "floor: prewrite");
  if (::fdatasync(fd) != 0) Check(Status::FromErrno(errno, path), "floor: fdatasync");
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

// Reads one sector at each of `sectors` through `dev` in ReadBatches of
// 64, as add_bad read them from MAIN before remove: buffered, this leaves
// their pages in the page cache, as MAIN's are; O_DIRECT, nothing.
void ReadAsAddBadDid(BlockDevice& dev, const std::vector<uint64_t>& sectors) {
  constexpr size_t kGroup = 64;
  std::vector<uint8_t> buf(kGroup * kSs);
  std::vector<ReadRequest> batch;
  for (size_t g = 0; g < sectors.size(); g += kGroup) {
    batch.clear();
    for (size_t i = g; i < std::min(sectors.size(), g + kGroup); ++i)
      batch.push_back({sectors[i] * kSs, buf.data() + (i - g) * kSs, kSs});
    Check(dev.ReadBatch(batch, nullptr), "floor: read");
  }
}

}  // namespace

double ScatteredWriteFloorSeconds(const std::string& scratch, uint64_t file_bytes,
                                  const DeviceOpener& open, std::vector<uint64_t> sectors,
                                  const std::vector<uint64_t>& prewritten, size_t batch_runs) {
  CreateFile(scratch, file_bytes);
  Prewrite(scratch, prewritten);
  std::unique_ptr<BlockDevice> dev = open(scratch);
  std::sort(sectors.begin(), sectors.end());
  ReadAsAddBadDid(*dev, sectors);
  std::vector<uint8_t> buf(batch_runs * kSs, 0x5a);
  std::vector<WriteRequest> batch;
  const auto start = std::chrono::steady_clock::now();
  for (size_t g = 0; g < sectors.size(); g += batch_runs) {
    batch.clear();
    for (size_t i = g; i < std::min(sectors.size(), g + batch_runs); ++i)
      batch.push_back({sectors[i] * kSs, buf.data() + (i - g) * kSs, kSs});
    Check(dev->WriteBatch(batch, nullptr), "floor: write");
  }
  Check(dev->Flush(), "floor: flush");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  dev.reset();
  unlink(scratch.c_str());
  return seconds;
}

}  // namespace remapfs::bench
