// The on-disk format of a remapfs spare, in one place.
//
// A spare holds N metadata copies (placement.h says where) and, in every
// sector no copy reserves, remapped data. Every integer is little-endian.
//
// One copy is L sectors:
//
//   sector 0          header (the first kHeaderBytes bytes; the rest zero)
//   sectors 1 .. T    slot table: one 8-byte entry per *slot*, i.e. per
//                     spare sector that can hold data, in spare order
//                     (slot j = the j-th non-reserved sector of the spare)
//   sectors T+1..L-1  zero
//
// Because the table is indexed by slot and sized for every slot, it can never
// overflow, and a commit that changes k slots rewrites only the k table
// sectors holding them plus the header.
//
// Each table sector ends in a trailer: the sequence number of the commit that
// last wrote it, its own index, and a CRC32C. A copy is valid when its header
// and every table sector pass their CRCs and no table sector carries a
// sequence newer than the header's. Commits write, copy by copy, the changed
// table sectors, flush, then the header, flush: a power cut leaves at most
// one copy torn and every other copy wholly old or wholly new.
//
// Binding (version 2). Every header names its format: a random volume id and
// a format generation that grows with every `format` of the same file. Every
// table sector's CRC is seeded with both (TableCrcSeed), so a sector left in
// the file by an earlier format fails its CRC here wherever it lies. Of the
// headers found on a spare, the highest (generation, sequence) wins. The
// header also records MAIN's identity (main_identity.h) and the MAIN path
// given at format, so a spare is used only with its own MAIN.
//
// Version 1 (remapfs 0.1) had no generation, no MAIN identity and unseeded
// table CRCs. It is read as generation 0 and upgraded to version 2 by the
// first rewrite of every copy (mount does it at open).
#pragma once

#include <cstddef>
#include <cstdint>

namespace remapfs::format {

inline constexpr char kMagic[8] = {'R', 'E', 'M', 'A', 'P', 'F', 'S', '1'};
inline constexpr uint32_t kVersion = 2;        // what we write
inline constexpr uint32_t kVersionLegacy = 1;  // still read, then upgraded

inline constexpr uint64_t kMinCopySectors = 8;    // L is never under 8
inline constexpr uint64_t kMinSpareSectors = 72;  // smallest spare accepted
inline constexpr uint32_t kMaxCopies = 8;

// Header fields: byte offsets within sector 0 of a copy.
inline constexpr size_t kOffMagic = 0;           // char[8]
inline constexpr size_t kOffVersion = 8;         // u32
inline constexpr size_t kOffSectorSize = 12;     // u32
inline constexpr size_t kOffMainSectors = 16;    // u64
inline constexpr size_t kOffSpareSectors = 24;   // u64
inline constexpr size_t kOffStrategy = 32;       // u32 (Strategy, never auto)
inline constexpr size_t kOffCopyCount = 36;      // u32
inline constexpr size_t kOffCopySectors = 40;    // u64: L
inline constexpr size_t kOffCopyStarts = 48;     // u64[kMaxCopies], unused = 0
inline constexpr size_t kOffCopyIndex = 112;     // u32: which copy this is
inline constexpr size_t kOffFlags = 116;         // u32: reserved, zero
inline constexpr size_t kOffSequence = 120;      // u64: commit sequence
inline constexpr size_t kOffSlotCount = 128;     // u64: slots in the table
inline constexpr size_t kOffTableSectors = 136;  // u64: T
inline constexpr size_t kOffVolumeId = 144;      // u8[16]: random at format
// Version 2 only (zero in version 1):
inline constexpr size_t kOffGeneration = 160;  // u64: format generation
inline constexpr size_t kOffMainId = 168;      // char[kMainIdBytes], NUL padded
inline constexpr size_t kMainIdBytes = 128;
inline constexpr size_t kOffMainPath = 296;  // char[kMainPathBytes], NUL padded
inline constexpr size_t kMainPathBytes = 200;
inline constexpr size_t kOffHeaderCrc = 508;  // u32: CRC32C of [0, 508)
inline constexpr size_t kHeaderBytes = 512;
static_assert(kOffCopyStarts + 8 * kMaxCopies == kOffCopyIndex);
static_assert(kOffVolumeId + 16 == kOffGeneration);
static_assert(kOffGeneration + 8 == kOffMainId);
static_assert(kOffMainId + kMainIdBytes == kOffMainPath);
static_assert(kOffMainPath + kMainPathBytes <= kOffHeaderCrc);
static_assert(kOffHeaderCrc + 4 == kHeaderBytes);

// Table sector trailer: the last kTrailerBytes bytes of each table sector.
inline constexpr size_t kTrailerBytes = 16;
// Trailer field offsets, counted from the start of the trailer.
inline constexpr size_t kTrailerOffSequence = 0;  // u64
inline constexpr size_t kTrailerOffIndex = 8;     // u32: table sector index
inline constexpr size_t kTrailerOffCrc = 12;      // u32: CRC32C of the
                                                  // sector's bytes before it
inline constexpr size_t kSlotEntryBytes = 8;

inline constexpr uint64_t SlotsPerTableSector(uint32_t sector_size) {
  return (sector_size - kTrailerBytes) / kSlotEntryBytes;
}

// Slot entry encoding. 0 means free.
inline constexpr uint64_t kSlotUsed = 1ull << 63;
inline constexpr uint64_t kSlotPending = 1ull << 62;  // data unknown: EIO
inline constexpr uint64_t kSlotMainMask = (1ull << 62) - 1;

}  // namespace remapfs::format
