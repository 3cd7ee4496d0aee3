// Writes the binary seed corpora of the metadata harnesses (the text ones
// are written by hand): valid header sectors, table sectors and small
// spares, so the fuzzers start from inputs that pass every check.
//
// Run once by hand and commit the output (tests/fuzz/README.md says how):
// a format draws a random volume id and a clock-based generation, so
// generating at build time would change the corpus, and every saved crash
// input would stop matching its seeds, on each build.
//
//   make_fuzz_seeds tests/fuzz/corpus
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "crc32c.h"
#include "metadata_codec.h"
#include "remapfs/block_device.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"

using namespace remapfs;
using Bytes = std::vector<uint8_t>;

namespace {

void Must(const Status& st, const char* what) {
  if (st.ok()) return;
  std::fprintf(stderr, "make_fuzz_seeds: %s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

void WriteFile(const std::string& path, const Bytes& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (!out) {
    std::fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

Geometry MakeGeometry(uint32_t sector_size, uint64_t main_sectors, uint64_t spare_sectors,
                      Strategy strategy = Strategy::kAuto) {
  Geometry g;
  g.sector_size = sector_size;
  g.main_sectors = main_sectors;
  g.spare_sectors = spare_sectors;
  Must(ComputePlacement(sector_size, spare_sectors, strategy, &g.placement), "placement");
  return g;
}

codec::Header MakeHeader(const Geometry& g, uint32_t copy, uint64_t sequence) {
  codec::Header h;
  h.geometry = g;
  h.copy_index = copy;
  h.sequence = sequence;
  h.slot_count = g.spare_capacity();
  h.table_sectors = TableSectorsFor(g.sector_size, h.slot_count);
  h.binding.volume_id = {0x52, 0x45, 0x4d, 0x41, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  h.binding.generation = 1764547200000000000ull;
  h.main_id = "dev=2049,ino=131074,size=1048576";
  h.main_path = "/srv/images/disk.img";
  return h;
}

Bytes EncodedHeader(const codec::Header& h) {
  Bytes out(h.geometry.sector_size);
  codec::EncodeHeader(h, out.data());
  return out;
}

// A version-1 header: no generation, MAIN identity or path.
Bytes LegacyHeader(codec::Header h) {
  h.binding.generation = 0;
  h.main_id.clear();
  h.main_path.clear();
  Bytes out = EncodedHeader(h);
  const uint32_t version = format::kVersionLegacy;
  std::memcpy(out.data() + format::kOffVersion, &version, sizeof version);
  const uint32_t crc = Crc32c(out.data(), format::kOffHeaderCrc);
  std::memcpy(out.data() + format::kOffHeaderCrc, &crc, sizeof crc);
  return out;
}

void WriteHeaderSeeds(const std::string& dir) {
  const Geometry minimal = MakeGeometry(512, 2048, 128);
  WriteFile(dir + "/v2_minimal_copy0", EncodedHeader(MakeHeader(minimal, 0, 1)));
  WriteFile(dir + "/v2_minimal_copy7", EncodedHeader(MakeHeader(minimal, 7, 42)));
  WriteFile(dir + "/v2_linear_4k",
            EncodedHeader(MakeHeader(MakeGeometry(4096, 1 << 20, 2048), 3, 9)));
  WriteFile(dir + "/v2_geometric",
            EncodedHeader(MakeHeader(MakeGeometry(512, 1 << 24, 1 << 16), 2, 7)));
  WriteFile(dir + "/v1_legacy", LegacyHeader(MakeHeader(MakeGeometry(512, 4096, 1024), 1, 3)));
}

// Prefix of table_sector_fuzz.cc, then an encoded table sector.
Bytes TableSeed(uint8_t flags, uint32_t index, uint64_t max_sequence, uint16_t slots,
                uint64_t sequence) {
  const uint32_t ss = (flags & 1) ? 4096 : 512;
  codec::Binding binding = MakeHeader(MakeGeometry(512, 2048, 128), 0, 1).binding;
  std::vector<uint64_t> table(slots);
  for (uint64_t s = 0; s < slots; s += 3)
    table[s] = EncodeSlot(SlotEntry{true, s % 2 == 1, 100 + s});
  Bytes sector(ss);
  codec::EncodeTableSector(table, index, sequence, ss, binding, sector.data());
  if (flags & 2) {  // version 1: unseeded CRC, generation 0
    binding.version = format::kVersionLegacy;
    binding.generation = 0;
    const size_t at = ss - format::kTrailerBytes + format::kTrailerOffCrc;
    const uint32_t crc = Crc32c(sector.data(), at, 0);
    std::memcpy(sector.data() + at, &crc, sizeof crc);
  }
  Bytes out(39);
  out[0] = flags;
  std::memcpy(&out[1], &index, 4);
  std::memcpy(&out[5], &max_sequence, 8);
  std::memcpy(&out[13], &slots, 2);
  std::memcpy(&out[15], binding.volume_id.data(), 16);
  std::memcpy(&out[31], &binding.generation, 8);
  out.insert(out.end(), sector.begin(), sector.end());
  return out;
}

void WriteTableSeeds(const std::string& dir) {
  WriteFile(dir + "/first_sector_512", TableSeed(0, 0, 5, 100, 5));
  WriteFile(dir + "/second_sector_512", TableSeed(0, 1, 9, 150, 4));
  WriteFile(dir + "/sector_4k", TableSeed(1, 0, 2, 1000, 2));
  WriteFile(dir + "/legacy_512", TableSeed(2, 0, 1, 60, 1));
}

Bytes Image(BlockDevice* dev, uint8_t mode) {
  Bytes out(1 + dev->Size());
  out[0] = mode;
  Must(dev->Read(0, out.data() + 1, dev->Size()), "read image");
  return out;
}

void WriteOpenSeeds(const std::string& dir) {
  const Geometry g = MakeGeometry(512, 256, 96);  // minimal: 8 copies of 8
  std::unique_ptr<BlockDevice> dev = NewMemoryDevice(g.spare_sectors * 512);
  std::unique_ptr<MetadataStore> store;
  Must(MetadataStore::Format(dev.get(), g, MainBinding{"id", "/img/main"}, &store), "format");
  WriteFile(dir + "/fresh", Image(dev.get(), 0));
  Must(store->Commit({{0, {true, false, 17}}, {1, {true, true, 18}}, {5, {true, false, 255}}}),
       "commit 1");
  const Bytes before = Image(dev.get(), 0);
  Must(store->Commit({{2, {true, false, 100}}, {1, {false, false, 0}}}), "commit 2");
  WriteFile(dir + "/remapped", Image(dev.get(), 0));
  WriteFile(dir + "/remapped_resealed", Image(dev.get(), 1));
  WriteFile(dir + "/remapped_check_only", Image(dev.get(), 6));
  Bytes damaged = Image(dev.get(), 0);
  const uint64_t copy_bytes = g.placement.copy_sectors * 512;
  // Copy 5 is a whole copy older (stale); copy 2 has a torn table sector.
  std::memcpy(&damaged[1 + 5 * copy_bytes], &before[1 + 5 * copy_bytes], copy_bytes);
  damaged[1 + 2 * copy_bytes + 512 + 40] ^= 0xff;
  WriteFile(dir + "/stale_and_damaged", damaged);
  // Every slot used, main sectors 0, 1, 2, ...: most single-bit flips of an
  // entry (the input resealed) give a main sector remapped twice or one
  // outside MAIN, which Open must refuse.
  std::vector<SlotChange> all;
  for (uint64_t slot = 0; slot < store->slot_count(); ++slot)
    all.push_back({slot, {true, slot % 7 == 3, slot}});
  Must(store->Commit(all), "commit 3");
  WriteFile(dir + "/full_table_resealed", Image(dev.get(), 1));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::string root = argv[1];
  WriteHeaderSeeds(root + "/metadata_header");
  WriteTableSeeds(root + "/table_sector");
  WriteOpenSeeds(root + "/metadata_open");
  return 0;
}
