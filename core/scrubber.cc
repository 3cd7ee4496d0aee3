// Scrubber: the background scan thread. See include/remapfs/scrubber.h.
#include "remapfs/scrubber.h"

#include <algorithm>
#include <system_error>

#include <spdlog/spdlog.h>

namespace remapfs {

namespace {

constexpr uint64_t kDefaultChunkBytes = 1 << 20;

using Clock = std::chrono::steady_clock;

}  // namespace

std::string_view ScrubStateName(ScrubState state) {
  switch (state) {
    case ScrubState::kIdle: return "idle";
    case ScrubState::kRunning: return "running";
    case ScrubState::kDone: return "done";
    case ScrubState::kStopped: return "stopped";
  }
  return "unknown";
}

Scrubber::Scrubber(Volume* volume, ScrubOptions options) : volume_(volume), options_(options) {}

Scrubber::~Scrubber() { Stop(); }

Status Scrubber::StartWholeVolume() {
  return Start({SectorRange{0, volume_->geometry().main_sectors - 1}});
}

Status Scrubber::Start(std::vector<SectorRange> ranges) {
  std::lock_guard control(control_mu_);
  if (Progress().state == ScrubState::kRunning) {
    return Status::Busy("a scrub is already running (write 'stop' first)");
  }
  if (ranges.empty()) return Status::InvalidArgument("scrub: no sectors given");
  const uint64_t main_sectors = volume_->geometry().main_sectors;
  uint64_t total = 0;
  for (const SectorRange& r : ranges) {
    if (r.first > r.last || r.last >= main_sectors) {
      return Status::InvalidArgument("scrub: sectors " + std::to_string(r.first) + "-" +
                                     std::to_string(r.last) + " are not inside MAIN (" +
                                     std::to_string(main_sectors) + " sectors)");
    }
    total += r.count();
  }
  JoinFinishedThread();
  {
    std::lock_guard lock(mu_);
    progress_ = ScrubProgress{ScrubState::kRunning, 0, total, 0};
    stop_requested_ = false;
  }
  try {
    thread_ = std::thread(&Scrubber::Run, this, std::move(ranges));
  } catch (const std::system_error& e) {
    Finish(ScrubState::kStopped);
    return Status::IoError(std::string("scrub: cannot start its thread: ") + e.what(),
                           e.code().value() > 0 ? e.code().value() : EAGAIN);
  }
  spdlog::info("scrub: started over {} sector(s)", total);
  return Status::Ok();
}

void Scrubber::Stop() {
  std::lock_guard control(control_mu_);
  {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
  }
  changed_.notify_all();
  JoinFinishedThread();
}

void Scrubber::JoinFinishedThread() {
  if (thread_.joinable()) thread_.join();
}

void Scrubber::Wait() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return progress_.state != ScrubState::kRunning; });
}

ScrubProgress Scrubber::Progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

void Scrubber::Run(std::vector<SectorRange> ranges) {
  const uint64_t chunk = options_.chunk_sectors != 0
                             ? options_.chunk_sectors
                             : std::max<uint64_t>(1, kDefaultChunkBytes /
                                                         volume_->geometry().sector_size);
  const Clock::time_point started = Clock::now();
  for (const SectorRange& range : ranges) {
    if (!ScanRange(range, chunk, started)) return;
  }
  Finish(ScrubState::kDone);
}

bool Scrubber::ScanRange(const SectorRange& range, uint64_t chunk, Clock::time_point started) {
  for (uint64_t sector = range.first;;) {
    if (!PaceUntil(started)) {
      Finish(ScrubState::kStopped);
      return false;
    }
    const uint64_t count = std::min(chunk, range.last - sector + 1);
    Volume::ScrubFindings findings;
    Status st = volume_->ScrubRange(sector, count, &findings);
    {
      std::lock_guard lock(mu_);
      progress_.done += count;
      progress_.found += findings.pending + findings.remapped;
    }
    if (!st.ok()) {
      st = st.WithContext("scrub at main sector " + std::to_string(sector));
      spdlog::error("{}; scrub stopped", st.ToString());
      volume_->SetLastError(st);
      Finish(ScrubState::kStopped);
      return false;
    }
    if (count > range.last - sector) return true;  // no overflow at the end
    sector += count;
  }
}

// The schedule is cumulative from the start, so short sleeps and slow reads
// average out to the configured rate instead of drifting.
bool Scrubber::PaceUntil(Clock::time_point started) {
  std::unique_lock lock(mu_);
  if (options_.bytes_per_second == 0) return !stop_requested_;
  const double seconds = static_cast<double>(progress_.done) * volume_->geometry().sector_size /
                         static_cast<double>(options_.bytes_per_second);
  const auto deadline = started + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  return !changed_.wait_until(lock, deadline, [&] { return stop_requested_; });
}

void Scrubber::Finish(ScrubState state) {
  ScrubProgress p;
  {
    std::lock_guard lock(mu_);
    progress_.state = state;
    p = progress_;
  }
  changed_.notify_all();
  spdlog::info("scrub: {} after {} of {} sector(s); {} found", ScrubStateName(state), p.done,
               p.total, p.found);
}

}  // namespace remapfs
