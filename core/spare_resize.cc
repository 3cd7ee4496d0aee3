// Resizing a spare: the plan, then the four steps of spare_resize.h, each
// of which leaves a complete old or new metadata state on the spare.
#include "remapfs/spare_resize.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "remapfs/format.h"
#include "remapfs/metadata.h"
#include "remapfs/reservations.h"

namespace remapfs {
namespace {

struct Move {
  uint64_t from = 0;  // spare sector now holding the data
  uint64_t to = 0;    // where it goes
};

struct UsedSector {
  uint64_t sector = 0;  // in the old layout
  SlotEntry entry;
};

struct Plan {
  std::unique_ptr<MetadataStore> old;
  Geometry g1;
  std::vector<UsedSector> used;
  std::vector<Move> within_old;    // step 1: committed in the old geometry
  std::vector<Move> to_new_space;  // step 2: recorded by the new geometry
  size_t first_copy = 0;           // step 3: written first
};

bool Overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  return a < b + b_len && b < a + a_len;
}

// The new copy to write first: it must not overwrite data the old metadata
// still names (step 2 sources), and it must leave an old copy intact that a
// reader can still find. A reader finds copies from the device's size and
// from the copy at sector 0. Growing, the device already has the new size,
// so old copy 0 is the way to the old copies and must survive; shrinking,
// the device keeps the old size until the end, so the old copies are found
// by size and new copy 0 is the way to the new ones.
Status ChooseFirstCopy(Plan* plan) {
  const Geometry& g0 = plan->old->geometry();
  const Placement& p0 = g0.placement;
  const Placement& p1 = plan->g1.placement;
  const bool grow = plan->g1.spare_sectors > g0.spare_sectors;
  for (size_t i = 0; i < p1.copy_starts.size(); ++i) {
    const size_t c = grow ? p1.copy_starts.size() - 1 - i : i;
    if (!grow && c != 0) break;
    const uint64_t start = p1.copy_starts[c], len = p1.copy_sectors;
    bool safe = std::none_of(plan->to_new_space.begin(), plan->to_new_space.end(),
                             [&](const Move& m) { return Overlap(start, len, m.from, 1); });
    bool old_survives = false;
    for (size_t o = 0; o < p0.copy_starts.size(); ++o) {
      const bool intact = !Overlap(start, len, p0.copy_starts[o], p0.copy_sectors);
      if (grow && o == 0 && !intact) safe = false;
      old_survives |= intact;
    }
    if (safe && old_survives) {
      plan->first_copy = c;
      return Status::Ok();
    }
  }
  return Status::InvalidArgument(
      "no crash-safe order exists to write the new metadata copies for this size; "
      "try another size");
}

// Finds new homes for remapped data that sits where a new copy will go.
Status PlanMoves(const ReservationSet& r0, const ReservationSet& r1, Plan* plan) {
  const uint64_t s0 = r0.spare_sectors(), s1 = r1.spare_sectors();
  std::unordered_set<uint64_t> taken;
  std::vector<uint64_t> conflicts;
  for (const UsedSector& u : plan->used) {
    taken.insert(u.sector);
    if (r1.IsReserved(u.sector)) conflicts.push_back(u.sector);
  }
  size_t next = 0;
  // Step 1: sectors free in both layouts, below both ends, in the old numbering.
  for (uint64_t slot = 0; slot < r0.slot_count() && next < conflicts.size(); ++slot) {
    const uint64_t q = r0.SlotToSector(slot);
    if (q >= std::min(s0, s1)) break;
    if (!taken.count(q) && !r1.IsReserved(q)) plan->within_old.push_back({conflicts[next++], q});
  }
  // Step 2: the new space past the old end, growing.
  for (uint64_t q = s0; q < s1 && next < conflicts.size(); ++q)
    if (!r1.IsReserved(q)) plan->to_new_space.push_back({conflicts[next++], q});
  if (next < conflicts.size())
    return Status::InvalidArgument("not enough free spare sectors to move " +
                                   std::to_string(conflicts.size() - next) +
                                   " remapped sectors out of the new metadata copies");
  return Status::Ok();
}

Status BuildPlan(BlockDevice* spare, uint64_t s1, bool repair, Plan* plan) {
  MetadataOpenOptions options;
  options.repair = repair;
  REMAPFS_RETURN_IF_ERROR(MetadataStore::Open(spare, options, &plan->old));
  const Geometry& g0 = plan->old->geometry();
  if (s1 == g0.spare_sectors)
    return Status::InvalidArgument("the spare already has " + std::to_string(s1) + " sectors");
  plan->g1 = g0;
  plan->g1.spare_sectors = s1;
  REMAPFS_RETURN_IF_ERROR(ComputePlacement(g0.sector_size, s1, Strategy::kAuto, &plan->g1.placement)
                              .WithContext("new size"));
  const ReservationSet& r0 = plan->old->reservations();
  const ReservationSet r1 = ReservationSet::ForPlacement(plan->g1.placement, s1);
  for (const auto& [slot, raw] : plan->old->used_slots()) {
    const SlotEntry e = DecodeSlot(raw);
    const uint64_t sector = r0.SlotToSector(slot);
    if (sector >= s1)
      return Status::InvalidArgument("shrinking to " + std::to_string(s1) +
                                     " sectors would drop spare sector " + std::to_string(sector) +
                                     ", which holds main sector " + std::to_string(e.main_sector) +
                                     "; return it with `remove` first");
    plan->used.push_back({sector, e});
  }
  REMAPFS_RETURN_IF_ERROR(PlanMoves(r0, r1, plan));
  return ChooseFirstCopy(plan);
}

// `moved(n)`: n of the moves copied, every kMovesPerReport and at the end.
Status CopySectors(BlockDevice* spare, uint32_t ss, const std::vector<Move>& moves,
                   const std::function<void(uint64_t)>& moved) {
  constexpr uint64_t kMovesPerReport = 64;
  std::vector<uint8_t> buf(ss);
  for (size_t i = 0; i < moves.size(); ++i) {
    const Move& m = moves[i];
    REMAPFS_RETURN_IF_ERROR(spare->Read(m.from * ss, buf.data(), ss));
    REMAPFS_RETURN_IF_ERROR(spare->Write(m.to * ss, buf.data(), ss));
    if ((i + 1) % kMovesPerReport == 0) moved(i + 1);
  }
  moved(moves.size());
  return spare->Flush();
}

// Where each used spare sector sits in `used`, for the moves' lookups: a
// spare with a million remaps can have thousands of moves.
std::unordered_map<uint64_t, size_t> IndexBySector(const std::vector<UsedSector>& used) {
  std::unordered_map<uint64_t, size_t> index;
  index.reserve(used.size());
  for (size_t i = 0; i < used.size(); ++i) index.emplace(used[i].sector, i);
  return index;
}

// Points each move's source in `used` at its destination. A source is a
// used sector and a destination a free one, so no destination is another
// move's source and one index serves them all.
void ApplyMoves(const std::vector<Move>& moves, std::vector<UsedSector>* used) {
  const std::unordered_map<uint64_t, size_t> index = IndexBySector(*used);
  for (const Move& m : moves) (*used)[index.at(m.from)].sector = m.to;
}

// Step 1: the moves are an ordinary commit of the old geometry.
Status MoveWithinOld(BlockDevice* spare, Plan* plan, const std::function<void(uint64_t)>& moved) {
  if (plan->within_old.empty()) return Status::Ok();
  const uint32_t ss = plan->g1.sector_size;
  REMAPFS_RETURN_IF_ERROR(CopySectors(spare, ss, plan->within_old, moved));
  const ReservationSet& r0 = plan->old->reservations();
  const std::unordered_map<uint64_t, size_t> index = IndexBySector(plan->used);
  std::vector<SlotChange> changes;
  for (const Move& m : plan->within_old) {
    changes.push_back({r0.SectorToSlot(m.from), SlotEntry{}});
    changes.push_back({r0.SectorToSlot(m.to), plan->used[index.at(m.from)].entry});
  }
  REMAPFS_RETURN_IF_ERROR(plan->old->Commit(changes));
  ApplyMoves(plan->within_old, &plan->used);
  return Status::Ok();
}

}  // namespace

