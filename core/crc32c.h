// CRC32C (Castagnoli), the checksum of every metadata header and table
// sector (format.h). Internal to the core.
#pragma once

#include <cstddef>
#include <cstdint>

namespace remapfs {

// Returns the CRC32C of `data`, continuing from `crc`, the result of an
// earlier call over the preceding bytes (0 to start). So
// Crc32c(b, n2, Crc32c(a, n1)) equals the CRC of a followed by b.
// Standard parameters: Crc32c("123456789", 9) == 0xE3069283.
uint32_t Crc32c(const void* data, size_t len, uint32_t crc = 0);

}  // namespace remapfs
