// MetadataStore: finding, validating and repairing the copies on a spare.
//
// The spare does not say where its copies are: the header does. So Open
// first reads every position where copy headers can sit under any placement
// and sector size, trusts the geometry that the most headers (found at the
// position they claim) agree on, then validates each copy of that geometry
// in full. The newest valid copy wins; the others are rewritten from it.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "metadata_codec.h"
#include "remapfs/format.h"
#include "remapfs/metadata.h"

namespace remapfs {
namespace {

// Byte offsets where some copy's header could be, for a spare of this size.
std::vector<uint64_t> CandidateHeaderOffsets(uint64_t spare_bytes) {
  std::set<uint64_t> offsets;
  for (uint32_t ss : {512u, 4096u}) {
    if (spare_bytes % ss != 0) continue;
    for (Strategy s : {Strategy::kMinimal, Strategy::kLinear, Strategy::kGeometric}) {
      Placement p;
      if (!ComputePlacement(ss, spare_bytes / ss, s, &p).ok()) continue;
      for (uint64_t start : p.copy_starts) offsets.insert(start * ss);
    }
  }
  return {offsets.begin(), offsets.end()};
}

bool SameGeometry(const Geometry& a, const Geometry& b) {
  return a.sector_size == b.sector_size && a.main_sectors == b.main_sectors &&
         a.spare_sectors == b.spare_sectors &&
         a.placement.strategy == b.placement.strategy &&
         a.placement.copy_sectors == b.placement.copy_sectors &&
         a.placement.copy_starts == b.placement.copy_starts;
}

// Reads the header at byte `off`; true if it decodes and sits where its own
// placement says copy `copy_index` sits.
bool ReadHeaderAt(BlockDevice* spare, uint64_t off, codec::Header* h) {
  std::vector<uint8_t> buf(format::kHeaderBytes);
  if (off + buf.size() > spare->Size() || !spare->Read(off, buf.data(), buf.size()).ok())
    return false;
  if (!codec::DecodeHeader(buf.data(), h).ok()) return false;
  const Geometry& g = h->geometry;
  return g.placement.copy_starts[h->copy_index] * g.sector_size == off;
}

// Every header found at a candidate position. Candidates come from the
// device's size and, since a spare can be larger than its metadata says (an
// interrupted resize-spare), from the placement each found header names.
std::vector<codec::Header> FindHeaders(BlockDevice* spare) {
  std::vector<uint64_t> todo = CandidateHeaderOffsets(spare->Size());
  std::set<uint64_t> seen(todo.begin(), todo.end());
  std::vector<codec::Header> found;
  while (!todo.empty()) {
    const uint64_t off = todo.back();
    todo.pop_back();
    codec::Header h;
    if (!ReadHeaderAt(spare, off, &h)) continue;
    for (uint64_t start : h.geometry.placement.copy_starts) {
      const uint64_t at = start * h.geometry.sector_size;
      if (seen.insert(at).second) todo.push_back(at);
    }
    found.push_back(std::move(h));
  }
  return found;
}

// The header to trust: the newest sequence wins (a resize-spare that has
// written one copy of its new geometry must win over the old copies it is
// about to overwrite); among equals, the one most other headers agree with.
Status FindTrustedHeader(BlockDevice* spare, codec::Header* out) {
  const std::vector<codec::Header> found = FindHeaders(spare);
  if (found.empty())
    return Status::Corruption("no remapfs metadata header found on the spare");
  auto votes = [&](const codec::Header& h) {
    return std::count_if(found.begin(), found.end(), [&](const codec::Header& o) {
      return o.volume_id == h.volume_id && SameGeometry(o.geometry, h.geometry);
    });
  };
  *out = *std::max_element(found.begin(), found.end(),
                           [&](const codec::Header& a, const codec::Header& b) {
                             return std::make_tuple(a.sequence, votes(a)) <
                                    std::make_tuple(b.sequence, votes(b));
                           });
  return Status::Ok();
}

}  // namespace

// Every candidate is wiped; the caller writes the new copies afterwards.
Status MetadataStore::WipeForeignHeaders(BlockDevice* spare) {
  const std::vector<uint8_t> zeros(format::kHeaderBytes, 0);
  for (uint64_t off : CandidateHeaderOffsets(spare->Size()))
    REMAPFS_RETURN_IF_ERROR(spare->Write(off, zeros.data(), zeros.size()));
  return Status::Ok();
}

bool MetadataStore::LooksFormatted(BlockDevice* spare) {
  char magic[sizeof format::kMagic];
  for (uint64_t off : CandidateHeaderOffsets(spare->Size())) {
    if (off + sizeof magic > spare->Size()) continue;
    if (spare->Read(off, magic, sizeof magic).ok() &&
        std::equal(magic, magic + sizeof magic, format::kMagic))
      return true;
  }
  return false;
}

CopyReport MetadataStore::ValidateCopy(size_t copy, std::vector<uint64_t>* table) const {
  const uint32_t ss = geometry_.sector_size;
  CopyReport r{geometry_.placement.copy_starts[copy], CopyState::kCorrupt, 0, "", false};
  std::vector<uint8_t> buf((1 + table_sectors_) * ss);
  Status st = spare_->Read(CopyByteOffset(copy, 0), buf.data(), buf.size());
  codec::Header h;
  if (st.ok()) st = codec::DecodeHeader(buf.data(), &h);
  if (st.ok() && (h.volume_id != volume_id_ || !SameGeometry(h.geometry, geometry_) ||
                  h.copy_index != copy))
    st = Status::Corruption("header belongs to another volume or copy");
  if (!st.ok()) {
    r.problem = st.message();
    return r;
  }
  r.sequence = h.sequence;
  table->reserve(slots_.size());
  for (uint64_t t = 0; t < table_sectors_ && st.ok(); ++t)
    st = codec::DecodeTableSector(buf.data() + (1 + t) * ss, t, h.sequence, ss,
                                  slots_.size(), table);
  if (!st.ok()) {
    r.problem = st.message();
    table->clear();
    return r;
  }
  r.state = CopyState::kValid;
  return r;
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
    if (r.state == CopyState::kValid) continue;
    Status st = WriteCopy(c, AllTableSectors());
    if (st.ok()) {
      r.rewritten = true;
      ++valid_copies_;
      spdlog::warn("metadata copy {} at spare sector {} was {} ({}); rewritten",
                   c, r.start, CopyStateName(r.state), r.problem);
    } else {
      spdlog::error("metadata copy {} could not be rewritten: {}", c, st.ToString());
    }
  }
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
        std::to_string(g.spare_sectors * g.sector_size) + " bytes (truncated?)");
  if (spare->Size() > g.spare_sectors * g.sector_size)
    spdlog::warn("the spare is {} bytes, larger than the {} its metadata uses; the rest is "
                 "unused (remapfs resize-spare can use it)",
                 spare->Size(), g.spare_sectors * g.sector_size);
  if (options.expected_main_bytes != 0 && options.expected_main_bytes != g.main_bytes())
    return Status::InvalidArgument(
        "MAIN is " + std::to_string(options.expected_main_bytes) +
        " bytes but this spare was formatted for a MAIN of " + std::to_string(g.main_bytes()) +
        " bytes (wrong spare, or MAIN changed size)");
  std::unique_ptr<MetadataStore> store(new MetadataStore(spare, g));
  store->volume_id_ = trusted.volume_id;

  std::vector<std::vector<uint64_t>> tables(g.placement.copy_starts.size());
  int winner = -1;
  for (size_t c = 0; c < tables.size(); ++c) {
    store->reports_.push_back(store->ValidateCopy(c, &tables[c]));
    const CopyReport& r = store->reports_.back();
    if (r.state == CopyState::kValid &&
        (winner < 0 || r.sequence > store->reports_[winner].sequence))
      winner = static_cast<int>(c);
  }
  if (winner < 0) {
    std::string why;
    for (const CopyReport& r : store->reports_)
      why += "; copy at " + std::to_string(r.start) + ": " + r.problem;
    return Status::Corruption("no valid metadata copy on the spare" + why);
  }
  store->sequence_ = store->reports_[winner].sequence;
  store->slots_ = std::move(tables[winner]);
  for (CopyReport& r : store->reports_) {
    if (r.state == CopyState::kValid && r.sequence < store->sequence_) {
      r.state = CopyState::kStale;
      r.problem = "sequence " + std::to_string(r.sequence) + " older than " +
                  std::to_string(store->sequence_);
    }
    if (r.state == CopyState::kValid) ++store->valid_copies_;
  }
  if (options.verify_table) REMAPFS_RETURN_IF_ERROR(store->CheckTableSemantics());
  if (options.repair) store->RepairCopies();
  *out = std::move(store);
  return Status::Ok();
}

}  // namespace remapfs
