// Fixtures of the MetadataStore tests (metadata_test.cc,
// metadata_commit_test.cc): a model of the table to compare with the store,
// byte offsets inside a copy to corrupt, and a formatted spare in memory.
#pragma once

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "remapfs/metadata.h"
#include "test_util.h"

namespace remapfs::testing {

constexpr uint32_t kSector = 512;
constexpr uint64_t kMainBytes = 1 << 20;

using Table = std::map<uint64_t, SlotEntry>;  // used slots only

// The model's table, in the format of TableText(const MetadataStore&).
inline std::string TableText(const Table& t) {
  std::ostringstream os;
  for (const auto& [i, e] : t) {
    if (e == SlotEntry{}) continue;
    os << i << ':' << e.used << e.pending << ':' << e.main_sector << '\n';
  }
  return os.str();
}

inline Table Apply(Table t, const std::vector<SlotChange>& changes) {
  for (const SlotChange& c : changes) t[c.slot] = c.entry;
  return t;
}

inline SlotEntry Used(uint64_t main, bool pending = false) {
  return SlotEntry{true, pending, main};
}

inline Status OpenStore(BlockDevice* spare, std::unique_ptr<MetadataStore>* out,
                        bool repair = true) {
  MetadataOpenOptions o;
  o.repair = repair;
  return MetadataStore::Open(spare, o, out);
}

inline uint64_t CopyByte(const Geometry& g, size_t copy, uint64_t sector, uint64_t byte) {
  return (g.placement.copy_starts[copy] + sector) * g.sector_size + byte;
}

inline void FlipByte(BlockDevice* dev, uint64_t offset) {
  uint8_t b = 0;
  REQUIRE_OK(dev->Read(offset, &b, 1));
  b ^= 0x5A;
  REQUIRE_OK(dev->Write(offset, &b, 1));
}

inline void RequireAllValidWithoutRepair(BlockDevice* spare) {
  std::unique_ptr<MetadataStore> s;
  REQUIRE_OK(OpenStore(spare, &s, /*repair=*/false));
  for (const CopyReport& r : s->copy_reports()) {
    INFO("copy at " << r.start << ": " << r.problem);
    CHECK(r.state == CopyState::kValid);
  }
  CHECK(s->valid_copies() == s->geometry().placement.copy_starts.size());
}

// A formatted 512 KiB spare (linear: 4 copies of 17 sectors, 956 slots)
// holding one committed change set.
struct MetadataFixture {
  Geometry g = MakeGeometry(kSector, kMainBytes, 512 << 10);
  std::shared_ptr<BlockDevice> mem = NewMemoryDevice(512 << 10);
  std::unique_ptr<MetadataStore> store;
  Table table;
  size_t copies() const { return g.placement.copy_starts.size(); }

  MetadataFixture() {
    REQUIRE_OK(MetadataStore::Format(mem.get(), g, &store));
    Commit({{0, Used(10)}, {70, Used(11, true)}, {955, Used(1000)}});
  }
  void Commit(const std::vector<SlotChange>& changes) {
    REQUIRE_OK(store->Commit(changes));
    table = Apply(table, changes);
  }
};

}  // namespace remapfs::testing
