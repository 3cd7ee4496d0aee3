// Helpers of bench_big_spare: run the real `remapfs` binary as a child and
// measure it, and the plain-I/O baselines its figures are set against.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace remapfs::bench {

struct ChildFigures {
  double seconds = 0;
  uint64_t peak_kib = 0;  // the child's ru_maxrss
  int exit_code = 0;
};

struct DaemonFigures {
  double seconds = 0;    // from exec until the disk file is there
  uint64_t hwm_kib = 0;  // VmHWM once mounted: the peak of the open
  uint64_t rss_kib = 0;  // VmRSS once mounted
  std::string skipped;   // why there are no figures
};

// Runs argv (stdout and stderr to DIR/child.log) and waits for it.
ChildFigures RunChild(const std::vector<std::string>& argv);

// `remapfs mount MAIN SPARE MNT -f`, timed until MNT's disk file has
// MAIN's size, measured, then unmounted. False (with d->skipped) when not
// root, without /dev/fuse, or when the mount fails.
bool MountAndMeasure(const std::string& remapfs, const std::string& main, const std::string& spare,
                     const std::string& mnt, uint64_t main_bytes, DaemonFigures* d);

// A fresh DIR holding a sparse MAIN of `main_bytes`, and the log.
void PrepareDir(const std::string& dir, const std::string& main, uint64_t main_bytes);
void CleanUp(const std::string& dir);
// Drops a file's clean pages from the page cache (fsync first).
void DropFromPageCache(const std::string& path);
// Bytes of metadata (every copy, L sectors each) on a 512-byte-sector spare
// formatted with the default strategy.
uint64_t MetadataBytes(const std::string& spare);
// 1 MiB writes of `bytes` to a new file, then fdatasync; the file goes.
double WriteBaselineSeconds(const std::string& path, uint64_t bytes);
// 1 MiB reads of every metadata copy of `spare` (cold: dropped first).
double ReadBaselineSeconds(const std::string& spare, bool cold);
// An md bad_blocks list: `count` single sectors first, first+stride, ...
void WriteMdList(const std::string& path, uint64_t first, uint64_t count, uint64_t stride);
// An md bad_blocks list of one line: `count` sectors from `first` on.
void WriteMdRange(const std::string& path, uint64_t first, uint64_t count);

}  // namespace remapfs::bench
