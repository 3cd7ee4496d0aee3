// MetadataStore::Open: loading the copies the trusted header names, and
// repairing them.
//
// Finding that header is metadata_headers.cc's. Open then reads every copy
// of its format and rebuilds the table sector by sector: each table sector
// carries its own CRC (sealed with the format) and the sequence that wrote
// it, so any copy whose header is at the newest sequence can supply any
// sector. The table is lost only when one sector is damaged in all of those
// copies.
#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "metadata_codec.h"
#include "metadata_headers.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"

namespace remapfs {
namespace {

// Table sectors are read this many bytes at a time, every copy over the same
// window before the next: memory stays a few windows whatever the table's
// size, and only the used slots are kept.
constexpr uint64_t kReadWindowBytes = 1 << 20;

}  // namespace

// What one copy of the chosen format holds.
struct MetadataStore::LoadedCopy {
  bool header_ok = false;
  uint64_t sequence = 0;  // the header's, when header_ok
  std::string header_problem;
  uint64_t bad_sectors = 0;  // table sectors that failed their check
  std::string first_sector_problem;
};

// One window of the newest table as MergeNewestTable assembles it.
struct MetadataStore::MergeWindowState {
  std::vector<uint8_t> sectors;      // the window's sectors, as taken
  std::vector<bool> have;            // sector i taken from some copy
  std::vector<uint64_t> written_at;  // the sequence that wrote it
};

MetadataStore::LoadedCopy MetadataStore::LoadCopy(size_t copy) const {
  LoadedCopy loaded;
  std::vector<uint8_t> buf(geometry_.sector_size);
  Status st = spare_->Read(CopyByteOffset(copy, 0), buf.data(), buf.size());
  codec::Header h;
  if (st.ok()) st = codec::DecodeHeader(buf.data(), &h);
  if (st.ok() && h.binding.volume_id == binding_.volume_id &&
      h.binding.generation == binding_.generation && h.binding.version != binding_.version)
    st = Status::Corruption("written in format version " + std::to_string(h.binding.version));
  if (st.ok() &&
      (h.binding != binding_ || !SameGeometry(h.geometry, geometry_) || h.copy_index != copy))
    st = Status::Corruption("header belongs to another format, geometry or copy");
  if (!st.ok()) {
    loaded.header_problem = st.message();
    return loaded;
  }
  loaded.header_ok = true;
  loaded.sequence = h.sequence;
  return loaded;
}

// Reads table sectors [first, first + n) of copy `c` into `buf` and checks
// each; a sector that passes and belongs to the newest table (its copy's
// header is at the newest sequence) and is newer than what `merged` holds
// for it is copied there.
void MetadataStore::MergeWindow(size_t c, LoadedCopy& copy, uint64_t first, uint64_t n,
                                uint8_t* buf, MergeWindowState& merged) const {
  const uint32_t ss = geometry_.sector_size;
  const bool chunk_ok = spare_->Read(CopyByteOffset(c, 1 + first), buf, n * ss).ok();
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t t = first + i;
    uint8_t* sector = buf + i * ss;
    uint64_t written_at = 0;
    // A failed chunk is retried sector by sector: one unreadable sector
    // must not cost its neighbours.
    Status st = chunk_ok ? Status::Ok() : spare_->Read(CopyByteOffset(c, 1 + t), sector, ss);
    if (st.ok()) st = codec::CheckTableSector(sector, t, copy.sequence, ss, binding_, &written_at);
    if (!st.ok()) {
      if (copy.bad_sectors++ == 0) copy.first_sector_problem = st.message();
      continue;
    }
    if (copy.sequence != sequence_ || (merged.have[i] && merged.written_at[i] >= written_at))
      continue;
    std::memcpy(merged.sectors.data() + i * ss, sector, ss);
    merged.have[i] = true;
    merged.written_at[i] = written_at;
  }
}

