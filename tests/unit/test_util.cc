#include "test_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "remapfs/format.h"

namespace remapfs::testing {

std::string TableText(const MetadataStore& store) {
  std::ostringstream os;
  for (uint64_t i = 0; i < store.slot_count(); ++i) {
    const SlotEntry e = store.slot(i);
    if (e == SlotEntry{}) continue;
    os << i << ':' << e.used << e.pending << ':' << e.main_sector << '\n';
  }
  return os.str();
}

std::shared_ptr<BlockDevice> SpareWithRemapsBeforeGrow(uint64_t spare_bytes,
                                                       uint64_t device_sectors) {
  std::shared_ptr<BlockDevice> start = NewMemoryDevice(device_sectors * 512);
  auto formatted = NewMemoryDevice(spare_bytes);
  std::unique_ptr<MetadataStore> md;
  REQUIRE_OK(MetadataStore::Format(formatted.get(), MakeGeometry(512, 1 << 20, spare_bytes), &md));
  std::vector<SlotChange> changes;
  for (uint64_t i = 0; i < 300; ++i) changes.push_back({i, SlotEntry{true, false, 1000 + i}});
  REQUIRE_OK(md->Commit(changes));
  const std::vector<uint8_t> head = Snapshot(formatted.get());
  REQUIRE_OK(start->Write(0, head.data(), head.size()));
  return start;
}

ScratchDir::ScratchDir() {
  const char* tmp = getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/remapfs-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

TempDirIn::TempDirIn(const char* parent) {
  std::string tmpl = std::string(parent) + "/remapfs-test-XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
}

TempDirIn::~TempDirIn() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::unique_ptr<AlignedDevice> WrapAlignedOrFail(std::unique_ptr<BlockDevice> base,
                                                 uint32_t alignment) {
  std::unique_ptr<AlignedDevice> out;
  REQUIRE_OK(AlignedDevice::Wrap(std::move(base), alignment, &out));
  return out;
}

void CreateZeroFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  ::close(fd);
}

std::unique_ptr<BlockDevice> OpenFileDeviceOrFail(const std::string& path,
                                                  const FileDeviceOptions& options) {
  std::unique_ptr<BlockDevice> dev;
  REQUIRE_OK(OpenFileDevice(path, options, &dev));
  return dev;
}

uint8_t PatternByte(uint64_t offset, uint64_t seed) {
  uint64_t x = offset * 0x9E3779B97F4A7C15ull + (seed + 1) * 0xD1B54A32D192ED03ull;
  x ^= x >> 29;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 32;
  return static_cast<uint8_t>(x);
}

std::vector<uint8_t> Pattern(uint64_t offset, size_t len, uint64_t seed) {
  std::vector<uint8_t> out(len);
  for (size_t i = 0; i < len; ++i) out[i] = PatternByte(offset + i, seed);
  return out;
}

void FillPattern(BlockDevice* dev, uint64_t seed) {
  const uint64_t size = dev->Size();
  constexpr uint64_t kChunk = 1 << 20;
  for (uint64_t off = 0; off < size; off += kChunk) {
    const size_t len = static_cast<size_t>(std::min(kChunk, size - off));
    std::vector<uint8_t> buf = Pattern(off, len, seed);
    REQUIRE_OK(dev->Write(off, buf.data(), len));
  }
}

std::vector<uint8_t> ReadRange(BlockDevice* dev, uint64_t offset, size_t len) {
  std::vector<uint8_t> buf(len);
  REQUIRE_OK(dev->Read(offset, buf.data(), len));
  return buf;
}

std::vector<uint8_t> ReadVolume(Volume& v, uint64_t offset, size_t len) {
  std::vector<uint8_t> buf(len);
  REQUIRE_OK(v.Read(offset, buf.data(), len));
  return buf;
}

std::vector<uint8_t> Snapshot(BlockDevice* dev) {
  return ReadRange(dev, 0, static_cast<size_t>(dev->Size()));
}

std::string ByteDiff(const std::vector<uint8_t>& actual, const std::vector<uint8_t>& expected) {
  std::ostringstream os;
  if (actual.size() != expected.size()) {
    os << "size " << actual.size() << " != " << expected.size();
    return os.str();
  }
  const auto mismatch = std::mismatch(actual.begin(), actual.end(), expected.begin());
  if (mismatch.first == actual.end()) return "";
  const size_t at = mismatch.first - actual.begin();
  size_t count = 0;
  for (size_t i = at; i < actual.size(); ++i) count += actual[i] != expected[i];
  os << count << " bytes differ, first at byte " << at << " (got " << int(actual[at]) << ", want "
     << int(expected[at]) << ")";
  return os.str();
}

std::vector<SectorRange> Sectors(std::initializer_list<uint64_t> sectors) {
  return Sectors(std::vector<uint64_t>(sectors));
}

std::vector<SectorRange> Sectors(const std::vector<uint64_t>& sectors) {
  std::vector<SectorRange> out;
  for (uint64_t s : sectors) out.push_back(SectorRange{s, s});
  return out;
}

std::vector<SectorRange> SectorRun(uint64_t first, uint64_t count) {
  return {SectorRange{first, first + count - 1}};
}

std::string Describe(const std::vector<RemapEntry>& remaps) {
  std::ostringstream os;
  for (const RemapEntry& r : remaps) {
    os << r.main_sector << ' ' << r.spare_sector << ' ' << (r.pending ? "pending" : "active")
       << '\n';
  }
  return os.str();
}

std::string Describe(const std::vector<Extent>& extents) {
  std::ostringstream os;
  for (const Extent& e : extents) {
    os << e.first << ' ' << e.last << ' ' << e.what << '\n';
  }
  return os.str();
}

Geometry MakeGeometry(uint32_t sector_size, uint64_t main_bytes, uint64_t spare_bytes,
                      Strategy strategy) {
  Geometry g;
  g.sector_size = sector_size;
  g.main_sectors = main_bytes / sector_size;
  g.spare_sectors = spare_bytes / sector_size;
  REQUIRE_OK(ComputePlacement(sector_size, g.spare_sectors, strategy, &g.placement));
  return g;
}

uint64_t SpecCopyLength(uint32_t sector_size, uint64_t spare_sectors, uint64_t copies) {
  const uint64_t per_sector = format::SlotsPerTableSector(sector_size);
  for (uint64_t l = format::kMinCopySectors; l * copies < spare_sectors; ++l) {
    const uint64_t slots = spare_sectors - l * copies;
    const uint64_t table = (slots + per_sector - 1) / per_sector;
    if (1 + table <= l) return l;
  }
  FAIL("no copy length fits");
  return 0;
}

MemVolume::MemVolume(const MemVolumeOptions& options) : options_(options) {
  main_mem_ = NewMemoryDevice(options.main_bytes);
  spare_mem_ = NewMemoryDevice(options.spare_bytes);
  FillPattern(main_mem_.get(), options.main_seed);
  const Geometry g = MakeGeometry(options.sector_size, options.main_bytes, options.spare_bytes,
                                  options.strategy);
  std::unique_ptr<MetadataStore> store;
  REQUIRE_OK(MetadataStore::Format(spare_mem_.get(), g, &store));
  REQUIRE_OK(Reopen());
}

MemVolume::~MemVolume() { Close(); }

void MemVolume::Close() {
  volume_.reset();
  main_fault_ = spare_fault_ = nullptr;
  main_count_ = spare_count_ = nullptr;
}

Status MemVolume::Reopen() {
  Close();
  auto main_fault = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(main_mem_),
                                                   options_.sector_size);
  auto spare_fault = std::make_unique<FaultyDevice>(std::make_unique<SharedDevice>(spare_mem_),
                                                    options_.sector_size);
  FaultyDevice* mf = main_fault.get();
  FaultyDevice* sf = spare_fault.get();
  auto main_count = std::make_unique<CountingDevice>(std::move(main_fault));
  auto spare_count = std::make_unique<CountingDevice>(std::move(spare_fault));
  CountingDevice* mc = main_count.get();
  CountingDevice* sc = spare_count.get();
  Status st = Volume::Open(std::move(main_count), std::move(spare_count), &volume_);
  if (!st.ok()) return st;
  main_fault_ = mf;
  spare_fault_ = sf;
  main_count_ = mc;
  spare_count_ = sc;
  return st;
}

Status MemVolume::InspectMetadata(std::unique_ptr<MetadataStore>* out, bool repair) {
  MetadataOpenOptions opts;
  opts.repair = repair;
  opts.expected_main_bytes = options_.main_bytes;
  return MetadataStore::Open(spare_mem_.get(), opts, out);
}

}  // namespace remapfs::testing
