// CRC32C (core/crc32c.h), the checksum of every metadata sector: the
// published test vectors and extension over a split buffer.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "crc32c.h"  // internal header: not on the include path

using namespace remapfs;

TEST_CASE("givenCrc32cVectors_whenComputed_thenMatchPublishedValues", "[crc32c]") {
  REQUIRE(Crc32c("123456789", 9) == 0xE3069283u);
  REQUIRE(Crc32c("", 0) == 0u);
  // RFC 3720 (iSCSI) appendix B.4.
  unsigned char buf[32];
  std::memset(buf, 0, sizeof buf);
  REQUIRE(Crc32c(buf, 32) == 0x8A9136AAu);
  std::memset(buf, 0xFF, sizeof buf);
  REQUIRE(Crc32c(buf, 32) == 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[i] = static_cast<unsigned char>(i);
  REQUIRE(Crc32c(buf, 32) == 0x46DD794Eu);
  // Extending a CRC over a split buffer equals the CRC of the whole.
  const std::string text = "remapfs keeps a failing disk image in service";
  const uint32_t whole = Crc32c(text.data(), text.size());
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    REQUIRE(Crc32c(text.data() + cut, text.size() - cut, Crc32c(text.data(), cut)) == whole);
  }
}
