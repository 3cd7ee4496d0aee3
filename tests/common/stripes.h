// Who owns each byte in one phase of a concurrent-writer test: stripes of
// `width` bytes, the first starting at -shift, dealt in turn to writer 0 ..
// kWriters-1 and then to no one (frozen: fixed for the phase). So no byte
// has two writers, and every write has an exact expected result.
//
// Shared by the unit stress test (tests/unit/stress_support.h) and the
// integration helper tests/integration/stripe_writers.cc, which is not a
// Catch binary: this header must not use Catch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>

namespace remapfs::testing {

template <int kWriters>
struct StripesOf {
  uint64_t width, shift, size;  // shift < width
  int OwnerOf(uint64_t at) const { return (at + shift) / width % (kWriters + 1); }
  bool Frozen(uint64_t at) const { return OwnerOf(at) == kWriters; }
  // A random non-empty range [at, at+len) inside one stripe of writer w.
  std::pair<uint64_t, uint64_t> RandomRange(int w, std::mt19937_64& rng) const {
    const uint64_t rounds = (size + shift) / width / (kWriters + 1) + 1;
    for (;;) {
      const uint64_t k = rng() % rounds * (kWriters + 1) + w;
      const uint64_t begin = std::max(k * width, shift) - shift;
      const uint64_t end = std::min(size, (k + 1) * width - shift);  // shift < width
      if (begin >= end) continue;
      const uint64_t at = begin + rng() % (end - begin);
      return {at, 1 + rng() % (end - at)};
    }
  }
};

}  // namespace remapfs::testing
