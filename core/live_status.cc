// The live status segment: created, published and removed by the daemon
// (LiveStatusPublisher), read by anyone (ReadLivePage). live_status.h has
// the contract, live_page.cc the layout.
#include "remapfs/live_status.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <boost/interprocess/managed_shared_memory.hpp>

#include "live_page.h"

namespace remapfs {

namespace bip = boost::interprocess;

namespace {

// Large enough for the page and the segment's own index.
constexpr size_t kSegmentBytes = 64 << 10;
constexpr const char* kShmDir = "/dev/shm";
constexpr std::string_view kStaleWord = "stale";

void CopyText(char* dst, size_t size, const std::string& text) {
  std::memset(dst, 0, size);
  std::memcpy(dst, text.data(), std::min(text.size(), size - 1));
}

bool PidAlive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

// /dev/shm is writable by every user: a page is trusted only when root or
// the reader owns it and nobody else may write it, so another user cannot
// plant one that a reader (root's monitoring) would walk.
bool TrustedSegment(const std::string& name) {
  struct stat st {};
  const std::string path = fmt::format("{}/{}", kShmDir, name);
  if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (st.st_uid != 0 && st.st_uid != geteuid()) return false;
  return (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// A fixed char array of the page as a string, even when not terminated.
template <size_t N>
std::string FixedString(const char (&field)[N]) {
  return std::string(field, strnlen(field, N));
}

}  // namespace

std::string VolumeIdHex(const std::array<uint8_t, 16>& id) {
  std::string hex;
  for (uint8_t b : id) hex += fmt::format("{:02x}", b);
  return hex;
}

std::string LiveSegmentName(const std::string& volume_id_hex) { return "remapfs-" + volume_id_hex; }

uint64_t UnixMillisNow() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

uint64_t LiveStats::ErrorsLastHour(uint64_t now_unix_ms) const {
  const uint64_t now_minute = now_unix_ms / 60000;
  uint64_t sum = 0;
  for (const auto& [minute, count] : error_minutes) {
    if (minute + kLiveErrorMinutes > now_minute) sum += count;
  }
  return sum;
}

struct LiveStatusPublisher::Impl {
  std::string name;
  Options options;
  std::function<LiveStats()> sample;
  bip::managed_shared_memory segment;
  LivePage* page = nullptr;
  // The publisher's own error history (the page gets a copy).
  std::vector<std::pair<uint64_t, uint64_t>> minutes;
  uint64_t last_errors = 0;
  bool first = true;
};

// Pages of daemons that died (kill -9, a crash) stay until their volume is
// mounted again; each mount sweeps them, so they do not pile up. A page
// whose pid was reused meanwhile stays: harmless, it names another mount.
void RemoveStaleLiveSegments() {
  for (const std::string& name : ListLiveSegments()) {
    LiveReading r;
    Status st = ReadLivePage(name, &r);
    if (st.code() == Status::Code::kNotFound &&
        st.message().find(kStaleWord) != std::string::npos) {
      bip::shared_memory_object::remove(name.c_str());
    }
  }
}

Status LiveStatusPublisher::Create(const LiveIdentity& identity, std::function<LiveStats()> sample,
                                   Options options, std::unique_ptr<LiveStatusPublisher>* out) {
  RemoveStaleLiveSegments();
  auto impl = std::make_unique<Impl>();
  impl->name = LiveSegmentName(identity.volume_id);
  impl->options = std::move(options);
  impl->sample = std::move(sample);
  // Built under a temporary name and renamed into view whole, so a reader
  // never finds a half-built segment.
  const std::string building = impl->name + ".new";
  try {
    bip::shared_memory_object::remove(building.c_str());
    impl->segment = bip::managed_shared_memory(bip::create_only, building.c_str(), kSegmentBytes,
                                               nullptr, bip::permissions(0644));
    LivePage* page = impl->segment.construct<LivePage>(kLivePageObject)();
    page->pid = identity.pid;
    CopyText(page->volume_id, sizeof(page->volume_id), identity.volume_id);
    CopyText(page->mountpoint, kLivePathBytes, identity.mountpoint);
    CopyText(page->main_path, kLivePathBytes, identity.main_path);
    CopyText(page->spare_path, kLivePathBytes, identity.spare_path);
    page->magic.store(kLivePageMagic, std::memory_order_release);
    impl->page = page;
  } catch (const bip::interprocess_exception& e) {
    bip::shared_memory_object::remove(building.c_str());
    return Status::IoError(fmt::format("live status segment {}: {}", impl->name, e.what()));
  }
  const std::string from = fmt::format("{}/{}", kShmDir, building);
  const std::string to = fmt::format("{}/{}", kShmDir, impl->name);
  // The umask may have narrowed the mode: readers need 0644.
  chmod(from.c_str(), 0644);
  out->reset(new LiveStatusPublisher(std::move(impl)));
  (*out)->PublishNow();
  if (rename(from.c_str(), to.c_str()) != 0) {
    const int err = errno;
    bip::shared_memory_object::remove(building.c_str());
    out->reset();
    return Status::FromErrno(err, "live status segment " + to);
  }
  return Status::Ok();
}

LiveStatusPublisher::LiveStatusPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LiveStatusPublisher::~LiveStatusPublisher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  bip::shared_memory_object::remove(impl_->name.c_str());
}

void LiveStatusPublisher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LiveStatusPublisher::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    PublishNow();
    lock.lock();
    cv_.wait_for(lock, impl_->options.interval, [this] { return stop_; });
  }
}

