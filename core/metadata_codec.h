// Encoding and decoding of metadata sectors (layout in remapfs/format.h).
// Internal to core/. Pure functions over caller-owned buffers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "remapfs/placement.h"
#include "remapfs/status.h"

namespace remapfs::codec {

struct Header {
  Geometry geometry;
  uint32_t copy_index = 0;
  uint64_t sequence = 0;
  uint64_t slot_count = 0;
  uint64_t table_sectors = 0;
  std::array<uint8_t, 16> volume_id{};
};

// Writes a full header sector (sector_size bytes, zero padded) into `out`.
void EncodeHeader(const Header& h, uint8_t* out);
// Checks magic, version, CRC and internal consistency of the geometry
// fields. `buf` holds at least format::kHeaderBytes bytes.
Status DecodeHeader(const uint8_t* buf, Header* out);

// Encodes table sector `index`, taking the entries of `slots` that belong to
// it (missing ones, past the end of the table, are zero).
void EncodeTableSector(const std::vector<uint64_t>& slots, uint64_t index,
                       uint64_t sequence, uint32_t sector_size, uint8_t* out);
// Checks CRC, index and that its sequence is not newer than `max_sequence`,
// then appends its entries (only those below `slot_count`) to `slots`.
Status DecodeTableSector(const uint8_t* buf, uint64_t index,
                         uint64_t max_sequence, uint32_t sector_size,
                         uint64_t slot_count, std::vector<uint64_t>* slots);

}  // namespace remapfs::codec
