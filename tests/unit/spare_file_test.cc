// FindForeignData, AllocateSpareFile and ZeroSpareFile (spare_file.h) on
// real files in $TMPDIR.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/spare_file.h"
#include "test_util.h"

using namespace remapfs;
using remapfs::testing::ScratchDir;

namespace {

// A sparse file of `size` bytes with `bytes` written at `offset`.
void MakeFile(const std::string& path, uint64_t size, uint64_t offset = 0,
              const std::string& bytes = "") {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  if (!bytes.empty()) {
    REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
            static_cast<ssize_t>(bytes.size()));
  }
  ::close(fd);
}

std::string ReadAll(const std::string& path) {
  std::string out(std::filesystem::file_size(path), '\0');
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::pread(fd, out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  ::close(fd);
  return out;
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st;
}

}  // namespace

TEST_CASE("givenZerosAndHoles_whenSearchedForForeignData_thenNothingFound", "[spare_file]") {
  ScratchDir dir;
  MakeFile(dir.File("sparse"), 64 << 20);
  MakeFile(dir.File("zeros"), 1 << 20, 4096, std::string(8192, '\0'));
  MakeFile(dir.File("empty"), 0);
  for (const char* name : {"sparse", "zeros", "empty"}) {
    std::string found = "unset";
    REQUIRE_OK(FindForeignData(dir.File(name), Stat(dir.File(name)).st_size, &found));
    CHECK(found.empty());
  }
}

TEST_CASE("givenOneByteAfterAHole_whenSearched_thenItsOffsetIsNamed", "[spare_file]") {
  ScratchDir dir;
  const uint64_t at = (40ull << 20) + 12345;  // past a hole, mid-chunk
  MakeFile(dir.File("f"), 64 << 20, at, "x");
  std::string found;
  REQUIRE_OK(FindForeignData(dir.File("f"), 64 << 20, &found));
  CHECK(found == "data (a non-zero byte at offset " + std::to_string(at) + ")");
  // Only the first `bytes` bytes count.
  REQUIRE_OK(FindForeignData(dir.File("f"), at, &found));
  CHECK(found.empty());
}

TEST_CASE("givenSignatures_whenSearched_thenLibblkidNamesThem", "[spare_file]") {
  ScratchDir dir;
  // An MBR with one Linux partition, and a version-1 swap header.
  std::string mbr(512, '\0');
  const unsigned char entry[16] = {0, 0, 0, 0, 0x83, 0, 0, 0, 0, 8, 0, 0, 100, 0, 0, 0};
  std::memcpy(&mbr[446], entry, sizeof entry);
  mbr[510] = '\x55';
  mbr[511] = '\xaa';
  MakeFile(dir.File("mbr"), 1 << 20, 0, mbr);
  MakeFile(dir.File("swap"), 1 << 20, 4096 - 10, "SWAPSPACE2");
  const unsigned char swap_header[12] = {1, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0};
  int fd = ::open(dir.File("swap").c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(::pwrite(fd, swap_header, sizeof swap_header, 1024) == sizeof swap_header);
  ::close(fd);
  std::string found;
  REQUIRE_OK(FindForeignData(dir.File("mbr"), 1 << 20, &found));
  CHECK(found == "a dos partition table");
  REQUIRE_OK(FindForeignData(dir.File("swap"), 1 << 20, &found));
  CHECK(found == "a swap signature");
}

TEST_CASE("givenSparseFileWithData_whenAllocatedLarger_thenBlocksRealAndBytesKept",
          "[spare_file]") {
  ScratchDir dir;
  const std::string path = dir.File("spare");
  MakeFile(path, 1 << 20, 300000, "keep me");
  const std::string before = ReadAll(path);
  std::string how;
  REQUIRE_OK(AllocateSpareFile(path, 8 << 20, &how));
  CHECK(!how.empty());
  const struct stat st = Stat(path);
  CHECK(st.st_size == (8 << 20));
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 >= (8u << 20));
  const std::string after = ReadAll(path);
  CHECK(after.substr(0, before.size()) == before);
  CHECK(after.find_first_not_of('\0', before.size()) == std::string::npos);
}

TEST_CASE("givenMoreThanTheFilesystemHolds_whenAllocated_thenNoSpaceAndFileUnchanged",
          "[spare_file]") {
  ScratchDir dir;
  const std::string path = dir.File("spare");
  MakeFile(path, 1 << 20, 5, "old");
  std::string how;
  Status st = AllocateSpareFile(path, 1ull << 60, &how);
  CHECK(st.IsNoSpace());
  CHECK(st.message().find("not enough space on the filesystem holding SPARE '" + path +
                          "': need ") == 0);
  CHECK(st.message().find(" available") != std::string::npos);
  CHECK(Stat(path).st_size == (1 << 20));
  CHECK(ReadAll(path).substr(5, 3) == "old");
}

TEST_CASE("givenFileWithOldHeadersEverywhere_whenZeroed_thenEveryByteZeroSizeAndBlocksKept",
          "[spare_file]") {
  ScratchDir dir;
  const std::string path = dir.File("spare");
  MakeFile(path, 4 << 20, 0, "RMAPFS old header at 0");
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  for (uint64_t off : {512ull, 1ull << 20, (4ull << 20) - 7})
    REQUIRE(::pwrite(fd, "stale!!", 7, static_cast<off_t>(off)) == 7);
  ::close(fd);
  std::string how;
  REQUIRE_OK(AllocateSpareFile(path, 4 << 20, &how));
  REQUIRE_OK(ZeroSpareFile(path));
  const std::string after = ReadAll(path);
  CHECK(after.size() == (4u << 20));
  CHECK(after.find_first_not_of('\0') == std::string::npos);
  CHECK(static_cast<uint64_t>(Stat(path).st_blocks) * 512 >= (4u << 20));
}

// tmpfs has no FALLOC_FL_ZERO_RANGE: the punch-hole fallback must zero and
// allocate again.
TEST_CASE("givenTmpfsFile_whenZeroed_thenFallbackZeroesAndKeepsBlocks", "[spare_file]") {
  const std::string path = "/dev/shm/remapfs-spare-test-" + std::to_string(::getpid());
  struct stat shm {};
  if (::stat("/dev/shm", &shm) != 0 || !S_ISDIR(shm.st_mode)) {
    WARN("no /dev/shm: the tmpfs fallback is not exercised");
    return;
  }
  MakeFile(path, 2 << 20, 1000, "stale header");
  std::string how;
  REQUIRE_OK(AllocateSpareFile(path, 2 << 20, &how));
  Status st = ZeroSpareFile(path);
  const std::string after = ReadAll(path);
  const uint64_t blocks = static_cast<uint64_t>(Stat(path).st_blocks);
  ::unlink(path.c_str());
  REQUIRE_OK(st);
  CHECK(after.size() == (2u << 20));
  CHECK(after.find_first_not_of('\0') == std::string::npos);
  CHECK(blocks * 512 >= (2u << 20));
}
