// Volume: the remapped disk. Byte-range reads and writes go to MAIN, except
// for remapped sectors, which live on the spare. The Volume keeps the two
// devices, the locks, and the I/O paths (fast: volume_io.cc; failing disk:
// volume_recovery.cc, volume_narrow.cc, volume_scrub.cc; control: volume.cc);
// which sector lives where, and its commit, is the RemapTable's.
//
// Ownership: a Volume owns both devices and its RemapTable.
//
// Thread safety: every public method may be called concurrently.
//  - sector_locks_ locks regions of main sectors. Read/Write hold their
//    sectors shared for the whole request; every change of a sector's
//    mapping holds it exclusively from its first look at the sector to its
//    commit: the recovery of a failing read or write, AddBad, Remove, a
//    scrub finding. So a request waits only for work on its own sectors,
//    and a write can never land between a copy and the commit that names
//    the copy. (A recovery is bounded by error_recovery_time; AddBad and
//    Remove of a large span hold that span for as long as they copy.)
//  - table_mu_ serializes the RemapTable (remap_table.h). Requests hold it
//    shared while they split their range (a request over sectors with no
//    remap is one device call, no allocation); the failing-disk paths,
//    AddBad and Remove take it only to look, to allocate and, exclusively,
//    to commit: never across I/O to MAIN, so a slow bad sector stalls
//    nothing but the requests that touch it.
//  - The read-only views (Stats, Remaps, Reservations) never take table_mu_
//    and show the table as of the last commit. Stats reads a copy of the
//    counters that every table change publishes under view_mu_ (a few
//    words: never a long wait); Remaps reads RemapTable::Entries, which
//    takes the table's own map mutex. The progress of a running
//    AddBad/Remove is published under view_mu_.
//    Lock order: control_mu_, a region of sector_locks_, table_mu_, (the
//    table's map mutex), view_mu_; stats_mu_ is taken alone or under
//    table_mu_.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/block_range_lock.h"
#include "remapfs/metadata.h"
#include "remapfs/remap_table.h"
#include "remapfs/sector_list.h"
#include "remapfs/status.h"