void LiveStatusPublisher::PublishNow() {
  std::lock_guard lock(publish_mu_);  // one writer per page at a time
  Impl& d = *impl_;
  LiveStats stats = d.sample();
  const uint64_t now = d.options.now_unix_ms();
  stats.heartbeat_unix_ms = now;
  stats.log_write_failures = d.options.log_write_failures();
  // Errors since the last publish go to the current minute.
  const uint64_t errors = stats.volume.read_errors + stats.volume.write_errors;
  const uint64_t fresh = d.first ? errors : errors - std::min(errors, d.last_errors);
  d.first = false;
  d.last_errors = errors;
  const uint64_t minute = now / 60000;
  if (d.minutes.empty() || d.minutes.back().first != minute) d.minutes.emplace_back(minute, 0);
  d.minutes.back().second += fresh;
  while (d.minutes.size() > kLiveErrorMinutes ||
         d.minutes.front().first + kLiveErrorMinutes <= minute) {
    d.minutes.erase(d.minutes.begin());
  }
  stats.error_minutes = d.minutes;
  WriteLiveSlots(d.page, stats);
}

LiveReading LiveStatusPublisher::Read() const {
  LiveReading r;
  const LivePage& p = *impl_->page;
  r.identity = {p.volume_id, p.pid, p.mountpoint, p.main_path, p.spare_path};
  ReadLiveSlots(p, &r.stats);
  return r;
}

Status ReadLivePage(const std::string& name, LiveReading* out) {
  if (!TrustedSegment(name)) {
    return Status::NotFound(name + ": not owned by root or this user, or writable by others");
  }
  try {
    bip::managed_shared_memory segment(bip::open_read_only, name.c_str());
    // No lock: the segment's index is complete before it gets this name,
    // and a reader must never wait for the daemon.
    const LivePage* page = segment.find_no_lock<LivePage>(kLivePageObject).first;
    if (page == nullptr || page->magic.load(std::memory_order_acquire) != kLivePageMagic ||
        page->version != kLivePageVersion) {
      return Status::NotFound(name + ": not a live status page of this version");
    }
    if (!PidAlive(page->pid)) {
      return Status::NotFound(
          fmt::format("{}: {} (daemon {} is gone)", name, kStaleWord, page->pid));
    }
    LiveIdentity& id = out->identity;
    id = {FixedString(page->volume_id), page->pid, FixedString(page->mountpoint),
          FixedString(page->main_path), FixedString(page->spare_path)};
    if (!ReadLiveSlots(*page, &out->stats)) {
      return Status::IoError(name + ": no consistent copy of the counters");
    }
    return Status::Ok();
  } catch (const bip::interprocess_exception& e) {
    return Status::NotFound(fmt::format("{}: {}", name, e.what()));
  }
}

std::vector<std::string> ListLiveSegments() {
  std::vector<std::string> names;
  DIR* dir = opendir(kShmDir);
  if (dir == nullptr) return names;
  while (dirent* e = readdir(dir)) {
    std::string_view n = e->d_name;
    if (n.starts_with("remapfs-") && !n.ends_with(".new")) names.emplace_back(n);
  }
  closedir(dir);
  return names;
}

}  // namespace remapfs
