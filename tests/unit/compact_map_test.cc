// CompactMap (compact_map.h) against std::map, and the bound on its memory:
// every chunk but the last at least half full, so an item never costs more
// than twice its size.
#include <map>
#include <random>

#include <catch2/catch.hpp>
#include "remapfs/compact_map.h"

namespace remapfs::testing {
namespace {

constexpr size_t kChunk = 8;  // small, so that splits and merges happen often
using Map = CompactMap<uint64_t, kChunk>;

// Every item in order, every key found, lower_bound right between keys, and
// the chunks no more than twice as many as a full packing needs.
void RequireSame(const Map& m, const std::map<uint64_t, uint64_t>& model) {
  REQUIRE(m.size() == model.size());
  auto it = m.begin();
  for (const auto& [k, v] : model) {
    REQUIRE(it != m.end());
    REQUIRE(it->key == k);
    REQUIRE(it->value == v);
    ++it;
  }
  REQUIRE(it == m.end());
  for (uint64_t k = 0; k < 1100; k += 7) {
    const auto want = model.lower_bound(k);
    const auto got = m.lower_bound(k);
    REQUIRE((got == m.end()) == (want == model.end()));
    if (want != model.end()) REQUIRE(got->key == want->first);
    REQUIRE(m.contains(k) == (model.count(k) != 0));
  }
  // Chunks but the last hold >= kChunk/2 items each.
  REQUIRE(m.chunk_count() <= (m.size() + kChunk / 2 - 1) / (kChunk / 2) + 1);
}

TEST_CASE("CompactMap matches std::map under random sets, overwrites and erases", "[compact_map]") {
  std::mt19937_64 rng(GENERATE(1, 2, 3));
  Map m;
  std::map<uint64_t, uint64_t> model;
  for (int round = 0; round < 40; ++round) {
    // Grow, then shrink, so merges and rebalancing run as much as splits.
    const bool grow = round % 4 != 3;
    for (int i = 0; i < 200; ++i) {
      const uint64_t key = rng() % 1000;
      if (grow || rng() % 4 == 0) {
        const uint64_t value = rng();
        REQUIRE(m.Set(key, value) == (model.count(key) == 0));
        model[key] = value;
      } else {
        REQUIRE(m.Erase(key) == (model.erase(key) != 0));
      }
    }
    RequireSame(m, model);
  }
  while (!model.empty()) {
    const uint64_t key = model.begin()->first;
    REQUIRE(m.Erase(key));
    model.erase(key);
    RequireSame(m, model);
  }
  REQUIRE(m.chunk_count() == 0);
  REQUIRE(m.begin() == m.end());
}

TEST_CASE("CompactMap built in key order packs its chunks full", "[compact_map]") {
  Map m;
  for (uint64_t k = 0; k < 1000; ++k) m.Set(3 * k, k);
  CHECK(m.chunk_count() == 1000 / kChunk);
  CHECK(m.BytesHeld() < 1000 * sizeof(Map::Item) * 3 / 2);  // chunk list: 4 B an item at kChunk 8
  // Erasing all but one item in each chunk merges them: still <= 2x.
  for (uint64_t k = 0; k < 1000; ++k)
    if (k % kChunk != 0) m.Erase(3 * k);
  CHECK(m.size() == 1000 / kChunk);
  CHECK(m.chunk_count() <= 2 * m.size() / kChunk + 1);
  CHECK(m.find(3 * kChunk)->value == kChunk);
  CHECK(m.find(3) == m.end());
}

TEST_CASE("CompactMap keys span the whole uint64_t range", "[compact_map]") {
  Map m;
  const uint64_t top = ~uint64_t{0};
  for (uint64_t k : {top, uint64_t{0}, top - 1, uint64_t{1} << 63}) m.Set(k, k);
  std::vector<uint64_t> keys;
  for (const auto& item : m) keys.push_back(item.key);
  CHECK(keys == std::vector<uint64_t>{0, uint64_t{1} << 63, top - 1, top});
  CHECK(m.lower_bound(top)->key == top);
  CHECK(m.lower_bound(5)->key == uint64_t{1} << 63);
}

}  // namespace
}  // namespace remapfs::testing
