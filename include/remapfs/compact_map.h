// CompactMap: a sorted map from uint64_t keys to small values, for tables of
// millions of entries (the remap table's two indexes).
//
// Items live in chunks of up to kChunk items, each a sorted array, with the
// chunks' first keys in one array for the binary search. An item costs
// sizeof(Item) (16 bytes for an 8-byte value) and at most twice that: every
// chunk but the last is kept at least half full (an insert into a full chunk
// splits it in halves, an erase merges or rebalances a chunk that falls
// under half with a neighbour), and appending past the last key fills the
// last chunk before it starts a new one, so a map built in key order is
// full. A std::map node costs 64+ bytes.
//
// Costs: lookup O(log n); insert and erase O(log n + kChunk) plus, when a
// chunk splits or goes, a move of the chunk list (n / kChunk pointers);
// iteration O(1) per item. A key past the last one is looked up and
// appended in O(1): a bulk remap commits a million ascending keys at once.
//
// Thread safety: none; const members may run concurrently with each other.
// Any change invalidates every iterator.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

namespace remapfs {

template <typename V, size_t kChunk = 256>
class CompactMap {
  static_assert(kChunk >= 4);

 public:
  struct Item {
    uint64_t key;
    V value;
    bool operator==(const Item&) const = default;
  };

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    using pointer = const Item*;
    using reference = const Item&;

    const Item& operator*() const { return (*chunks_)[chunk_][pos_]; }
    const Item* operator->() const { return &**this; }
    const_iterator& operator++() {
      if (++pos_ == (*chunks_)[chunk_].size()) ++chunk_, pos_ = 0;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return chunk_ == o.chunk_ && pos_ == o.pos_; }