Status PlanSpareResize(BlockDevice* spare, uint64_t new_spare_sectors, ResizeResult* result) {
  Plan plan;
  REMAPFS_RETURN_IF_ERROR(BuildPlan(spare, new_spare_sectors, /*repair=*/false, &plan));
  result->old_geometry = plan.old->geometry();
  result->new_geometry = plan.g1;
  result->moved_within_old = plan.within_old.size();
  result->moved_to_new_space = plan.to_new_space.size();
  result->remaps = plan.used.size();
  return Status::Ok();
}

Status ResizeSpare(BlockDevice* spare, uint64_t new_spare_sectors,
                   const ResizeProgress& maybe_progress, ResizeResult* result) {
  auto progress = [&](const char* phase, uint64_t done, uint64_t total) {
    if (maybe_progress) maybe_progress(phase, done, total);
  };
  Plan plan;
  REMAPFS_RETURN_IF_ERROR(BuildPlan(spare, new_spare_sectors, /*repair=*/true, &plan));
  const uint32_t ss = plan.g1.sector_size;
  if (spare->Size() < new_spare_sectors * ss)
    return Status::InvalidArgument("grow the spare file to the new size first");
  const size_t moves = plan.within_old.size() + plan.to_new_space.size();
  progress("moving remapped data", 0, moves);
  uint64_t moved_before = 0;  // the moves of the steps already done
  auto moved = [&](uint64_t n) { progress("moving remapped data", moved_before + n, moves); };
  REMAPFS_RETURN_IF_ERROR(MoveWithinOld(spare, &plan, moved));
  moved_before = plan.within_old.size();
  REMAPFS_RETURN_IF_ERROR(CopySectors(spare, ss, plan.to_new_space, moved));  // step 2
  ApplyMoves(plan.to_new_space, &plan.used);
  progress("moving remapped data", moves, moves);

  // Step 3: the new table, then the copies, the safe one first.
  const ReservationSet r1 = ReservationSet::ForPlacement(plan.g1.placement, new_spare_sectors);
  // In slot order, so that each Set appends.
  std::sort(plan.used.begin(), plan.used.end(),
            [](const UsedSector& a, const UsedSector& b) { return a.sector < b.sector; });
  SlotMap used;
  for (const UsedSector& u : plan.used) used.Set(r1.SectorToSlot(u.sector), EncodeSlot(u.entry));
  std::unique_ptr<MetadataStore> next = plan.old->Successor(plan.g1, std::move(used));
  const size_t copies = plan.g1.placement.copy_starts.size();
  std::vector<size_t> order{plan.first_copy};
  for (size_t c = 0; c < copies; ++c)
    if (c != plan.first_copy) order.push_back(c);
  for (size_t i = 0; i < order.size(); ++i) {
    progress("writing metadata copies", i, copies);
    REMAPFS_RETURN_IF_ERROR(next->WriteFullCopy(order[i]));
  }
  progress("writing metadata copies", copies, copies);

  // Step 4: no old header may be found later in what is now a data slot.
  const std::vector<uint8_t> zeros(format::kHeaderBytes, 0);
  for (uint64_t start : plan.old->geometry().placement.copy_starts) {
    if (start >= new_spare_sectors || r1.IsReserved(start)) continue;
    REMAPFS_RETURN_IF_ERROR(spare->Write(start * ss, zeros.data(), zeros.size()));
  }
  REMAPFS_RETURN_IF_ERROR(spare->Flush());
  result->old_geometry = plan.old->geometry();
  result->new_geometry = plan.g1;
  result->moved_within_old = plan.within_old.size();
  result->moved_to_new_space = plan.to_new_space.size();
  result->remaps = plan.used.size();
  spdlog::info("resize-spare: {} -> {} sectors, {} remaps kept, {} moved",
               result->old_geometry.spare_sectors, new_spare_sectors, result->remaps, moves);
  return Status::Ok();
}

}  // namespace remapfs
