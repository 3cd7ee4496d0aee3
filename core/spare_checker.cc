#include "remapfs/spare_checker.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "remapfs/placement.h"

namespace remapfs {
namespace {

void Problem(CheckResult* r, std::string message) {
  r->findings.push_back({false, std::move(message)});
}

// Invariant 7: each copy carries magic, version, sequence, checksums; the
// newest valid one wins. Open already classified and (with repair) fixed
// them; report what it found.
void CheckCopies(const MetadataStore& store, CheckResult* r) {
  const auto& reports = store.copy_reports();
  for (size_t i = 0; i < reports.size(); ++i) {
    const CopyReport& c = reports[i];
    if (c.state == CopyState::kValid) continue;
    std::string what = c.state == CopyState::kStale ? fmt::format("is stale (sequence {} < {})",
                                                                  c.sequence, store.sequence())
                                                    : fmt::format("is corrupt ({})", c.problem);
    r->findings.push_back(
        {c.rewritten, fmt::format("metadata copy {} at sector {} {}{}", i, c.start, what,
                                  c.rewritten ? "; rewritten from the newest copy" : "")});
  }
}

// Invariants 1 and 4 and the placement table: reservations are exactly the
// copies' extents, inside the spare, and every other sector has a slot.
void CheckReservations(const MetadataStore& store, CheckResult* r) {
  const Geometry& g = store.geometry();
  const Placement& p = g.placement;
  std::vector<std::pair<uint64_t, uint64_t>> expected, actual;
  for (uint64_t start : p.copy_starts) {
    expected.emplace_back(start, start + p.copy_sectors - 1);
    if (start + p.copy_sectors > g.spare_sectors) {
      Problem(r, fmt::format("metadata copy at sector {} runs past the end of "
                             "the spare ({} sectors)",
                             start, g.spare_sectors));
    }
  }
  std::sort(expected.begin(), expected.end());
  for (size_t i = 1; i < expected.size(); ++i) {
    if (expected[i].first <= expected[i - 1].second) {
      Problem(r, fmt::format("metadata copies at sectors {} and {} overlap", expected[i - 1].first,
                             expected[i].first));
    }
  }
  for (const Extent& e : store.reservations().extents()) {
    actual.emplace_back(e.first, e.last);
  }
  if (actual != expected) {
    Problem(r, "reservations are not exactly the metadata copies' extents");
  }
  uint64_t free_sectors = g.spare_sectors - store.reservations().reserved_sectors();
  if (store.slot_count() != free_sectors) {
    Problem(r, fmt::format("the slot table has {} slots for {} unreserved "
                           "sectors",
                           store.slot_count(), free_sectors));
  }
  Placement rules;
  if (ComputePlacement(g.sector_size, g.spare_sectors, p.strategy, &rules).ok() &&
      (rules.copy_sectors != p.copy_sectors || rules.copy_starts != p.copy_starts)) {
    Problem(r, fmt::format("placement ({} copies of {} sectors at {}) differs "
                           "from the {} rules",
                           p.copy_starts.size(), p.copy_sectors, fmt::join(p.copy_starts, ","),
                           StrategyName(p.strategy)));
  }
}

// Invariants 2 and 3: every remap names a main sector inside MAIN, once, and
// a spare sector that is unreserved and inside the spare. Returns the slots
// whose entries break them, ascending; of a main sector remapped twice, the
// lowest slot is kept.
std::vector<uint64_t> CheckTable(const MetadataStore& store, CheckResult* r) {
  const Geometry& g = store.geometry();
  const ReservationSet& res = store.reservations();
  std::vector<std::pair<uint64_t, uint64_t>> main_and_slot;  // 16 bytes a remap, sorted below
  main_and_slot.reserve(store.used_slots().size());
  std::vector<uint64_t> bad_slots;
  for (const auto& [slot, raw] : store.used_slots()) {
    const SlotEntry e = DecodeSlot(raw);
    (e.pending ? r->pending : r->remapped)++;
    uint64_t spare_sector = slot < res.slot_count() ? res.SlotToSector(slot) : g.spare_sectors;
    if (spare_sector >= g.spare_sectors || res.IsReserved(spare_sector)) {
      Problem(r, fmt::format("slot {} lies outside the usable spare", slot));
      bad_slots.push_back(slot);
    } else if (e.main_sector >= g.main_sectors) {
      Problem(r, fmt::format("spare sector {} remaps main sector {}, past the "
                             "end of MAIN ({} sectors)",
                             spare_sector, e.main_sector, g.main_sectors));
      bad_slots.push_back(slot);
    } else {
      main_and_slot.emplace_back(e.main_sector, slot);
    }
  }
  std::sort(main_and_slot.begin(), main_and_slot.end());
  size_t kept = 0;  // the lowest slot of main_and_slot[i]'s main sector
  for (size_t i = 1; i < main_and_slot.size(); ++i) {
    const auto [main, slot] = main_and_slot[i];
    if (main != main_and_slot[kept].first) {
      kept = i;
      continue;
    }
    Problem(r, fmt::format("main sector {} is remapped twice (spare sectors "
                           "{} and {})",
                           main, res.SlotToSector(main_and_slot[kept].second),
                           res.SlotToSector(slot)));
    bad_slots.push_back(slot);
  }
  std::sort(bad_slots.begin(), bad_slots.end());
  return bad_slots;
}

// Frees the offending entries (keeping the first remap of a doubled main
// sector) in one commit; marks the findings repaired when it succeeds.
void RepairTable(MetadataStore* store, const std::vector<uint64_t>& bad_slots,
                 size_t first_table_finding, CheckResult* r) {
  std::vector<SlotChange> changes;
  for (uint64_t slot : bad_slots) changes.push_back({slot, SlotEntry{}});
  Status st = store->Commit(changes);
  if (!st.ok()) {
    Problem(r, "freeing the broken table entries failed: " + st.ToString());
    return;
  }
  for (size_t i = first_table_finding; i < r->findings.size(); ++i) {
    r->findings[i].repaired = true;
    r->findings[i].message += "; entry freed";
  }
}

}  // namespace

bool CheckResult::HasProblems() const {
  return std::any_of(findings.begin(), findings.end(),
                     [](const Finding& f) { return !f.repaired; });
}

bool CheckResult::HasRepairs() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.repaired; });
}

int CheckResult::ExitCode() const {
  if (HasProblems()) return 4;
  return HasRepairs() ? 1 : 0;
}

CheckResult CheckSpare(MetadataStore* store, bool repair, std::optional<uint64_t> main_bytes,
                       const MainBinding* main) {
  CheckResult result;
  CheckCopies(*store, &result);
  CheckReservations(*store, &result);
  size_t first_table_finding = result.findings.size();
  std::vector<uint64_t> bad_slots = CheckTable(*store, &result);
  if (repair && !bad_slots.empty()) {
    RepairTable(store, bad_slots, first_table_finding, &result);
  }
  uint64_t expected = store->geometry().main_bytes();
  if (main_bytes && *main_bytes != expected) {
    Problem(&result, fmt::format("MAIN is {} bytes but the spare was formatted "
                                 "for {} bytes",
                                 *main_bytes, expected));
  }
  if (main) {
    if (Status st = store->CheckMain(*main); !st.ok()) Problem(&result, st.message());
  }
  return result;
}

}  // namespace remapfs
