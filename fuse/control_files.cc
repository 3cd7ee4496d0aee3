// The files under control/: generated text for reading, one complete
// request per write() for writing (SPEC "Control-file input grammar").
#include <fcntl.h>

#include <array>
#include <mutex>

#include <fmt/format.h>

#include "fuse_callback.h"
#include "remapfs/health.h"
#include "remapfs/inject_command.h"
#include "remapfs_fs.h"

namespace remapfs::fuse {
namespace {

constexpr std::array<ControlFile, 8> kControlFiles = {{
    {"add_bad", ControlKind::kAddBad, 0200},
    {"remove", ControlKind::kRemove, 0200},
    {"remaps", ControlKind::kRemaps, 0444},
    {"reservations", ControlKind::kReservations, 0444},
    {"status", ControlKind::kStatus, 0444},
    {"inject", ControlKind::kInject, 0600},
    {"scrub", ControlKind::kScrub, 0600},
    {"status.json", ControlKind::kStatusJson, 0444},
}};

// The kernel splits a write() larger than max_write into several requests,
// and, for a buffer not page aligned, a piece can fall short of max_write by
// up to one page. Refusing every request within 64 KiB (the largest page
// size) of max_write makes the first piece of any split write fail, so the
// whole write() fails and "one write() is one request" stays true.
constexpr size_t kMaxControlWrite = kMaxRequestBytes - (64 << 10);

// Per-open state of a readable control file: a snapshot of its text, taken
// by the first read and by every read at offset 0, so `cat` sees one
// consistent text and a reader polling with pread(0) sees fresh values.
struct ControlHandle {
  std::mutex mu;
  std::string text;
  bool taken = false;  // `text` holds a snapshot
};

ControlHandle* HandleOf(const fuse_file_info* fi) {
  return reinterpret_cast<ControlHandle*>(static_cast<uintptr_t>(fi->fh));
}

}  // namespace

std::span<const ControlFile> ControlFiles() { return kControlFiles; }

const ControlFile* ControlFileByIno(fuse_ino_t ino) {
  if (ino < kFirstControlIno || ino - kFirstControlIno >= kControlFiles.size()) {
    return nullptr;
  }
  return &kControlFiles[ino - kFirstControlIno];
}

std::string RemapFs::ControlText(ControlKind kind) const {
  switch (kind) {
    case ControlKind::kRemaps: return FormatRemaps(volume_->Remaps());
    case ControlKind::kReservations: return FormatReservations(volume_->Reservations());
    case ControlKind::kStatus:
      // The inject latency is a knob of the fault layer, not Volume state.
      return FormatStatus(volume_->Stats()) + ScrubStatusLines() +
             fmt::format("inject_latency_ms: {}\n", main_faults_->error_latency().count());
    case ControlKind::kInject: return FormatFaults(main_faults_->Faults());
    case ControlKind::kScrub: return ScrubText();
    case ControlKind::kStatusJson:
      if (settings_.status_json) return settings_.status_json() + "\n";
      return StatusJsonFromSample();
    case ControlKind::kAddBad:
    case ControlKind::kRemove: break;
  }
  return {};
}

LiveStats RemapFs::Sample() const {
  LiveStats s;
  s.volume = volume_->Stats();
  s.scrub = scrubber_.Progress();
  s.inject_latency_ms = main_faults_->error_latency().count();
  return s;
}

std::string RemapFs::StatusJsonFromSample() const {
  VolumeStatus status;
  status.mounted = true;
  status.reading.stats = Sample();
  status.now_unix_ms = status.reading.stats.heartbeat_unix_ms = UnixMillisNow();
  return StatusJson(status, AssessHealth(status, {})) + "\n";
}

int RemapFs::ControlOpen(fuse_req_t req, const ControlFile& file, fuse_file_info* fi) {
  int access_mode = fi->flags & O_ACCMODE;
  bool wants_read = access_mode != O_WRONLY;
  bool wants_write = access_mode != O_RDONLY;
  // Even root cannot read a write-only command file or write a report.
  if ((wants_read && !(file.mode & 0444)) || (wants_write && !(file.mode & 0222))) {
    return -EACCES;
  }
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->nonseekable = 0;
  fi->fh = 0;
  if (wants_read) {
    fi->fh = reinterpret_cast<uintptr_t>(new ControlHandle);
  }
  if (fuse_reply_open(req, fi) != 0) ControlRelease(fi);  // open interrupted
  return 0;
}

int RemapFs::ControlRead(fuse_req_t req, const ControlFile& file, size_t size, off_t off,
                         fuse_file_info* fi) {
  ControlHandle* handle = HandleOf(fi);
  if (handle == nullptr || off < 0) return -EBADF;
  // The reply is sent from a copy, after the lock is released: as soon as
  // the reply reaches the kernel the reader may close the file, and another
  // worker may run RELEASE and delete the handle. Anything touching the
  // handle after the reply (a lock_guard's unlock of handle->mu) would write
  // into freed memory: it corrupted that worker's malloc tcache, and the
  // daemon aborted with "unaligned tcache chunk detected" at unmount.
  std::string reply;
  {
    std::lock_guard lock(handle->mu);
    if (off == 0 || !handle->taken) handle->text = ControlText(file.kind);
    handle->taken = true;
    size_t begin = std::min<size_t>(off, handle->text.size());
    size_t len = std::min(size, handle->text.size() - begin);
    reply.assign(handle->text, begin, len);
  }
  fuse_reply_buf(req, reply.data(), reply.size());
  return 0;
}

void RemapFs::ControlRelease(fuse_file_info* fi) {
  delete HandleOf(fi);
  fi->fh = 0;
}

int RemapFs::ControlWrite(fuse_req_t req, const ControlFile& file, const char* buf, size_t size) {
  if (!IsOwnerOrRoot(req)) return -EACCES;
  if (settings_.read_only) return -EROFS;
  Status st;
  if (size > kMaxControlWrite) {
    st = Status::InvalidArgument(
        fmt::format("{}: a write of {} bytes is too long (limit {} bytes per write)", file.name,
                    size, kMaxControlWrite));
  } else {
    st = ApplyControlWrite(file.kind, std::string_view(buf, size));
  }
  if (settings_.status_changed) settings_.status_changed();
  if (!st.ok()) {
    volume_->SetLastError(st.WithContext(file.name));
    return ToFuseErrno(st, file.name);
  }
  fuse_reply_write(req, size);
  return 0;
}

Status RemapFs::ApplyControlWrite(ControlKind kind, std::string_view text) {
  uint64_t main_sectors = volume_->geometry().main_sectors;
  switch (kind) {
    case ControlKind::kAddBad:
    case ControlKind::kRemove: {
      std::vector<SectorRange> ranges;
      REMAPFS_RETURN_IF_ERROR(ParseSectorList(text, main_sectors, &ranges));
      Status st = kind == ControlKind::kAddBad ? volume_->AddBad(ranges) : volume_->Remove(ranges);
      if (st.ok()) {
        spdlog::info("{}: {} range(s) applied", kind == ControlKind::kAddBad ? "add_bad" : "remove",
                     ranges.size());
      }
      return st;
    }
    case ControlKind::kInject: {
      std::vector<InjectCommand> commands;
      REMAPFS_RETURN_IF_ERROR(ParseInjectCommands(text, main_sectors, &commands));
      ApplyInjectCommands(commands, main_faults_);
      spdlog::info("inject: {} command(s) applied", commands.size());
      return Status::Ok();
    }
    case ControlKind::kScrub: return ApplyScrubCommand(text);
    case ControlKind::kRemaps:
    case ControlKind::kReservations:
    case ControlKind::kStatus:
    case ControlKind::kStatusJson: break;
  }
  return Status::Permission("this control file is read-only");
}

}  // namespace remapfs::fuse
