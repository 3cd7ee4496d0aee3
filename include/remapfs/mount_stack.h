// The device stack of a mount, assembled in one place:
//
//   Volume ─┬─ FaultyDevice ── [AlignedDevice ──] MAIN file or block device
//           └─ [AlignedDevice ──] SPARE file or block device
//
// MAIN and SPARE are opened under the exclusive lock a mount holds until it
// ends, with O_DIRECT or buffered I/O as --direct-io chooses; MAIN sits
// under a FaultyDevice so the mount's control/inject file can fail its
// sectors; the spare's metadata is read once, and the Volume is opened over
// it. No FUSE, no command line: the CLI parses arguments, calls
// OpenMountStack and words its failures for the user.
//
// Logging: each device's I/O mode is logged (spdlog info) as it is opened,
// an automatic fall-back to buffered I/O as a warning, and the error
// recovery settings once the Volume is open.
//
// Thread safety: the functions share no state and may be called from any
// thread. A second stack over the same files fails at kOpenMain or
// kOpenSpare with Busy (the exclusive lock). The Volume and FaultyDevice in
// a MountStack are as thread-safe as volume.h and faulty_device.h say.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "remapfs/block_device.h"
#include "remapfs/faulty_device.h"
#include "remapfs/status.h"
#include "remapfs/volume.h"

namespace remapfs {

// --direct-io: O_DIRECT makes an I/O error belong to the request that
// caused it; buffered I/O reports a failed writeback only at the next fsync.
enum class DirectIoMode { kAuto, kOn, kOff };

// False unless `text` is auto, on or off.
bool ParseDirectIoMode(std::string_view text, DirectIoMode* out);

struct DirectIoChoice {
  DirectIoMode mode;
  bool direct;         // open MAIN and SPARE with O_DIRECT
  std::string reason;  // for the log
};

// auto: O_DIRECT when MAIN is a block device (a real, possibly failing,
// disk), buffered for an image file.
DirectIoChoice ChooseDirectIo(DirectIoMode mode, const std::string& main_path);

// How one device of the stack was opened.
struct DeviceIo {
  bool direct = false;     // O_DIRECT
  uint32_t alignment = 0;  // with O_DIRECT, the AlignedDevice's; else 0
  std::string reason;      // why this mode, as the log says it
};

// Opens a file as OpenFileDevice does (same contract, same errors).
using DeviceOpener = std::function<Status(const std::string& path, const FileDeviceOptions&,
                                          std::unique_ptr<BlockDevice>* out)>;

// Opens MAIN or SPARE (`role`, for the log) as `choice` asks, exclusively
// locked, through `open` (OpenFileDevice when empty), and logs which I/O
// mode it got. In auto mode a file whose filesystem refuses O_DIRECT
// (tmpfs: InvalidArgument) is opened buffered, with a warning; with
// `--direct-io on` that refusal is the error returned. `io` may be null.
Status OpenDeviceForMount(std::string_view role, const std::string& path, bool read_only,
                          const DirectIoChoice& choice, const DeviceOpener& open,
                          std::unique_ptr<BlockDevice>* out, DeviceIo* io);

struct MountStackRequest {
  std::string main_path;
  std::string spare_path;
  bool read_only = false;  // MAIN only: the spare takes metadata commits
  DirectIoMode direct_io = DirectIoMode::kAuto;
  // As given by the user. OpenMountStack sets `main` (MAIN's binding) and
  // `main_io_unit` (the O_DIRECT alignment) itself.
  VolumeOptions volume;
  // For tests: opens MAIN and SPARE instead of OpenFileDevice (empty: that).
  DeviceOpener open_device;
};

// The order OpenMountStack works in; a failure names the step it stopped at.
enum class MountStackStep {
  kSameFile,      // MAIN and SPARE are one file (InvalidArgument)
  kOpenMain,      // MAIN could not be opened or locked
  kOpenSpare,     // SPARE could not be opened or locked
  kIdentifyMain,  // MainIdentity failed on MAIN
  kMetadata,      // MetadataStore::Open refused the spare (wrong MAIN, ...)
  kVolume,        // Volume::Open failed over loaded metadata
};

struct MountStackFailure {
  MountStackStep step = MountStackStep::kSameFile;
  Status status;
  // At kMetadata, the spare as it was opened (else null), so the caller
  // can say why in its own words (is it formatted at all?) without opening
  // it again. Nothing was written to it.
  std::unique_ptr<BlockDevice> spare;
};

struct MountStack {
  std::unique_ptr<Volume> volume;       // owns MAIN, SPARE and the metadata
  FaultyDevice* main_faults = nullptr;  // MAIN's fault layer; owned by volume
  DeviceIo main_io;
  DeviceIo spare_io;
};

// Assembles the stack for `request`, in the order of MountStackStep. On
// success fills `out`; on failure returns the step's Status, fills
// `failure` (if not null) and leaves `out` alone. The metadata is opened
// with repair (stale copies rewritten), which MetadataStore::Open does only
// after its checks: a spare refused at kMetadata is left unchanged. The
// devices, and so their locks, live as long as `out->volume`.
Status OpenMountStack(const MountStackRequest& request, MountStack* out,
                      MountStackFailure* failure);

}  // namespace remapfs
