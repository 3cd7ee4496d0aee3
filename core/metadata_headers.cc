// Metadata headers wherever a placement can put them: finding the header
// to trust (FindTrustedHeader), and the MetadataStore helpers that look at
// every candidate position (LooksFormatted, NextGeneration,
// WipeForeignHeaders).
//
// The spare does not say where its copies are: the header does. So the
// search first reads every position where copy headers can sit under any
// placement and sector size, and trusts the header of the newest format
// (highest generation) at its newest sequence; headers of other formats are
// never taken, wherever they lie. Loading the copies that header names is
// metadata_open.cc's.
#include "metadata_headers.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <tuple>

#include <spdlog/spdlog.h>

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
    if (!todo.empty())
      spdlog::warn("no metadata header where the spare's size puts one; found "
                   "{} by searching the whole spare",
                   todo.size());
    follow();
  }
  return found;
}

}  // namespace

bool SameGeometry(const Geometry& a, const Geometry& b) {
  return a.sector_size == b.sector_size && a.main_sectors == b.main_sectors &&
         a.spare_sectors == b.spare_sectors && a.placement.strategy == b.placement.strategy &&
         a.placement.copy_sectors == b.placement.copy_sectors &&
         a.placement.copy_starts == b.placement.copy_starts;
}

Status FindTrustedHeader(BlockDevice* spare, codec::Header* out) {
  const std::vector<codec::Header> found = FindHeaders(spare);
  if (found.empty()) return Status::Corruption("no remapfs metadata header found on the spare");
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

Status MetadataStore::WipeForeignHeaders(BlockDevice* spare) {
  const std::vector<uint8_t> zeros(format::kHeaderBytes, 0);
  for (uint64_t off : CandidateHeaderOffsets(spare->Size())) {
    if (off + zeros.size() > spare->Size()) continue;
    REMAPFS_RETURN_IF_ERROR(spare->Write(off, zeros.data(), zeros.size()));
  }
  return Status::Ok();
}

uint64_t MetadataStore::NextGeneration(BlockDevice* spare, bool spare_is_zero) {
  uint64_t next = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  if (spare_is_zero) return next;
  for (const codec::Header& h : FindHeaders(spare)) next = std::max(next, h.binding.generation + 1);
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

}  // namespace remapfs
