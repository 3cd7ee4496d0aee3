// The host file of a SPARE, before any metadata is written to it: what it
// already holds, its blocks on the host filesystem, and wiping it.
//
// A drive's spare area is physically there; a sparse spare file is not,
// and would fail with ENOSPC in the middle of a remap once its filesystem
// fills. So `format` and a growing `resize-spare` allocate every block
// first, and refuse when the space is missing. Block devices need none of
// this. Paths are opened with OpenStorageFile (never blocks, refuses
// special files). None of these functions is thread-safe on one path.
#pragma once

#include <cstdint>
#include <string>

#include "remapfs/progress.h"
#include "remapfs/status.h"

namespace remapfs {

// Looks in the first `bytes` bytes of `path` for data that remapfs did not
// write and a format would destroy. Sets `found` to "" when there is none,
// else to what it is: a signature libblkid recognises, as wipefs and mkfs
// see it ("an ext4 filesystem (UUID 1b2c...)", "a dos partition table",
// "a linux_raid_member RAID signature (UUID ...)"), or else the first
// non-zero byte ("data (a non-zero byte at offset 1048576)"). Holes of a
// sparse file are skipped, the rest read in large chunks.
Status FindForeignData(const std::string& path, uint64_t bytes, std::string* found);

// Makes [0, size) of the regular file at `path` allocated on its
// filesystem, growing the file to `size` when it is shorter (never
// shrinking it); existing bytes are kept. Uses fallocate(2) mode 0, or
// writes zeros into the holes where the filesystem does not support it
// (EOPNOTSUPP); `how` says which. When the space is not there: NoSpace
// "not enough space on the filesystem holding SPARE 'PATH': need N bytes,
// M available", checked with statvfs first (M counts what unprivileged
// users may use: blocks reserved for root stay reserved), and the file keeps
// its old size and content. A block device is left alone (`how` says so).
// `progress`: bytes of [0, size) allocated, every 64 MiB (1 MiB when
// writing zeros).
Status AllocateSpareFile(const std::string& path, uint64_t size, std::string* how,
                         const ProgressFn& progress = {});

// Makes every byte of the file or block device at `path` read as zero,
// durably, so nothing of an earlier format survives anywhere in it. A
// file's size is kept and its blocks stay allocated (FALLOC_FL_ZERO_RANGE;
// else punch a hole and allocate again; else write zeros over the data);
// a block device gets BLKZEROOUT, else written zeros. `progress`: bytes
// zeroed (by offset), every 64 MiB (1 MiB when writing zeros).
Status ZeroSpareFile(const std::string& path, const ProgressFn& progress = {});

}  // namespace remapfs
