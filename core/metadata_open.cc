// MetadataStore: finding, validating and repairing the copies on a spare.
//
// The spare does not say where its copies are: the header does. So Open
// first reads every position where copy headers can sit under any placement
// and sector size, and trusts the header of the newest format (highest
// generation) at its newest sequence; headers of other formats are never
// taken, wherever they lie. Then it reads every copy of that format and
// rebuilds the table sector by sector: each table sector carries its own
// CRC (sealed with the format) and the sequence that wrote it, so any copy
// whose header is at the newest sequence can supply any sector. The table
// is lost only when one sector is damaged in all of those copies.
#include <algorithm>
#include <chrono>
#include <cstring>
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
// Offset 0 is always one (every placement starts there), so a spare that
// lost a few bytes at its end is still recognised, and then reported as
// truncated rather than as something else.
std::vector<uint64_t> CandidateHeaderOffsets(uint64_t spare_bytes) {
  std::set<uint64_t> offsets{0};
  for (uint32_t ss : {512u, 4096u}) {
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

// Byte offsets of every 512-byte boundary of the spare that starts with
// our magic. The last resort of FindHeaders: it reads the whole spare.
std::vector<uint64_t> ScanForMagic(BlockDevice* spare) {
  constexpr uint64_t kChunk = 1 << 20, kStep = 512;
  std::vector<uint8_t> buf(std::min(kChunk, spare->Size()));  // no more than it needs
  std::vector<uint64_t> hits;
  for (uint64_t off = 0; off < spare->Size(); off += kChunk) {
    const uint64_t n = std::min(kChunk, spare->Size() - off);
    const bool chunk_ok = spare->Read(off, buf.data(), n).ok();
    for (uint64_t at = 0; at + sizeof format::kMagic <= n; at += kStep) {
      // An unreadable chunk is searched sector by sector.
      if (!chunk_ok && !spare->Read(off + at, buf.data() + at, sizeof format::kMagic).ok())
        continue;
      if (std::memcmp(buf.data() + at, format::kMagic, sizeof format::kMagic) == 0)
        hits.push_back(off + at);
    }
  }
  return hits;
}

// Every header found at a candidate position. Candidates come from the
// device's size and, since a spare can be larger than its metadata says (an
// interrupted resize-spare), from the placement each found header names.
// When none is found there (copy 0's header lost while the spare's size
// differs from its metadata's, as a resize that failed half way can leave
// it), every sector boundary is searched: slow on a large spare, but the
// alternative is calling a spare that holds a valid copy unformatted.
std::vector<codec::Header> FindHeaders(BlockDevice* spare) {
  std::vector<uint64_t> todo = CandidateHeaderOffsets(spare->Size());
  std::set<uint64_t> seen(todo.begin(), todo.end());
  std::vector<codec::Header> found;
  auto follow = [&] {
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
  };
  follow();
  if (found.empty()) {
    for (uint64_t off : ScanForMagic(spare))
      if (seen.insert(off).second) todo.push_back(off);
    if (!todo.empty()) spdlog::warn("no metadata header where the spare's size puts one; found "
                                    "{} by searching the whole spare", todo.size());
    follow();
  }
  return found;
}

// The header to trust: the newest format (generation) wins, so a header an
// earlier `format` left behind never comes back; within it the newest
// sequence (a resize-spare that has written one copy of its new geometry
// must win over the old copies it is about to overwrite); among equals,
// the one most other headers agree with.
Status FindTrustedHeader(BlockDevice* spare, codec::Header* out) {
  const std::vector<codec::Header> found = FindHeaders(spare);
  if (found.empty())
    return Status::Corruption("no remapfs metadata header found on the spare");
  auto votes = [&](const codec::Header& h) {
    return std::count_if(found.begin(), found.end(), [&](const codec::Header& o) {
      return o.binding == h.binding && SameGeometry(o.geometry, h.geometry);
    });
  };
  *out = *std::max_element(found.begin(), found.end(),
                           [&](const codec::Header& a, const codec::Header& b) {
                             return std::make_tuple(a.binding.generation, a.sequence, votes(a)) <
                                    std::make_tuple(b.binding.generation, b.sequence, votes(b));
                           });
  return Status::Ok();
}

// Table sectors are read this many at a time, so that a large table is never
// held twice in memory.
constexpr uint64_t kReadChunkSectors = 256;

}  // namespace

// What one copy of the chosen format holds.
struct MetadataStore::LoadedCopy {
  bool header_ok = false;
  uint64_t sequence = 0;            // the header's, when header_ok
  std::string header_problem;
  std::vector<uint64_t> bad_sectors;  // table sectors that failed their check
  std::string first_sector_problem;
};

Status MetadataStore::WipeForeignHeaders(BlockDevice* spare) {
  const std::vector<uint8_t> zeros(format::kHeaderBytes, 0);
  for (uint64_t off : CandidateHeaderOffsets(spare->Size())) {
    if (off + zeros.size() > spare->Size()) continue;
    REMAPFS_RETURN_IF_ERROR(spare->Write(off, zeros.data(), zeros.size()));
  }
  return Status::Ok();
}

uint64_t MetadataStore::NextGeneration(BlockDevice* spare) {
  uint64_t next = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  for (const codec::Header& h : FindHeaders(spare))
    next = std::max(next, h.binding.generation + 1);
  return next;
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

MetadataStore::LoadedCopy MetadataStore::LoadCopy(size_t copy) const {
  LoadedCopy loaded;
  std::vector<uint8_t> buf(geometry_.sector_size);
  Status st = spare_->Read(CopyByteOffset(copy, 0), buf.data(), buf.size());
  codec::Header h;
  if (st.ok()) st = codec::DecodeHeader(buf.data(), &h);
  if (st.ok() && h.binding.volume_id == binding_.volume_id &&
      h.binding.generation == binding_.generation && h.binding.version != binding_.version)
    st = Status::Corruption("written in format version " + std::to_string(h.binding.version));
  if (st.ok() && (h.binding != binding_ || !SameGeometry(h.geometry, geometry_) ||
                  h.copy_index != copy))
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
      const bool chunk_ok =
          spare_->Read(CopyByteOffset(c, 1 + first), chunk.data(), n * ss).ok();
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
      spdlog::warn("metadata copy {} at spare sector {} was {} ({}); rewritten",
                   c, r.start, CopyStateName(r.state), r.problem);
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
    return Status::InvalidArgument(
        "MAIN is " + std::to_string(options.expected_main_bytes) +
        " bytes but this spare was formatted for a MAIN of " + std::to_string(g.main_bytes()) +
        " bytes (wrong spare, or MAIN changed size)");
  std::unique_ptr<MetadataStore> store(new MetadataStore(spare, g));
  store->binding_ = trusted.binding;
  store->loaded_version_ = trusted.binding.version;
  store->main_ = {trusted.main_id, trusted.main_path};
  if (options.expected_main) REMAPFS_RETURN_IF_ERROR(store->CheckMain(*options.expected_main));

  std::vector<LoadedCopy> copies;
  for (size_t c = 0; c < g.placement.copy_starts.size(); ++c)
    copies.push_back(store->LoadCopy(c));
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
