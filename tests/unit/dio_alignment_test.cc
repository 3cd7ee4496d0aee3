// QueryLogicalBlockSize on regular files: the filesystem's own O_DIRECT
// alignment (statx STATX_DIOALIGN) when it reports one, so that a 512-byte
// bad sector on ext4 is narrowed to one sector, not eight; 4096 when it
// does not (tmpfs, FUSE). Which case a machine offers depends on where its
// directories live, so each test says so and returns when it cannot run.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <string>

#include "remapfs/block_device.h"

using namespace remapfs;

namespace {

// A fresh 64 KiB file in a new directory under `parent`; empty on failure.
class TempFile {
 public:
  explicit TempFile(const std::string& parent) {
    std::string tmpl = parent + "/remapfs-dio-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return;
    dir_ = tmpl;
    int fd = ::open((dir_ + "/f").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 && ::ftruncate(fd, 64 * 1024) == 0) path_ = dir_ + "/f";
    if (fd >= 0) ::close(fd);
  }
  ~TempFile() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

// What statx says, independently of the code under test: 0 if nothing.
uint32_t ReportedDioAlignment(const std::string& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), 0, STATX_DIOALIGN, &stx) != 0) return 0;
  if ((stx.stx_mask & STATX_DIOALIGN) == 0 || stx.stx_dio_offset_align == 0) return 0;
  return std::max<uint32_t>({512, stx.stx_dio_offset_align, stx.stx_dio_mem_align});
}

}  // namespace

TEST_CASE("givenFilesystemReportingDioAlign_whenQueried_thenTheAlignmentItReports",
          "[aligned]") {
  TempFile file("/var/tmp");
  REQUIRE_FALSE(file.path().empty());
  const uint32_t reported = ReportedDioAlignment(file.path());
  if (reported == 0) {
    WARN("/var/tmp's filesystem reports no O_DIRECT alignment; nothing to compare");
    return;
  }
  uint32_t got = 0;
  REQUIRE(QueryLogicalBlockSize(file.path(), &got).ok());
  REQUIRE(got == reported);
}

TEST_CASE("givenFilesystemReportingNoDioAlign_whenQueried_thenTheSafe4096", "[aligned]") {
  TempFile file("/dev/shm");  // tmpfs: takes O_DIRECT nowhere, reports nothing
  if (file.path().empty() || ReportedDioAlignment(file.path()) != 0) {
    WARN("no filesystem without an O_DIRECT alignment at /dev/shm; nothing to check");
    return;
  }
  uint32_t got = 0;
  REQUIRE(QueryLogicalBlockSize(file.path(), &got).ok());
  REQUIRE(got == 4096);
}