// Streams the table sectors of every copy whose header is good, window by
// window, checks each, and keeps the used slots of the newest table, taking
// each sector from whichever copy at the newest sequence has it intact.
Status MetadataStore::MergeNewestTable(std::vector<LoadedCopy>& copies,
                                       const ProgressFn& progress) {
  const uint32_t ss = geometry_.sector_size;
  sequence_ = 0;
  for (const LoadedCopy& c : copies)
    if (c.header_ok) sequence_ = std::max(sequence_, c.sequence);
  // No larger than the table: a small spare's Open stays cheap (the fuzzer
  // runs it thousands of times a second).
  const uint64_t window = std::min(kReadWindowBytes / ss, table_sectors_);
  std::vector<uint8_t> buf(window * ss);
  MergeWindowState merged{std::vector<uint8_t>(window * ss), std::vector<bool>(window),
                          std::vector<uint64_t>(window)};
  Report(progress, 0, table_sectors_);
  for (uint64_t first = 0; first < table_sectors_; first += window) {
    const uint64_t n = std::min(window, table_sectors_ - first);
    std::fill(merged.have.begin(), merged.have.end(), false);
    for (size_t c = 0; c < copies.size(); ++c)
      if (copies[c].header_ok) MergeWindow(c, copies[c], first, n, buf.data(), merged);
    for (uint64_t i = 0; i < n; ++i) {
      if (!merged.have[i])
        return Status::Corruption("table sector " + std::to_string(first + i) +
                                  " is damaged in every metadata copy at the newest sequence " +
                                  std::to_string(sequence_) + "; the remap table is lost");
      // Slots ascend with the sectors: each Set appends.
      codec::ForEachUsedEntry(merged.sectors.data() + i * ss, first + i, ss, slot_count_,
                              [this](uint64_t slot, uint64_t raw) { used_.Set(slot, raw); });
    }
    Report(progress, first + n, table_sectors_);
  }
  return Status::Ok();
}

// A table whose checksums pass can still be wrong if it was written wrong;
// these are invariants 2 and 3 of the SPEC, beyond what placement ensures.
Status MetadataStore::CheckTableSemantics() const {
  std::vector<uint64_t> mains;  // 8 bytes a remap, for the time of the check
  mains.reserve(used_.size());
  for (const auto& [slot, raw] : used_) {
    const SlotEntry e = DecodeSlot(raw);
    if (e.main_sector >= geometry_.main_sectors)
      return Status::Corruption("slot " + std::to_string(slot) + " maps main sector " +
                                std::to_string(e.main_sector) + ", outside MAIN");
    mains.push_back(e.main_sector);
  }
  std::sort(mains.begin(), mains.end());
  const auto twice = std::adjacent_find(mains.begin(), mains.end());
  if (twice != mains.end())
    return Status::Corruption("main sector " + std::to_string(*twice) + " is remapped twice");
  return Status::Ok();
}

void MetadataStore::RepairCopies() {
  for (size_t c = 0; c < reports_.size(); ++c) {
    CopyReport& r = reports_[c];
    if (held_[c] == sequence_ || (held_[c] != 0 && !MayOverwrite(c))) continue;
    // Same sequence, same table: every sector written is the one the merge
    // took, byte for byte where the copy had it good, so a crash or a torn
    // write half way leaves each sector as good as before; hence no
    // MayOverwrite for damaged copies, and no header invalidation (it could
    // hide the last good copy of a sector).
    Status st = WriteCopy(c, AllTableSectors());
    if (st.ok()) held_[c] = sequence_;
    if (st.ok()) partial_[c] = false;
    if (st.ok()) {
      spdlog::warn("metadata copy {} at spare sector {} was {} ({}); rewritten", c, r.start,
                   CopyStateName(r.state), r.problem);
      r.rewritten = true;  // the state stays what Open found, for `check`
    } else {
      spdlog::error("metadata copy {} could not be rewritten: {}", c, st.ToString());
    }
  }
  CountValidCopies();
}

