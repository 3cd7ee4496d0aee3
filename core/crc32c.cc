// CRC32C (Castagnoli), in the three ways of crc32c_impl.h. `remapfs check`
// checksums every sector of a spare, so the CRC has to keep up with the disk:
// one table lookup a byte (~350 MB/s) did not. Crc32c uses the SSE4.2 crc32
// instruction where the CPU has it, slicing-by-8 tables everywhere else.
//
// Every implementation works on the register without the final inversion:
// the inversion is undone on entry so a finished CRC can be extended.
#include "crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#include "crc32c_impl.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace remapfs {

namespace {

constexpr uint32_t kReflectedPoly = 0x82F63B78u;

using Table = std::array<uint32_t, 256>;

// kTables[0][b] is the register after byte b is shifted through a zero
// register; kTables[k][b] the same for b followed by k zero bytes. So the 8
// bytes of a word take eight independent lookups instead of a chain of 8.
constexpr std::array<Table, 8> MakeTables() {
  std::array<Table, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kReflectedPoly : c >> 1;
    t[0][i] = c;
  }
  for (size_t k = 1; k < t.size(); ++k) {
    for (uint32_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFFu];
  }
  return t;
}

// Built by the compiler: no start-up cost and no first-use race.
constexpr std::array<Table, 8> kTables = MakeTables();

uint32_t BytewiseStep(uint32_t c, const unsigned char* p, size_t len) {
  for (size_t i = 0; i < len; ++i) c = kTables[0][(c ^ p[i]) & 0xFFu] ^ (c >> 8);
  return c;
}

// The 8 bytes at p, at any alignment, as a little-endian number: the CRC is
// reflected, so the first byte meets the low bits of the register.
uint64_t LoadLe64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

uint32_t Crc32cBytewise(const void* data, size_t len, uint32_t crc) {
  return ~BytewiseStep(~crc, static_cast<const unsigned char*>(data), len);
}

uint32_t Crc32cPortable(const void* data, size_t len, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  for (; len >= 8; p += 8, len -= 8) {
    const uint64_t w = LoadLe64(p) ^ c;
    // Byte j of the word has 7 - j bytes still to pass after it.
    c = kTables[7][w & 0xFF] ^ kTables[6][(w >> 8) & 0xFF] ^ kTables[5][(w >> 16) & 0xFF] ^
        kTables[4][(w >> 24) & 0xFF] ^ kTables[3][(w >> 32) & 0xFF] ^ kTables[2][(w >> 40) & 0xFF] ^
        kTables[1][(w >> 48) & 0xFF] ^ kTables[0][w >> 56];
  }
  return ~BytewiseStep(c, p, len);
}

#if defined(__x86_64__)

// The target attribute lets this one function use SSE4.2; the rest of the
// build (no -msse4.2) still runs on any x86-64. Callers check
// HardwareCrc32cAvailable() first.
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const void* data, size_t len,
                                                          uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint32_t c = ~crc;
  // Bytes up to an 8-byte boundary first, so no load in the loop straddles
  // two cache lines.
  for (; len > 0 && reinterpret_cast<uintptr_t>(p) % 8 != 0; ++p, --len) c = _mm_crc32_u8(c, *p);
  uint64_t c64 = c;
  for (; len >= 8; p += 8, len -= 8) {
    uint64_t w;
    std::memcpy(&w, p, sizeof w);  // x86 is little-endian, as the CRC wants
    c64 = _mm_crc32_u64(c64, w);
  }
  c = static_cast<uint32_t>(c64);
  for (; len > 0; ++p, --len) c = _mm_crc32_u8(c, *p);
  return ~c;
}

bool HardwareCrc32cAvailable() {
  // __builtin_cpu_init first: the first call may come from another file's
  // static initializer, before the runtime has filled in the CPU model.
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return available;
}

#else

bool HardwareCrc32cAvailable() { return false; }

uint32_t Crc32cHardware(const void* data, size_t len, uint32_t crc) {
  return Crc32cPortable(data, len, crc);
}

#endif

uint32_t Crc32c(const void* data, size_t len, uint32_t crc) {
  // Chosen on the first call (a function-local static, so also safe from a
  // static initializer); each later call costs one indirect call.
  using Impl = uint32_t (*)(const void*, size_t, uint32_t);
  static const Impl impl = HardwareCrc32cAvailable() ? Crc32cHardware : Crc32cPortable;
  return impl(data, len, crc);
}

}  // namespace remapfs
