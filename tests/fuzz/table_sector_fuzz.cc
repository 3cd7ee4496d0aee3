// Fuzzes the table-sector codec: CheckTableSector, ReadTableEntries and
// EncodeTableSector.
//
// Input: a 39-byte prefix, then the sector (zero padded):
//   u8 flags       bit 0: 4096-byte sectors (else 512); bit 1: a version-1
//                  binding; bit 2: reseal the CRC first, so the index and
//                  sequence checks are reached
//   u32 index      the table sector the caller expects
//   u64 max_seq    the header's sequence
//   u16 slots      the table's slot count (modulo 4096)
//   u8[16] volume_id, u64 generation   the binding
// Invariants beyond "no crash":
//  - the verdict is exactly "CRC right, index right, sequence <= max" (each
//    read here independently), and the sequence returned is the trailer's;
//  - a sector sealed for one format never checks for another (a flipped
//    generation bit changes the CRC seed: SPEC invariant 10);
//  - ReadTableEntries fills exactly this sector's share of the slots, with
//    the raw little-endian words, and touches no other slot;
//  - re-encoding those slots gives a sector that checks and reads the same.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crc32c.h"
#include "fuzz_util.h"
#include "metadata_codec.h"
#include "remapfs/format.h"

using namespace remapfs;
using namespace remapfs::fuzz;

namespace {

constexpr uint64_t kUntouched = 0xA5A5A5A5A5A5A5A5ull;

struct Input {
  uint32_t sector_size = 512;
  bool reseal = false;
  uint32_t index = 0;
  uint64_t max_sequence = 0;
  uint16_t slot_count = 0;
  codec::Binding binding;
  std::vector<uint8_t> sector;
};

// Takes sizeof(T) bytes from the front of the input (zeros past its end).
template <typename T>
T Take(const uint8_t*& data, size_t& size) {
  T v{};
  const size_t n = std::min(sizeof v, size);
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

Input Decode(const uint8_t* data, size_t size) {
  Input in;
  const auto flags = Take<uint8_t>(data, size);
  in.sector_size = (flags & 1) ? 4096 : 512;
  in.binding.version = (flags & 2) ? format::kVersionLegacy : format::kVersion;
  in.reseal = (flags & 4) != 0;
  in.index = Take<uint32_t>(data, size);
  in.max_sequence = Take<uint64_t>(data, size);
  in.slot_count = Take<uint16_t>(data, size) % 4096;
  in.binding.volume_id = Take<std::array<uint8_t, 16>>(data, size);
  in.binding.generation = Take<uint64_t>(data, size);
  if (in.binding.version == format::kVersionLegacy) in.binding.generation = 0;
  in.sector.assign(in.sector_size, 0);
  std::memcpy(in.sector.data(), data, std::min<size_t>(size, in.sector_size));
  return in;
}

template <typename T>
T At(const std::vector<uint8_t>& buf, size_t off) {
  T v;
  std::memcpy(&v, buf.data() + off, sizeof v);
  return v;
}

// What CheckTableSector must answer, read without it.
bool ShouldPass(const Input& in, const std::vector<uint8_t>& sector) {
  const size_t trailer = in.sector_size - format::kTrailerBytes;
  const uint32_t crc = Crc32c(sector.data(), trailer + format::kTrailerOffCrc,
                              codec::TableCrcSeed(in.binding));
  return At<uint32_t>(sector, trailer + format::kTrailerOffCrc) == crc &&
         At<uint32_t>(sector, trailer + format::kTrailerOffIndex) == in.index &&
         At<uint64_t>(sector, trailer + format::kTrailerOffSequence) <= in.max_sequence;
}

// Reads the sector's entries into a fresh table and checks which slots moved.
std::vector<uint64_t> CheckEntries(const Input& in, const std::vector<uint8_t>& sector) {
  std::vector<uint64_t> slots(in.slot_count, kUntouched);
  codec::ReadTableEntries(sector.data(), in.index, in.sector_size, &slots);
  const uint64_t per = format::SlotsPerTableSector(in.sector_size);
  const uint64_t first = uint64_t{in.index} * per;
  for (uint64_t s = 0; s < slots.size(); ++s) {
    const bool mine = s >= first && s < first + per;
    const uint64_t want = mine ? At<uint64_t>(sector, (s - first) * 8) : kUntouched;
    FUZZ_CHECK(slots[s] == want, "slot {} is {:#x}, want {:#x}", s, slots[s], want);
  }
  return slots;
}

void CheckReencode(const Input& in, const std::vector<uint64_t>& slots, uint64_t sequence) {
  if (in.binding.version != format::kVersion) return;  // we write only the current one
  std::vector<uint8_t> out(in.sector_size);
  codec::EncodeTableSector(slots, in.index, sequence, in.sector_size, in.binding, out.data());
  uint64_t seq_back = 0;
  const Status st = codec::CheckTableSector(out.data(), in.index, sequence, in.sector_size,
                                            in.binding, &seq_back);
  FUZZ_CHECK(st.ok() && seq_back == sequence, "re-encoded sector: {}", st.ToString());
  std::vector<uint64_t> again(slots.size(), kUntouched);
  codec::ReadTableEntries(out.data(), in.index, in.sector_size, &again);
  FUZZ_CHECK(again == slots, "re-encoded sector reads other entries");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in = Decode(data, size);
  std::vector<uint8_t>& sector = in.sector;
  const size_t crc_at = in.sector_size - format::kTrailerBytes + format::kTrailerOffCrc;
  if (in.reseal) {
    const uint32_t crc = Crc32c(sector.data(), crc_at, codec::TableCrcSeed(in.binding));
    std::memcpy(sector.data() + crc_at, &crc, sizeof crc);
  }
  uint64_t sequence = kUntouched;
  const Status st = codec::CheckTableSector(sector.data(), in.index, in.max_sequence,
                                            in.sector_size, in.binding, &sequence);
  FUZZ_CHECK(st.ok() == ShouldPass(in, sector), "verdict {}", st.ToString());
  if (!st.ok()) {
    FUZZ_CHECK(st.IsCorruption(), "{}", st.ToString());
    return 0;
  }
  const size_t trailer = in.sector_size - format::kTrailerBytes;
  FUZZ_CHECK(sequence == At<uint64_t>(sector, trailer + format::kTrailerOffSequence),
             "sequence {} is not the trailer's", sequence);
  if (in.binding.version == format::kVersion) {
    codec::Binding other = in.binding;
    other.generation ^= 1;
    uint64_t ignored = 0;
    FUZZ_CHECK(!codec::CheckTableSector(sector.data(), in.index, in.max_sequence, in.sector_size,
                                        other, &ignored)
                    .ok(),
               "a sector sealed for generation {} checks for {}", in.binding.generation,
               other.generation);
  }
  CheckReencode(in, CheckEntries(in, sector), sequence);
  return 0;
}