namespace remapfs {

// The long control operation a Volume is running (status `operation`).
enum class VolumeOperation { kIdle, kAddBad, kRemove };
// "idle", "add_bad" or "remove".
std::string_view VolumeOperationName(VolumeOperation op);

struct VolumeStats {
  uint32_t sector_size = 0;
  uint64_t main_sectors = 0;
  uint64_t spare_sectors = 0;
  Strategy strategy = Strategy::kAuto;
  uint32_t metadata_copies = 0;
  uint32_t metadata_valid_copies = 0;
  uint32_t metadata_repaired_copies = 0;  // rewritten at open
  uint64_t metadata_sequence = 0;
  // The last commit could not be written to any copy nor rolled back: the
  // table on disk is uncertain and writes fail with EIO until a commit
  // succeeds (MetadataStore::Commit).
  bool metadata_commits_failing = false;
  uint64_t reserved_sectors = 0;
  uint64_t spare_capacity = 0;
  uint64_t spare_used = 0;
  uint64_t spare_free = 0;
  uint64_t remapped = 0;  // active remaps
  uint64_t pending = 0;
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t auto_remaps = 0;
  std::string last_error;  // "none" until something fails
  // The AddBad or Remove running now (it holds the table lock, so there is
  // at most one) and how many of the sectors it works on (those to remap,
  // or to return) it has read for its copy (they are written in extents
  // of up to 1 MiB after); 0 and 0 when idle. done reaches total before the
  // final commit.
  VolumeOperation operation = VolumeOperation::kIdle;
  uint64_t operation_done = 0;
  uint64_t operation_total = 0;
};

struct VolumeOptions {
  // Extra attempts at a MAIN read that failed with EIO before its sectors
  // are declared pending.
  uint32_t read_retries = 2;
  // How long the recovery of one failing request may take (retries and
  // narrowing), like a drive's error recovery control: what is unresolved
  // then becomes pending (a read) or is remapped (a write). A probe already
  // under way is not interrupted, so a request can take one probe longer.
  std::chrono::milliseconds error_recovery_time{5000};
  // The smallest MAIN request the device below serves on its own: narrowing
  // stops there. 0: the sector size. (With O_DIRECT, the alignment; a
  // smaller write would be a read-modify-write of the whole unit.)
  uint32_t main_io_unit = 0;
  // The MAIN being opened. When set, a spare bound to another MAIN is
  // refused; a spare with no recorded identity (format version 1) is bound
  // to this one.
  std::optional<MainBinding> main;
  // Bind the spare to `main` whatever it was bound to (after a deliberate
  // move or copy of MAIN).
  bool rebind = false;
};

class Volume {
 public:
  static Status Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                     const VolumeOptions& options, std::unique_ptr<Volume>* out);
  // Loads metadata from `spare` (repairing stale copies) and checks it
  // belongs to `main` (same size). `main` should be the device that faults
  // may be injected into; the Volume does not care which decorator it is.
  static Status Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                     std::unique_ptr<Volume>* out);
  // As Open above, over `metadata`, already loaded from `spare` with
  // MetadataOptionsFor(options, main->Size()) (so a caller that must know
  // the geometry first reads the metadata once). `metadata` borrows `spare`.
  static Status Open(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
                     std::unique_ptr<MetadataStore> metadata, const VolumeOptions& options,
                     std::unique_ptr<Volume>* out);
  // What Open checks when it loads the metadata: MAIN's size and, unless
  // options.rebind, its identity.
  static MetadataOpenOptions MetadataOptionsFor(const VolumeOptions& options, uint64_t main_bytes);

  ~Volume();

  uint64_t size_bytes() const { return geometry().main_bytes(); }
  const Geometry& geometry() const { return table_->geometry(); }
  // The volume id the spare was formatted with (fixed while open).
  const std::array<uint8_t, 16>& volume_id() const { return table_->metadata().volume_id(); }

  // Reads [offset, offset+len). InvalidArgument past the end; IoError(EIO)
  // if any touched sector is pending or a device fails.
  Status Read(uint64_t offset, void* buf, size_t len);
  // Writes [offset, offset+len). NoSpace if it reaches past the end (nothing
  // written). A write that fully covers a pending sector makes it active
  // again (committed before returning); a partial write to one fails EIO.
  Status Write(uint64_t offset, const void* buf, size_t len);
  // Flushes both devices: every write completed before it is durable.
  Status Sync();

  // Remaps every sector in `ranges` (SPEC add_bad): all or nothing.
  // Already-remapped sectors are skipped. NoSpace if the spare cannot hold
  // every new remap. Returns after the commit is durable.
  Status AddBad(const std::vector<SectorRange>& ranges);
  // Returns sectors to MAIN (SPEC remove), copying active data back first.
  // Sectors that are not remapped are skipped.
  Status Remove(const std::vector<SectorRange>& ranges);

  // One step of a surface scan (volume_scrub.cc): reads MAIN sectors
  // [first, first+count) (count * sector_size bytes of memory); sectors that
  // never read become pending, sectors that read only after a retry are
  // remapped with their data, in one commit. NoSpace if the spare ran out
  // (what was found before that is committed).
  struct ScrubFindings {
    uint64_t pending = 0;
    uint64_t remapped = 0;
  };
  Status ScrubRange(uint64_t first, uint64_t count, ScrubFindings* findings);

  // Records a failure for the status `last_error` line.
  void SetLastError(const Status& s);

  // The read-only views: they never wait for a table change in progress
  // and show the table as of the last commit (see the top of this file).
  std::vector<RemapEntry> Remaps() const;  // sorted by main sector
  std::vector<Extent> Reservations() const;
  VolumeStats Stats() const;

 private:
  class OperationScope;  // publishes an AddBad/Remove's progress (volume.cc)
  Volume(std::unique_ptr<BlockDevice> main, std::unique_ptr<BlockDevice> spare,
         std::unique_ptr<RemapTable> table);

  BlockDevice& device(DeviceRole role) const {
    return role == DeviceRole::kMain ? *main_ : *spare_;
  }
  // The byte-range I/O over RemapTable::ForEachRun (volume_io.cc). Caller
  // holds table_mu_ shared.
  Status ReadRuns(uint64_t offset, void* buf, size_t len) const;
  Status WriteRuns(uint64_t offset, const void* buf, size_t len);
  static bool IsMediaError(const Status& st);

  // The failing-disk paths (volume_recovery.cc, volume_narrow.cc). Each
  // holds its request's region of sector_locks_ exclusively, and table_mu_
  // only briefly, never across MAIN I/O.
  using Clock = std::chrono::steady_clock;
  struct ByteRange {
    uint64_t begin, end;  // device bytes [begin, end)
  };
  // The narrowing of one failing request on MAIN.
  struct Narrowing {
    // `start`: when the request began; its first, failed attempt is the
    // first estimate of what a failure costs on this disk.
    Narrowing(bool w, uint8_t* d, uint64_t b, Clock::time_point start, Clock::duration erc)
        : write(w),
          data(d),
          base(b),
          deadline(start + erc),
          slowest_failure(Clock::now() - start) {}
    bool write;
    uint8_t* data;  // the request's buffer (written from, or read into)
    uint64_t base;  // the MAIN byte offset of data[0]
    Clock::time_point deadline;
    Clock::duration slowest_failure;    // of the failed attempts so far
    std::vector<ByteRange> bad;         // units that failed on their own
    std::vector<ByteRange> weak;        // reads that worked on a retry
    std::vector<ByteRange> unresolved;  // not tried before the deadline
    Status hard;                        // a failure other than EIO: stop
  };
  enum class ProbeResult { kOk, kBad, kSkipped };
  ProbeResult ProbeMain(Narrowing& n, uint64_t begin, uint64_t end);
  void NarrowKnownBad(Narrowing& n, uint64_t begin, uint64_t end, bool probed);
  void RetryBadReads(Narrowing& n, uint32_t retries);
  std::vector<uint64_t> SectorsOf(const std::vector<ByteRange>& ranges) const;
  Status RecoverWrite(uint64_t offset, const void* buf, size_t len, Clock::time_point start,
                      bool main_failed);
  Status PrepareRecoveredWrite(uint64_t offset, size_t len, std::vector<SlotChange>* changes,
                               std::vector<DeviceRun>* runs);
  Status RecoverRead(uint64_t offset, void* buf, size_t len, Clock::time_point start);
  void MarkPending(const std::vector<uint64_t>& failed);
  Status ReadMainRuns(const std::vector<DeviceRun>& runs, uint8_t* buf);
  Status ScrubChanges(const Narrowing& n, std::vector<SlotChange>* changes);
  Status RemapFailedWrites(const std::vector<uint64_t>& failed, uint64_t offset,
                           const uint8_t* data, size_t len, std::vector<SlotChange>* changes);
  // Flushes the spare (the data the changes name is durable first), then
  // RemapTable::Commit, and publishes the counters. Caller holds table_mu_
  // exclusively (and the changed sectors' region).
  Status FlushAndCommit(const std::vector<SlotChange>& changes, size_t new_slots);
  // The copies of AddBad and Remove (volume_control.cc), in large extents.
  void ReadForRemap(std::vector<SlotChange>& changes, size_t i, size_t n, uint8_t* buf,
                    Status run_failure);
  Status CopyToSpare(std::vector<SlotChange>& changes, OperationScope& progress);
  Status CopyToMain(const std::vector<SlotMapping>& remapped, OperationScope& progress);
  void CountError(const Status& st, bool is_write);
  // Copies the table's counters into view_, for Stats. Called at the end
  // of every table change (and after a failed commit, which may have cost a
  // metadata copy) with table_mu_ held exclusively.
  void PublishView();

  std::unique_ptr<BlockDevice> main_;
  std::unique_ptr<BlockDevice> spare_;
  std::unique_ptr<RemapTable> table_;
  uint32_t read_retries_ = 2;
  std::chrono::milliseconds error_recovery_time_{5000};
  uint64_t main_unit_ = 512;  // narrowing stops here (VolumeOptions::main_io_unit)

  // Regions of main sectors. Every request holds its sectors shared; every
  // change of a sector's mapping (a recovery, add_bad, remove, a scrub
  // finding) holds it exclusively, from the first look at the sector to the
  // commit. So requests over a sector being recovered wait for the
  // recovery, and the map of a region under change is fixed without
  // table_mu_, which is held only briefly.
  BlockRangeLock sector_locks_;
  // One AddBad or Remove at a time (they may take long; their progress is
  // what status shows). Taken before a region.
  std::mutex control_mu_;

  // Serializes table_ (see the top of this file). Never held across MAIN I/O.
  mutable std::shared_mutex table_mu_;

  // Guards view_ and the operation fields. Held only to copy a few words.
  mutable std::mutex view_mu_;
  TableCounters view_;
  VolumeOperation operation_ = VolumeOperation::kIdle;
  uint64_t operation_total_ = 0;
  // Sectors the running operation has done; bumped without view_mu_ (one
  // relaxed add per sector), reset under it when an operation starts/ends.
  std::atomic<uint64_t> operation_done_{0};

  mutable std::mutex stats_mu_;  // guards the counters below
  uint64_t read_errors_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t auto_remaps_ = 0;
  std::string last_error_ = "none";
};

// A freshly formatted Volume (512-byte sectors, strategy auto) over two new
// zero-filled memory devices, for benchmarks and tests. The Volume owns them.
Status NewMemoryVolume(uint64_t main_bytes, uint64_t spare_bytes, std::unique_ptr<Volume>* out);

// The text of the read-only control files (SPEC "Read-only control files").
std::string FormatRemaps(const std::vector<RemapEntry>& remaps);
std::string FormatReservations(const std::vector<Extent>& extents);
std::string FormatStatus(const VolumeStats& stats);

}  // namespace remapfs