   private:
    friend class CompactMap;
    const_iterator(const std::vector<std::vector<Item>>* chunks, size_t chunk, size_t pos)
        : chunks_(chunks), chunk_(chunk), pos_(pos) {}
    const std::vector<std::vector<Item>>* chunks_;
    size_t chunk_;
    size_t pos_;
  };

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return {&chunks_, 0, 0}; }
  const_iterator end() const { return {&chunks_, chunks_.size(), 0}; }

  // The first item whose key is >= `key`.
  const_iterator lower_bound(uint64_t key) const {
    if (chunks_.empty() || key > chunks_.back().back().key) return end();
    const size_t c = ChunkFor(key);
    const std::vector<Item>& chunk = chunks_[c];
    const size_t pos = LowerIn(chunk, key) - chunk.begin();
    if (pos == chunk.size()) return {&chunks_, c + 1, 0};
    return {&chunks_, c, pos};
  }
  const_iterator find(uint64_t key) const {
    const const_iterator it = lower_bound(key);
    return it != end() && it->key == key ? it : end();
  }
  bool contains(uint64_t key) const { return find(key) != end(); }

  // Inserts `key` or overwrites its value. True if it was not there.
  bool Set(uint64_t key, const V& value) {
    if (chunks_.empty()) return NewChunk(0, Item{key, value});
    if (key > chunks_.back().back().key) return Append(Item{key, value});
    const size_t c = ChunkFor(key);
    std::vector<Item>& chunk = chunks_[c];
    const auto at = LowerIn(chunk, key);
    if (at != chunk.end() && at->key == key) {
      at->value = value;
      return false;
    }
    if (chunk.size() == kChunk) {
      Split(c);
      return Set(key, value);
    }
    chunk.insert(at, Item{key, value});
    firsts_[c] = chunk.front().key;
    ++size_;
    return true;
  }

  // Removes `key`. False if it was not there.
  bool Erase(uint64_t key) {
    if (chunks_.empty()) return false;
    const size_t c = ChunkFor(key);
    std::vector<Item>& chunk = chunks_[c];
    const auto at = LowerIn(chunk, key);
    if (at == chunk.end() || at->key != key) return false;
    chunk.erase(at);
    --size_;
    Rebalance(c);
    return true;
  }

  void clear() {
    chunks_.clear();
    firsts_.clear();
    size_ = 0;
  }
  size_t chunk_count() const { return chunks_.size(); }
  // Bytes held, for tests and benchmarks (the chunk list and the chunks).
  size_t BytesHeld() const {
    return chunks_.capacity() * sizeof(std::vector<Item>) + firsts_.capacity() * sizeof(uint64_t) +
           chunks_.size() * kChunk * sizeof(Item);
  }
  bool operator==(const CompactMap& o) const {
    return size_ == o.size_ && std::equal(begin(), end(), o.begin());
  }

 private:
  static typename std::vector<Item>::const_iterator LowerIn(const std::vector<Item>& chunk,
                                                            uint64_t key) {
    return std::lower_bound(chunk.begin(), chunk.end(), key,
                            [](const Item& i, uint64_t k) { return i.key < k; });
  }
  static typename std::vector<Item>::iterator LowerIn(std::vector<Item>& chunk, uint64_t key) {
    return std::lower_bound(chunk.begin(), chunk.end(), key,
                            [](const Item& i, uint64_t k) { return i.key < k; });
  }
  // The chunk that holds `key` or would: the last whose first key <= key
  // (the first chunk for smaller keys). Precondition: chunks exist.
  size_t ChunkFor(uint64_t key) const {
    const size_t c = std::upper_bound(firsts_.begin(), firsts_.end(), key) - firsts_.begin();
    return c == 0 ? 0 : c - 1;
  }
  // Past the last key (a table built or grown in key order): no search.
  bool Append(const Item& item) {
    std::vector<Item>& last = chunks_.back();
    if (last.size() == kChunk) return NewChunk(chunks_.size(), item);
    last.push_back(item);
    ++size_;
    return true;
  }
  // A chunk holding `item` alone, at position c.
  bool NewChunk(size_t c, const Item& item) {
    std::vector<Item> chunk;
    chunk.reserve(kChunk);  // exactly: a chunk never reallocates
    chunk.push_back(item);
    chunks_.insert(chunks_.begin() + c, std::move(chunk));
    firsts_.insert(firsts_.begin() + c, item.key);
    ++size_;
    return true;
  }
  void Split(size_t c) {
    std::vector<Item> upper;
    upper.reserve(kChunk);
    std::vector<Item>& lower = chunks_[c];
    upper.assign(lower.begin() + kChunk / 2, lower.end());
    lower.erase(lower.begin() + kChunk / 2, lower.end());
    firsts_.insert(firsts_.begin() + c + 1, upper.front().key);
    chunks_.insert(chunks_.begin() + c + 1, std::move(upper));
  }
  // Keeps chunk c (not the last) at least half full after an erase: merged
  // with a neighbour when both fit in one chunk, else topped up from it.
  void Rebalance(size_t c) {
    if (chunks_[c].size() >= kChunk / 2 || (c + 1 == chunks_.size() && !chunks_[c].empty())) {
      if (!chunks_[c].empty()) firsts_[c] = chunks_[c].front().key;
      return;
    }
    if (chunks_.size() == 1) {  // the only chunk: gone when empty
      if (chunks_[0].empty()) clear();
      else firsts_[0] = chunks_[0].front().key;
      return;
    }
    const size_t left = c + 1 < chunks_.size() ? c : c - 1;  // merge or balance left, left+1
    std::vector<Item>& a = chunks_[left];
    std::vector<Item>& b = chunks_[left + 1];
    if (a.size() + b.size() <= kChunk) {
      a.insert(a.end(), b.begin(), b.end());
      chunks_.erase(chunks_.begin() + left + 1);
      firsts_.erase(firsts_.begin() + left + 1);
    } else if (a.size() < b.size()) {
      const size_t move = (b.size() - a.size()) / 2;
      a.insert(a.end(), b.begin(), b.begin() + move);
      b.erase(b.begin(), b.begin() + move);
    } else {
      const size_t move = (a.size() - b.size()) / 2;
      b.insert(b.begin(), a.end() - move, a.end());
      a.erase(a.end() - move, a.end());
    }
    firsts_[left] = chunks_[left].front().key;
    if (left + 1 < chunks_.size()) firsts_[left + 1] = chunks_[left + 1].front().key;
  }

  std::vector<std::vector<Item>> chunks_;  // none empty, ascending, disjoint
  std::vector<uint64_t> firsts_;           // firsts_[i] == chunks_[i].front().key
  size_t size_ = 0;
};

}  // namespace remapfs
