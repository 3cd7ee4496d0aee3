// Encoding and decoding of metadata sectors (layout in remapfs/format.h).
// Internal to core/. Pure functions over caller-owned buffers.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/placement.h"
#include "remapfs/status.h"

namespace remapfs::codec {

using Binding = FormatBinding;
// The CRC seed of a format's table sectors (0 for version 1).
uint32_t TableCrcSeed(const Binding& binding);

struct Header {
  Geometry geometry;
  Binding binding;
  uint32_t copy_index = 0;
  uint64_t sequence = 0;
  uint64_t slot_count = 0;
  uint64_t table_sectors = 0;
  std::string main_id;    // MainIdentity() at format; empty: not recorded
  std::string main_path;  // the MAIN path given at format, for messages
};

// Writes a full header sector (sector_size bytes, zero padded) into `out`,
// always in the current version (h.binding.version is ignored). main_id and
// main_path are cut to their field sizes.
void EncodeHeader(const Header& h, uint8_t* out);
// Checks magic, version (current or legacy), CRC and the internal
// consistency of the geometry fields, including that no size overflows.
// `buf` holds at least format::kHeaderBytes bytes.
Status DecodeHeader(const uint8_t* buf, Header* out);

// Encodes table sector `index` holding `count` entries (at most
// SlotsPerTableSector; the rest of the sector is zero), sealed for `binding`
// (which must be of the current version).
void EncodeTableEntries(const uint64_t* entries, uint64_t count, uint64_t index, uint64_t sequence,
                        uint32_t sector_size, const Binding& binding, uint8_t* out);
// The same, taking the entries of `slots` (one per slot of the table) that
// belong to sector `index` (missing ones, past the end of the table, are
// zero).
void EncodeTableSector(const std::vector<uint64_t>& slots, uint64_t index, uint64_t sequence,
                       uint32_t sector_size, const Binding& binding, uint8_t* out);
// Checks that `buf` is table sector `index` of the format `binding` (CRC
// and index) and not newer than `max_sequence`; sets the sequence of the
// commit that wrote it.
Status CheckTableSector(const uint8_t* buf, uint64_t index, uint64_t max_sequence,
                        uint32_t sector_size, const Binding& binding, uint64_t* sequence);
// Copies the entries of checked table sector `index` (only those below
// slots->size()) into `slots`.
void ReadTableEntries(const uint8_t* buf, uint64_t index, uint32_t sector_size,
                      std::vector<uint64_t>* slots);
// Calls fn(slot, raw) for each entry of checked table sector `index` that
// is marked used (format::kSlotUsed), in slot order, for slots below
// `slot_count`.
template <typename Fn>
void ForEachUsedEntry(const uint8_t* buf, uint64_t index, uint32_t sector_size, uint64_t slot_count,
                      Fn&& fn) {
  const uint64_t per = format::SlotsPerTableSector(sector_size);
  const uint64_t first = index * per;
  const uint64_t end = std::min(slot_count, first + per);
  for (uint64_t s = first; s < end; ++s) {
    uint64_t raw;
    std::memcpy(&raw, buf + (s - first) * format::kSlotEntryBytes, sizeof raw);
    if (raw & format::kSlotUsed) fn(s, raw);
  }
}

}  // namespace remapfs::codec
