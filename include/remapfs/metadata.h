// MetadataStore: the remap table as it lives, in N redundant copies, on the
// spare. format.h has the byte layout and the crash-safety argument.
//
// Ownership: the store borrows the spare device; the caller keeps it alive
// for the store's lifetime.
// Thread safety: none; the Volume serializes every call under its lock.
// Memory: the used slots only (SlotMap, 16 to 32 bytes each), whatever the
// spare's size; Open and the writes of a copy add buffers of about 1 MiB.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/compact_map.h"
#include "remapfs/format.h"
#include "remapfs/placement.h"
#include "remapfs/progress.h"
#include "remapfs/reservations.h"
#include "remapfs/status.h"

namespace remapfs {

// One slot of the table, decoded.
struct SlotEntry {
  bool used = false;
  bool pending = false;  // data unknown: reads fail with EIO until rewritten
  uint64_t main_sector = 0;

  bool operator==(const SlotEntry&) const = default;
};
uint64_t EncodeSlot(const SlotEntry& e);
SlotEntry DecodeSlot(uint64_t raw);

// The used slots of a table, ascending: slot -> EncodeSlot(entry) (never 0).
// Free slots take no memory.
using SlotMap = CompactMap<uint64_t>;

struct SlotChange {
  uint64_t slot;
  SlotEntry entry;
};

// The format a header or table sector belongs to (format.h, "Binding").
struct FormatBinding {
  uint32_t version = format::kVersion;
  std::array<uint8_t, 16> volume_id{};
  uint64_t generation = 0;

  bool operator==(const FormatBinding&) const = default;
};

// The MAIN a spare is bound to (format.h, "Binding").
struct MainBinding {
  std::string id;    // MainIdentity(); empty: unknown, only the size is checked
  std::string path;  // as given at format or rebind, for messages
};

// What Open found in each copy, and what the store knows of it since.
enum class CopyState {
  kValid,    // holds the newest table in full
  kStale,    // valid but older than the newest copy
  kCorrupt,  // bad magic/CRC, torn, another format, or a failed write
};
std::string_view CopyStateName(CopyState s);

struct CopyReport {
  uint64_t start = 0;  // first spare sector of the copy
  CopyState state = CopyState::kCorrupt;
  uint64_t sequence = 0;   // header sequence, when the header was readable
  std::string problem;     // empty when valid
  bool rewritten = false;  // Open repaired it (state still says what it found)
};

struct MetadataOpenOptions {
  // Rewrite stale and corrupt copies from the newest valid one (mount does;
  // `check` without --repair does not).
  bool repair = true;
  // When non-zero, refuse a spare whose recorded main size differs.
  uint64_t expected_main_bytes = 0;
  // When set, refuse a spare bound to another MAIN (CheckMain).
  std::optional<MainBinding> expected_main;
  // Refuse a table whose checksums pass but whose entries break SPEC
  // invariants 2-3 (a main sector outside MAIN or remapped twice). `check`
  // and `info` turn this off to report (and repair) such entries themselves.
  bool verify_table = true;
  // Table sectors read, of the table's size (every copy read for each):
  // reported after each 1 MiB window.
  ProgressFn progress;
};

class MetadataStore {
 public:
  // Writes fresh metadata (sequence 1, every slot free, a new volume id and
  // a generation above any found on `spare`) to every copy, bound to `main`.
  // It writes the copies and a few header positions, nothing else. Finding
  // the generations on `spare` can read all of it (when no header is where a
  // placement puts one); with `spare_is_zero` the caller vouches that every
  // byte of `spare` reads as zero (`remapfs format` has just zeroed or
  // scanned it), so no header can be there and none is looked for.
  // `progress`: copies written, of all copies.
  static Status Format(BlockDevice* spare, const Geometry& geometry, const MainBinding& main,
                       bool spare_is_zero, std::unique_ptr<MetadataStore>* out,
                       const ProgressFn& progress = {});
  static Status Format(BlockDevice* spare, const Geometry& geometry, const MainBinding& main,
                       std::unique_ptr<MetadataStore>* out) {
    return Format(spare, geometry, main, /*spare_is_zero=*/false, out);
  }
  // The same, bound to no MAIN (memory volumes, tests).
  static Status Format(BlockDevice* spare, const Geometry& geometry,
                       std::unique_ptr<MetadataStore>* out) {
    return Format(spare, geometry, MainBinding{}, out);
  }

