// MetadataStore: the remap table as it lives, in N redundant copies, on the
// spare. format.h has the byte layout and the crash-safety argument.
//
// Ownership: the store borrows the spare device; the caller keeps it alive
// for the store's lifetime.
// Thread safety: none; the Volume serializes every call under its lock.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "remapfs/block_device.h"
#include "remapfs/placement.h"
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

struct SlotChange {
  uint64_t slot;
  SlotEntry entry;
};

// What Open found in each copy.
enum class CopyState {
  kValid,      // valid and at the newest sequence
  kStale,      // valid but older than the newest copy
  kCorrupt,    // bad magic/CRC, torn, or disagreeing geometry
};
std::string_view CopyStateName(CopyState s);

struct CopyReport {
  uint64_t start = 0;      // first spare sector of the copy
  CopyState state = CopyState::kCorrupt;
  uint64_t sequence = 0;   // header sequence, when the header was readable
  std::string problem;     // empty when valid
  bool rewritten = false;  // Open repaired it
};

struct MetadataOpenOptions {
  // Rewrite stale and corrupt copies from the newest valid one (mount does;
  // `check` without --repair does not).
  bool repair = true;
  // When non-zero, refuse a spare whose recorded main size differs.
  uint64_t expected_main_bytes = 0;
  // Refuse a table whose checksums pass but whose entries break SPEC
  // invariants 2-3 (a main sector outside MAIN or remapped twice). `check`
  // and `info` turn this off to report (and repair) such entries themselves.
  bool verify_table = true;
};

class MetadataStore {
 public:
  // Writes fresh metadata (sequence 1, every slot free) to every copy.
  // Returns the store for it.
  static Status Format(BlockDevice* spare, const Geometry& geometry,
                       std::unique_ptr<MetadataStore>* out);

  // Reads every copy, picks the newest valid one and (with repair) rewrites
  // the others. Corruption if no copy is valid; InvalidArgument if the
  // spare's size or main size disagree with the metadata.
  static Status Open(BlockDevice* spare, const MetadataOpenOptions& options,
                     std::unique_ptr<MetadataStore>* out);

  // True if `spare` holds at least one copy whose header has our magic (used
  // by `format` to refuse overwriting without --force).
  static bool LooksFormatted(BlockDevice* spare);

  const Geometry& geometry() const { return geometry_; }
  const ReservationSet& reservations() const { return reservations_; }
  uint64_t sequence() const { return sequence_; }
  const std::array<uint8_t, 16>& volume_id() const { return volume_id_; }
  const std::vector<CopyReport>& copy_reports() const { return reports_; }
  // Copies valid at the newest sequence right now (after repair: all, unless
  // a rewrite failed).
  uint32_t valid_copies() const { return valid_copies_; }
  uint32_t repaired_copies() const;

  uint64_t slot_count() const { return slots_.size(); }
  SlotEntry slot(uint64_t i) const { return DecodeSlot(slots_[i]); }

  // Applies `changes` atomically and durably: returns ok only after every
  // copy holds the new sequence. On failure the in-memory table is
  // unchanged and the on-disk state is the old or the new table (never a
  // mix) in each valid copy.
  Status Commit(const std::vector<SlotChange>& changes);

  // Rewrites every copy in full from the in-memory table.
  Status RewriteAll();

  // For resize-spare: a store for `geometry` holding `slots` (encoded, one
  // per slot of the new geometry), with this store's volume id and the next
  // sequence number. Nothing is written until WriteFullCopy.
  std::unique_ptr<MetadataStore> Successor(const Geometry& geometry,
                                           std::vector<uint64_t> slots) const;
  // Writes copy `copy` in full: table sectors, flush, header, flush.
  Status WriteFullCopy(size_t copy);
  const std::vector<uint64_t>& encoded_slots() const { return slots_; }

 private:
  MetadataStore(BlockDevice* spare, Geometry geometry);

  uint64_t CopyByteOffset(size_t copy, uint64_t sector_in_copy) const;
  std::vector<uint64_t> AllTableSectors() const;
  Status WriteCopy(size_t copy, const std::vector<uint64_t>& table_sectors);
  Status WriteHeader(size_t copy);
  // Reads and checks copy `copy` against the geometry already chosen;
  // fills its report and, when valid, its decoded table.
  CopyReport ValidateCopy(size_t copy, std::vector<uint64_t>* table) const;
  Status CheckTableSemantics() const;
  void RepairCopies();
  // Zeroes every position where a header of any placement could sit, so a
  // re-format never leaves an old, differently placed copy to be found.
  static Status WipeForeignHeaders(BlockDevice* spare);

  BlockDevice* spare_;
  Geometry geometry_;
  ReservationSet reservations_;
  uint64_t table_sectors_ = 0;
  uint64_t sequence_ = 0;
  std::array<uint8_t, 16> volume_id_{};
  std::vector<uint64_t> slots_;  // encoded entries
  std::vector<CopyReport> reports_;
  uint32_t valid_copies_ = 0;
  bool needs_full_rewrite_ = false;  // a commit failed part-way
};

}  // namespace remapfs
