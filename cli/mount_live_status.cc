#include "mount_live_status.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "remapfs/health.h"

namespace remapfs::cli {

namespace {

// Absolute, as the daemon runs in / and readers compare paths.
std::string Absolute(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

}  // namespace

MountLiveStatus::MountLiveStatus(std::string mountpoint, std::string main_path,
                                 std::string spare_path, LiveStatusPublisher::Options options)
    : options_(std::move(options)) {
  identity_.mountpoint = std::move(mountpoint);  // already absolute
  identity_.main_path = Absolute(main_path);
  identity_.spare_path = Absolute(spare_path);
}

void MountLiveStatus::Start(const fuse::RemapFs* fs) {
  std::lock_guard lock(mu_);
  fs_ = fs;
  identity_.pid = getpid();
  identity_.volume_id = VolumeIdHex(fs->volume().volume_id());
  Status st = LiveStatusPublisher::Create(
      identity_, [fs] { return fs->Sample(); }, options_, &publisher_);
  if (!st.ok()) {
    spdlog::warn("no live status page ('remapfs status' will not see this mount): {}",
                 st.message());
    return;
  }
  publisher_->Start();
}

void MountLiveStatus::Stop() {
  std::lock_guard lock(mu_);
  publisher_.reset();
  fs_ = nullptr;
}

void MountLiveStatus::PublishNow() {
  std::lock_guard lock(mu_);
  if (publisher_ != nullptr) publisher_->PublishNow();
}

std::string MountLiveStatus::Json() {
  VolumeStatus status;
  status.mounted = true;
  {
    std::lock_guard lock(mu_);
    if (publisher_ != nullptr) {
      publisher_->PublishNow();
      status.reading = publisher_->Read();
    } else if (fs_ != nullptr) {
      status.reading.identity = identity_;
      status.reading.stats = fs_->Sample();
      status.reading.stats.heartbeat_unix_ms = UnixMillisNow();
    }
  }
  status.now_unix_ms = UnixMillisNow();
  return StatusJson(status, AssessHealth(status, {}));
}

}  // namespace remapfs::cli