  // Finds the current format on the spare (highest generation, then
  // sequence), then rebuilds its newest table sector by sector from every
  // copy whose header is at the newest sequence, so one damaged sector per
  // copy loses nothing. With repair, every copy that does not hold that
  // table in full (stale, damaged, version 1) is rewritten.
  // Corruption if no header is found or some table sector is damaged in
  // every newest copy; InvalidArgument if the spare's size, MAIN's size or
  // MAIN's identity disagree with the metadata.
  static Status Open(BlockDevice* spare, const MetadataOpenOptions& options,
                     std::unique_ptr<MetadataStore>* out);

  // True if `spare` holds at least one copy whose header has our magic (used
  // by `format` to refuse overwriting without --force).
  static bool LooksFormatted(BlockDevice* spare);

  const Geometry& geometry() const { return geometry_; }
  const ReservationSet& reservations() const { return reservations_; }
  uint64_t sequence() const { return sequence_; }
  const std::array<uint8_t, 16>& volume_id() const { return binding_.volume_id; }
  uint64_t generation() const { return binding_.generation; }
  // The format version the newest copy was read in (kVersionLegacy until
  // the first full rewrite upgrades it).
  uint32_t loaded_version() const { return loaded_version_; }
  const MainBinding& main() const { return main_; }
  // InvalidArgument naming the recorded MAIN when `actual` is another one.
  // A spare with no recorded identity accepts any MAIN (size is checked
  // elsewhere).
  Status CheckMain(const MainBinding& actual) const;
  const std::vector<CopyReport>& copy_reports() const { return reports_; }
  // Copies valid at the newest sequence right now (after repair: all, unless
  // a rewrite failed).
  uint32_t valid_copies() const { return valid_copies_; }
  uint32_t repaired_copies() const;

  uint64_t slot_count() const { return slot_count_; }
  // O(log n) for n used slots; to visit them all, iterate used_slots().
  SlotEntry slot(uint64_t i) const;
  const SlotMap& used_slots() const { return used_; }

  // Applies `changes` atomically and durably (metadata.cc explains how):
  //  - ok: at least one copy holds the new table, flushed; copies whose
  //    write failed are marked corrupt (valid_copies() drops) and are
  //    rewritten in full by later commits.
  //  - failed, healthy(): no copy took the new table; the old one was
  //    re-committed under a higher sequence, so disk and memory both hold
  //    the old table.
  //  - failed, !healthy(): not even that could be written; the newest table
  //    on disk may be the old or the new one. The caller must accept no
  //    more writes whose meaning depends on the table (the Volume refuses
  //    all writes) until a later Commit succeeds and clears it.
  Status Commit(const std::vector<SlotChange>& changes);
  // False after a commit whose outcome on disk is unknown (see Commit).
  bool healthy() const { return healthy_; }

  // Rewrites every copy in full from the in-memory table, in the current
  // format version, under the next sequence (a Commit of no changes).
  Status RewriteAll();
  // Records `main` as the MAIN this spare belongs to, durably.
  Status Rebind(const MainBinding& main);

  // For resize-spare: a store for `geometry` holding `used` (slots of the
  // new geometry, each below its slot count), with this store's volume id
  // and the next sequence number. Nothing is written until WriteFullCopy.
  std::unique_ptr<MetadataStore> Successor(const Geometry& geometry, SlotMap used) const;
  // Writes copy `copy` in full: table sectors, flush, header, flush.
  Status WriteFullCopy(size_t copy);

 private:
  struct LoadedCopy;        // metadata_open.cc
  struct MergeWindowState;  // metadata_open.cc

  MetadataStore(BlockDevice* spare, Geometry geometry);