Status MetadataStore::Open(BlockDevice* spare, const MetadataOpenOptions& options,
                           std::unique_ptr<MetadataStore>* out) {
  codec::Header trusted;
  REMAPFS_RETURN_IF_ERROR(FindTrustedHeader(spare, &trusted));
  const Geometry& g = trusted.geometry;
  // Larger is fine: an interrupted resize-spare leaves the file at the
  // larger of its two sizes, and the metadata governs only its own extent.
  if (spare->Size() < g.spare_sectors * g.sector_size)
    return Status::InvalidArgument(
        "the spare is " + std::to_string(spare->Size()) + " bytes but its metadata describes " +
        std::to_string(g.spare_sectors * g.sector_size) +
        " bytes: it was truncated or damaged. Restore its full size and content (do NOT run "
        "'remapfs format', which would destroy the remap table)");
  if (spare->Size() > g.spare_sectors * g.sector_size)
    spdlog::warn("the spare is {} bytes, larger than the {} its metadata uses; the rest is "
                 "unused (remapfs resize-spare can use it)",
                 spare->Size(), g.spare_sectors * g.sector_size);
  if (options.expected_main_bytes != 0 && options.expected_main_bytes != g.main_bytes())
    return Status::InvalidArgument("MAIN is " + std::to_string(options.expected_main_bytes) +
                                   " bytes but this spare was formatted for a MAIN of " +
                                   std::to_string(g.main_bytes()) +
                                   " bytes (wrong spare, or MAIN changed size)");
  std::unique_ptr<MetadataStore> store(new MetadataStore(spare, g));
  store->binding_ = trusted.binding;
  store->loaded_version_ = trusted.binding.version;
  store->main_ = {trusted.main_id, trusted.main_path};
  if (options.expected_main) REMAPFS_RETURN_IF_ERROR(store->CheckMain(*options.expected_main));

  std::vector<LoadedCopy> copies;
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c) copies.push_back(store->LoadCopy(c));
  REMAPFS_RETURN_IF_ERROR(store->MergeNewestTable(copies, options.progress));
  for (size_t c = 0; c < copies.size(); ++c) {
    const LoadedCopy& copy = copies[c];
    CopyReport r{g.placement.copy_starts[c], CopyState::kValid, copy.sequence, "", false};
    if (!copy.header_ok) {
      r.state = CopyState::kCorrupt;
      r.problem = copy.header_problem;
    } else if (copy.bad_sectors != 0) {
      r.state = CopyState::kCorrupt;
      r.problem = std::to_string(copy.bad_sectors) + " damaged table sector(s); " +
                  copy.first_sector_problem;
    } else if (copy.sequence < store->sequence_) {
      r.state = CopyState::kStale;
      r.problem = "sequence " + std::to_string(copy.sequence) + " older than " +
                  std::to_string(store->sequence_);
    }
    store->held_.push_back(r.state == CopyState::kCorrupt ? 0 : r.sequence);
    store->partial_.push_back(copy.header_ok && copy.sequence == store->sequence_ &&
                              copy.bad_sectors != 0);
    store->reports_.push_back(std::move(r));
  }
  store->opened_sequence_ = store->sequence_;
  store->CountValidCopies();
  if (options.verify_table) REMAPFS_RETURN_IF_ERROR(store->CheckTableSemantics());
  if (options.repair) {
    // A version-1 spare is upgraded whole, under a new sequence: a crash
    // half way leaves version-2 copies that win and version-1 ones that lose.
    if (store->loaded_version_ != format::kVersion) {
      REMAPFS_RETURN_IF_ERROR(store->RewriteAll().WithContext("upgrading the metadata format"));
      for (CopyReport& r : store->reports_) r.rewritten = true;
    } else {
      store->RepairCopies();
    }
  }
  *out = std::move(store);
  return Status::Ok();
}

}  // namespace remapfs
