// FindForeignData (spare_file.h): libblkid for signatures, then a scan of
// the data regions for any non-zero byte.
#include <blkid/blkid.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "file_regions.h"
#include "remapfs/block_device.h"
#include "remapfs/spare_file.h"

namespace remapfs {
namespace {

// Large enough that a scan is bound by the device, not by syscalls.
constexpr size_t kScanChunk = 4u << 20;

std::string Value(blkid_probe probe, const char* name) {
  const char* value = nullptr;
  if (blkid_probe_lookup_value(probe, name, &value, nullptr) != 0 || !value) return "";
  return value;
}

std::string WithArticle(const std::string& word) {
  return (std::strchr("aeiouxAEIOUX", word[0]) ? "an " : "a ") + word;
}

// What one successful probe found, in the words wipefs would use.
std::string DescribeProbe(blkid_probe probe) {
  const std::string pttype = Value(probe, "PTTYPE");
  const std::string type = Value(probe, "TYPE");
  if (type.empty() && !pttype.empty()) return WithArticle(pttype) + " partition table";
  if (type.empty()) return "a signature libblkid recognises";
  const std::string usage = Value(probe, "USAGE");
  std::string what = WithArticle(type);
  if (usage == "filesystem") what += " filesystem";
  else if (usage == "raid") what += " RAID signature";
  else if (usage == "crypto") what += " encrypted volume";
  else what += " signature";
  const std::string uuid = Value(probe, "UUID"), label = Value(probe, "LABEL");
  if (!uuid.empty()) what += " (UUID " + uuid + ")";
  else if (!label.empty()) what += " (label " + label + ")";
  return what;
}

// Superblocks (filesystems, RAID, LUKS, swap, ...) and partition tables,
// as `wipefs` probes them.
Status ProbeSignatures(int fd, const std::string& path, uint64_t bytes, std::string* found) {
  std::unique_ptr<blkid_struct_probe, void (*)(blkid_probe)> probe(blkid_new_probe(),
                                                                   blkid_free_probe);
  if (!probe || blkid_probe_set_device(probe.get(), fd, 0, static_cast<blkid_loff_t>(bytes)) != 0)
    return Status::IoError("libblkid cannot probe '" + path + "'");
  blkid_probe_enable_superblocks(probe.get(), 1);
  blkid_probe_set_superblocks_flags(probe.get(), BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
                                                     BLKID_SUBLKS_UUID | BLKID_SUBLKS_LABEL |
                                                     BLKID_SUBLKS_BADCSUM);
  blkid_probe_enable_partitions(probe.get(), 1);
  blkid_probe_set_partitions_flags(probe.get(), BLKID_PARTS_MAGIC);
  const int rc = blkid_do_safeprobe(probe.get());
  if (rc == 0) *found = DescribeProbe(probe.get());
  // -2: more than one signature, each a reason to stop.
  if (rc == -2) *found = "several conflicting filesystem or RAID signatures";
  if (rc == -1) return Status::IoError("libblkid failed to probe '" + path + "'");
  return Status::Ok();
}

// The first non-zero byte in [begin, end), or `end`.
Status FirstNonZero(int fd, const std::string& path, uint64_t begin, uint64_t end,
                    std::vector<char>* buf, uint64_t* at) {
  static const std::vector<char> zeros(kScanChunk, 0);
  for (uint64_t off = begin; off < end;) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kScanChunk, end - off));
    const ssize_t n = ::pread(fd, buf->data(), len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "read '" + path + "' at " + std::to_string(off));
    if (n == 0) break;  // the file shrank meanwhile: nothing more to lose
    if (std::memcmp(buf->data(), zeros.data(), static_cast<size_t>(n)) != 0) {
      const char* p = buf->data();
      *at = off + static_cast<uint64_t>(std::find_if(p, p + n, [](char c) { return c != 0; }) - p);
      return Status::Ok();
    }
    off += static_cast<uint64_t>(n);
  }
  *at = end;
  return Status::Ok();
}

// Reads only the data regions: a hole reads as zeros.
Status ScanForNonZero(int fd, const std::string& path, uint64_t bytes, std::string* found) {
  std::vector<char> buf(kScanChunk);
  return ForEachRegion(fd, path, bytes, /*data=*/true,
                       [&](uint64_t begin, uint64_t end, bool* stop) {
                         uint64_t at = end;
                         REMAPFS_RETURN_IF_ERROR(FirstNonZero(fd, path, begin, end, &buf, &at));
                         if (at < end)
                           *found = "data (a non-zero byte at offset " + std::to_string(at) + ")";
                         *stop = at < end;
                         return Status::Ok();
                       });
}

}  // namespace

Status FindForeignData(const std::string& path, uint64_t bytes, std::string* found) {
  found->clear();
  int fd = -1;
  REMAPFS_RETURN_IF_ERROR(OpenStorageFile(path, O_RDONLY, &fd));
  FdCloser closer{fd};
  if (bytes == 0) return Status::Ok();
  REMAPFS_RETURN_IF_ERROR(ProbeSignatures(fd, path, bytes, found));
  if (!found->empty()) return Status::Ok();
  ::posix_fadvise(fd, 0, static_cast<off_t>(bytes), POSIX_FADV_SEQUENTIAL);
  return ScanForNonZero(fd, path, bytes, found);
}

}  // namespace remapfs
