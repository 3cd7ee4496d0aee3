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
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "metadata_codec.h"
#include "metadata_headers.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"

namespace remapfs {
namespace {

// Table sectors are read this many at a time, so that a large table is never
// held twice in memory.
constexpr uint64_t kReadChunkSectors = 256;

}  // namespace

// What one copy of the chosen format holds.
struct MetadataStore::LoadedCopy {
  bool header_ok = false;
  uint64_t sequence = 0;  // the header's, when header_ok
  std::string header_problem;
  std::vector<uint64_t> bad_sectors;  // table sectors that failed their check
  std::string first_sector_problem;
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

// Reads the table sectors of every copy whose header is good, checks each,
// and builds slots_ from the copies at the newest sequence, taking each
// sector from whichever of them has it intact.
Status MetadataStore::MergeNewestTable(std::vector<LoadedCopy>& copies) {
  const uint32_t ss = geometry_.sector_size;
  sequence_ = 0;
  for (const LoadedCopy& c : copies)
    if (c.header_ok) sequence_ = std::max(sequence_, c.sequence);
  std::vector<bool> have(table_sectors_, false);
  std::vector<uint64_t> have_sequence(table_sectors_, 0);
  // No larger than the table: a small spare's Open stays cheap (the fuzzer
  // runs it thousands of times a second).
  std::vector<uint8_t> chunk(std::min(kReadChunkSectors, table_sectors_) * ss);
  for (size_t c = 0; c < copies.size(); ++c) {
    LoadedCopy& copy = copies[c];
    if (!copy.header_ok) continue;
    for (uint64_t first = 0; first < table_sectors_; first += kReadChunkSectors) {
      const uint64_t n = std::min(kReadChunkSectors, table_sectors_ - first);
      const bool chunk_ok = spare_->Read(CopyByteOffset(c, 1 + first), chunk.data(), n * ss).ok();
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t t = first + i;
        uint8_t* sector = chunk.data() + i * ss;
        uint64_t written_at = 0;
        // A failed chunk is retried sector by sector: one unreadable sector
        // must not cost its neighbours.
        Status st = chunk_ok ? Status::Ok() : spare_->Read(CopyByteOffset(c, 1 + t), sector, ss);
        if (st.ok())
          st = codec::CheckTableSector(sector, t, copy.sequence, ss, binding_, &written_at);
        if (!st.ok()) {
          if (copy.bad_sectors.empty()) copy.first_sector_problem = st.message();
          copy.bad_sectors.push_back(t);
          continue;
        }
        if (copy.sequence != sequence_ || (have[t] && have_sequence[t] >= written_at)) continue;
        codec::ReadTableEntries(sector, t, ss, &slots_);
        have[t] = true;
        have_sequence[t] = written_at;
      }
    }
  }
  for (uint64_t t = 0; t < table_sectors_; ++t)
    if (!have[t])
      return Status::Corruption("table sector " + std::to_string(t) +
                                " is damaged in every metadata copy at the newest sequence " +
                                std::to_string(sequence_) + "; the remap table is lost");
  return Status::Ok();
}

// A table whose checksums pass can still be wrong if it was written wrong;
// these are invariants 2 and 3 of the SPEC, beyond what placement ensures.
Status MetadataStore::CheckTableSemantics() const {
  std::unordered_set<uint64_t> mains;
  for (uint64_t slot = 0; slot < slots_.size(); ++slot) {
    const SlotEntry e = DecodeSlot(slots_[slot]);
    if (!e.used) continue;
    if (e.main_sector >= geometry_.main_sectors)
      return Status::Corruption("slot " + std::to_string(slot) + " maps main sector " +
                                std::to_string(e.main_sector) + ", outside MAIN");
    if (!mains.insert(e.main_sector).second)
      return Status::Corruption("main sector " + std::to_string(e.main_sector) +
                                " is remapped twice");
  }
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
  REMAPFS_RETURN_IF_ERROR(store->MergeNewestTable(copies));
  for (size_t c = 0; c < copies.size(); ++c) {
    const LoadedCopy& copy = copies[c];
    CopyReport r{g.placement.copy_starts[c], CopyState::kValid, copy.sequence, "", false};
    if (!copy.header_ok) {
      r.state = CopyState::kCorrupt;
      r.problem = copy.header_problem;
    } else if (!copy.bad_sectors.empty()) {
      r.state = CopyState::kCorrupt;
      r.problem = std::to_string(copy.bad_sectors.size()) + " damaged table sector(s); " +
                  copy.first_sector_problem;
    } else if (copy.sequence < store->sequence_) {
      r.state = CopyState::kStale;
      r.problem = "sequence " + std::to_string(copy.sequence) + " older than " +
                  std::to_string(store->sequence_);
    }
    store->held_.push_back(r.state == CopyState::kCorrupt ? 0 : r.sequence);
    store->partial_.push_back(copy.header_ok && copy.sequence == store->sequence_ &&
                              !copy.bad_sectors.empty());
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
