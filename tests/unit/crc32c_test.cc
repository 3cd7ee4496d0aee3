// CRC32C (core/crc32c.h), the checksum of every metadata sector: the
// published test vectors and extension over a split buffer, for each
// implementation behind Crc32c (core/crc32c_impl.h), and a differential test
// of the fast ones against the bitwise definition.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crc32c.h"  // internal headers: not on the include path
#include "crc32c_impl.h"

using namespace remapfs;

namespace {

struct Impl {
  const char* name;
  uint32_t (*fn)(const void*, size_t, uint32_t);
};

// The fast implementations this CPU can run, then Crc32c, which picks one
// (last, so a fault in a path is reported under that path's name). Without
// SSE4.2 the hardware path cannot run: say so rather than pass silently as if
// it had been compared.
std::vector<Impl> FastImplementations() {
  std::vector<Impl> impls = {{"portable", Crc32cPortable}};
  if (HardwareCrc32cAvailable()) {
    impls.push_back({"hardware", Crc32cHardware});
  } else {
    WARN("this CPU has no SSE4.2: the hardware CRC32C is not tested");
  }
  impls.push_back({"Crc32c", Crc32c});
  return impls;
}

// CRC32C bit by bit, straight from its definition: no table to get wrong.
uint32_t BitwiseCrc32c(const unsigned char* p, size_t len) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) {
    c ^= p[i];
    for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
  }
  return ~c;
}

struct Vector {
  std::vector<unsigned char> bytes;
  uint32_t crc;
};

std::vector<unsigned char> Filled(size_t n, unsigned char first, int step) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(first + step * int(i));
  return v;
}

std::vector<Vector> PublishedVectors() {
  const std::string check = "123456789";
  // RFC 3720 (iSCSI) appendix B.4: zeros, ones, incrementing, decrementing,
  // and a SCSI Read (10) command PDU.
  // The PDU's nonzero bytes, by offset.
  const std::pair<size_t, unsigned char> pdu_bytes[] = {
      {0, 0x01}, {1, 0xC0}, {16, 0x14}, {22, 0x04}, {27, 0x14}, {31, 0x18}, {32, 0x28}, {40, 0x02}};
  std::vector<unsigned char> pdu(48, 0);
  for (const auto& [at, value] : pdu_bytes) pdu[at] = value;
  return {{{}, 0u},
          {{check.begin(), check.end()}, 0xE3069283u},
          {Filled(32, 0x00, 0), 0x8A9136AAu},
          {Filled(32, 0xFF, 0), 0x62A8AB43u},
          {Filled(32, 0x00, 1), 0x46DD794Eu},
          {Filled(32, 0x1F, -1), 0x113FDB5Cu},
          {pdu, 0xD9963A56u}};
}

std::string Hex(uint32_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

// Where `impl` disagrees with `want` over `len` bytes at `p`, whole or split
// at `cut` into two continued calls: "" when it does not.
std::string Mismatch(const Impl& impl, const unsigned char* p, size_t len, size_t cut,
                     uint32_t want) {
  const uint32_t whole = impl.fn(p, len, 0);
  const uint32_t split = impl.fn(p + cut, len - cut, impl.fn(p, cut, 0));
  if (whole == want && split == want) return "";
  return std::string(impl.name) + ": " + std::to_string(len) + " bytes at alignment " +
         std::to_string(reinterpret_cast<uintptr_t>(p) % 16) + ", split at " + std::to_string(cut) +
         ": whole " + Hex(whole) + ", split " + Hex(split) + ", want " + Hex(want);
}

// The first disagreement of a fast implementation with the bitwise CRC over
// every length 0..max_len at every start alignment 0..15 ("" if none).
std::string FirstMismatch(const std::vector<Impl>& impls, size_t max_len) {
  std::mt19937 rng(20240610);
  std::vector<unsigned char> data(max_len);
  for (auto& b : data) b = static_cast<unsigned char>(rng());
  // A 64-byte aligned base, then up to 15 bytes of offset, then max_len.
  std::vector<unsigned char> area(63 + 15 + max_len);
  unsigned char* base = area.data() + (64 - reinterpret_cast<uintptr_t>(area.data()) % 64) % 64;
  for (size_t len = 0; len <= max_len; ++len) {
    // The same bytes at each alignment, so one bitwise CRC serves all 16.
    const uint32_t want = BitwiseCrc32c(data.data(), len);
    for (size_t align = 0; align < 16; ++align) {
      std::memcpy(base + align, data.data(), len);
      const size_t cut = std::uniform_int_distribution<size_t>(0, len)(rng);
      for (const Impl& impl : impls) {
        std::string mismatch = Mismatch(impl, base + align, len, cut, want);
        if (!mismatch.empty()) return mismatch;
      }
    }
  }
  return "";
}

}  // namespace

TEST_CASE("givenCrc32cVectors_whenComputed_thenMatchPublishedValues", "[crc32c]") {
  std::vector<Impl> impls = FastImplementations();
  impls.push_back({"bytewise", Crc32cBytewise});
  for (const Impl& impl : impls) {
    INFO(impl.name);
    for (const Vector& v : PublishedVectors()) {
      REQUIRE(Hex(impl.fn(v.bytes.data(), v.bytes.size(), 0)) == Hex(v.crc));
    }
    // Extending a CRC over a split buffer equals the CRC of the whole.
    const std::string text = "remapfs keeps a failing disk image in service";
    const uint32_t whole = impl.fn(text.data(), text.size(), 0);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      REQUIRE(impl.fn(text.data() + cut, text.size() - cut, impl.fn(text.data(), cut, 0)) == whole);
    }
  }
}

TEST_CASE("givenRandomBuffers_whenEachFastCrc32cRuns_thenItAgreesWithTheBitwiseDefinition",
          "[crc32c]") {
  // Up to 4100 bytes: a 4 KiB sector and a little over, so every tail length
  // after the 8-byte loops is reached at every start alignment.
  REQUIRE(FirstMismatch(FastImplementations(), 4100) == "");
}