  // Table sectors [first, end) of a copy.
  struct TableRun {
    uint64_t first;
    uint64_t end;
  };
  uint64_t CopyByteOffset(size_t copy, uint64_t sector_in_copy) const;
  std::vector<TableRun> AllTableSectors() const { return {{0, table_sectors_}}; }
  // Encodes table sectors [first, first + n) into `out` under sequence_.
  void EncodeTableSectors(uint64_t first, uint64_t n, uint8_t* out) const;
  // Writes `runs` (ascending, disjoint) of copy `copy` under sequence_, in
  // writes of up to 1 MiB, flush, header, flush. With `invalidate_first`,
  // the old header is zeroed and flushed before any table sector: a copy
  // that does not hold the previous table must never show a valid header
  // over a half-rewritten table.
  Status WriteCopy(size_t copy, const std::vector<TableRun>& runs, bool invalidate_first = false);
  Status WriteHeader(size_t copy);
  // The table sectors of WriteCopy, each run in calls of up to
  // kTableWriteBytes.
  Status WriteTableSectors(size_t copy, const std::vector<TableRun>& runs);
  static constexpr uint64_t kTableWriteBytes = 1 << 20;
  // Writes the current table under sequence_ to every copy it may write:
  // the sectors in `touched` to copies that hold the table of sequence
  // `base` in full (unless `full`), all sectors to the others. Returns how
  // many copies took it; updates held_ and the reports.
  size_t WriteAllCopies(uint64_t base, const std::vector<TableRun>& touched, bool full,
                        Status* first_error);
  Status CommitChanges(const std::vector<SlotChange>& changes, bool full);
  void SetSlot(uint64_t slot, const SlotEntry& entry);
  std::vector<TableRun> TouchedRuns(const std::vector<SlotChange>& changes) const;
  void CountValidCopies();
  // Reads copy `copy` of the chosen format (metadata_open.cc).
  LoadedCopy LoadCopy(size_t copy) const;
  Status MergeNewestTable(std::vector<LoadedCopy>& copies, const ProgressFn& progress);
  void MergeWindow(size_t c, LoadedCopy& copy, uint64_t first, uint64_t n, uint8_t* buf,
                   MergeWindowState& merged) const;
  Status CheckTableSemantics() const;
  void RepairCopies();
  // Zeroes every position where a header of any placement could sit, so a
  // re-format never leaves an old, differently placed copy to be found.
  static Status WipeForeignHeaders(BlockDevice* spare);
  // A format generation above every one found on `spare` (and, so that
  // headers hidden where nobody looked lose too, not below the clock); the
  // clock alone for a spare that reads as zeros.
  static uint64_t NextGeneration(BlockDevice* spare, bool spare_is_zero);

  BlockDevice* spare_;
  Geometry geometry_;
  ReservationSet reservations_;
  uint64_t table_sectors_ = 0;
  uint64_t sequence_ = 0;
  FormatBinding binding_;  // always the current version once written
  uint32_t loaded_version_ = format::kVersion;
  MainBinding main_;
  uint64_t slot_count_ = 0;
  SlotMap used_;  // the table: its used slots
  std::vector<CopyReport> reports_;
  // held_[c]: the sequence whose table copy c holds in full and valid on
  // disk, as far as the store knows; 0 when unknown (damaged, or a write to
  // it failed, which may leave anything). held_[c] == sequence_: current.
  std::vector<uint64_t> held_;
  // partial_[c]: copy c's header is at the sequence Open found newest but
  // some of its table sectors are damaged; its good sectors may be the only
  // good copies of theirs (the table was rebuilt from several copies), so
  // it is not overwritten until some copy holds a whole table that new.
  std::vector<bool> partial_;
  uint64_t opened_sequence_ = 0;
  // May copy `copy` be overwritten? Only while another copy holds a table
  // at least as new: the newest table on disk must never be the one at risk.
  bool MayOverwrite(size_t copy) const;
  uint32_t valid_copies_ = 0;
  bool healthy_ = true;
};

}  // namespace remapfs
