// The implementations behind Crc32c (crc32c.h), named so that the unit tests
// can compare them on one machine and the benchmark can time each. Internal:
// everything else calls Crc32c, which picks the fastest once.
//
// Each has the contract of Crc32c: the CRC32C of `data`, continuing from the
// CRC `crc` of the preceding bytes (0 to start).
#pragma once

#include <cstddef>
#include <cstdint>

namespace remapfs {

// One table lookup a byte: the baseline the others are measured against.
uint32_t Crc32cBytewise(const void* data, size_t len, uint32_t crc);

// Slicing-by-8: eight table lookups per 8 bytes. Runs on any CPU.
uint32_t Crc32cPortable(const void* data, size_t len, uint32_t crc);

// True when this CPU has the SSE4.2 crc32 instruction (x86-64 only). Detected
// on the first call; later calls return the cached answer.
bool HardwareCrc32cAvailable();

// The SSE4.2 crc32 instruction, 8 bytes at a time. Only where
// HardwareCrc32cAvailable(): elsewhere the instruction would fault (on a
// build for another architecture this is Crc32cPortable).
uint32_t Crc32cHardware(const void* data, size_t len, uint32_t crc);

}  // namespace remapfs
