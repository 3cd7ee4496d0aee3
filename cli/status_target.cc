#include "status_target.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "common.h"

namespace remapfs::cli {
namespace {

// The page whose mountpoint is `path`, if a live one exists.
bool FindPageByMountpoint(const std::string& path, LiveReading* out) {
  for (const std::string& name : ListLiveSegments()) {
    LiveReading r;
    if (ReadLivePage(name, &r).ok() && r.identity.mountpoint == path) {
      *out = std::move(r);
      return true;
    }
  }
  return false;
}

// An unmounted spare's figures, as `info` reads them.
void FillOffline(const std::string& path, const MetadataStore& store, VolumeStatus* out) {
  out->mounted = false;
  LiveIdentity& id = out->reading.identity;
  id.volume_id = VolumeIdHex(store.volume_id());
  id.spare_path = path;
  id.main_path = store.main().path;
  VolumeStats& v = out->reading.stats.volume;
  const Geometry& g = store.geometry();
  v.sector_size = g.sector_size;
  v.main_sectors = g.main_sectors;
  v.spare_sectors = g.spare_sectors;
  v.strategy = g.placement.strategy;
  v.metadata_copies = g.placement.copy_starts.size();
  v.metadata_valid_copies = store.valid_copies();
  v.metadata_sequence = store.sequence();
  v.reserved_sectors = store.reservations().reserved_sectors();
  v.spare_capacity = g.spare_capacity();
  for (const auto& item : store.used_slots()) {
    ++v.spare_used;
    if (DecodeSlot(item.value).pending) ++v.pending;
  }
  v.spare_free = store.slot_count() - v.spare_used;
  v.remapped = v.spare_used - v.pending;
}

Status ResolveSpare(const std::string& target, VolumeStatus* out, std::string* message) {
  // No lock: a mount holds the spare's lock, and status must work then.
  // Read-only, so nothing here can change the spare.
  FileDeviceOptions options;
  options.read_only = true;
  options.exclusive_lock = false;
  std::unique_ptr<BlockDevice> device;
  Status st = OpenFileDevice(target, options, &device);
  if (!st.ok()) {
    *message = DescribeOpenError("SPARE", target, st);
    return st;
  }
  MetadataOpenOptions open_options;
  open_options.repair = false;
  open_options.verify_table = false;
  std::unique_ptr<MetadataStore> store;
  st = MetadataStore::Open(device.get(), open_options, &store);
  if (!st.ok()) {
    *message = DescribeMetadataError(target, device.get(), st);
    return st;
  }
  const std::string name = LiveSegmentName(VolumeIdHex(store->volume_id()));
  if (ReadLivePage(name, &out->reading).ok()) {
    out->mounted = true;
    return Status::Ok();
  }
  // No live page: unmounted, or mounted by a daemon that has none.
  std::unique_ptr<FileLock> lock;
  if (FileLock::Acquire(target, /*exclusive=*/false, &lock).code() == Status::Code::kBusy) {
    *message = fmt::format("SPARE '{}' is in use (mounted?) but no live status page exists for "
                           "it (/dev/shm/{})",
                           target, name);
    return Status::Busy(*message);
  }
  FillOffline(PathWithoutTouching(target), *store, out);
  return Status::Ok();
}

}  // namespace

std::string PathWithoutTouching(const std::string& target) {
  std::string path = target;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (parent.empty()) parent = "/";
  char resolved[PATH_MAX];
  if (base.empty() || base == "." || base == "..") {
    // "/", "x/." or "x/..": only the whole path says which directory.
    return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
  }
  if (realpath(parent.c_str(), resolved) == nullptr) return path;
  std::string dir = resolved;
  return dir == "/" ? "/" + base : dir + "/" + base;
}

Status ResolveStatusTarget(const std::string& target, VolumeStatus* out, std::string* message) {
  out->now_unix_ms = UnixMillisNow();
  const std::string path = PathWithoutTouching(target);
  if (FindPageByMountpoint(path, &out->reading)) {
    out->mounted = true;
    return Status::Ok();
  }
  // Not a live mountpoint of ours, so stat'ing it cannot hang on us.
  struct stat st {};
  if (stat(target.c_str(), &st) != 0) {
    *message = fmt::format("'{}': {}", target, std::strerror(errno));
    return Status::NotFound(*message);
  }
  if (S_ISDIR(st.st_mode)) {
    *message = fmt::format("'{}' is not the mountpoint of a mounted remapfs volume (no live "
                           "status page in /dev/shm names it)",
                           target);
    return Status::NotFound(*message);
  }
  Status s = ResolveSpare(target, out, message);
  out->now_unix_ms = UnixMillisNow();
  return s;
}

}  // namespace remapfs::cli
