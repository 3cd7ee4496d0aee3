// A mount's live status page (remapfs/live_status.h): the publisher that
// `remapfs status` reads, and the text of control/status.json.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "fuse/remapfs_fs.h"
#include "remapfs/live_status.h"

namespace remapfs::cli {

class MountLiveStatus {
 public:
  MountLiveStatus(std::string mountpoint, std::string main_path, std::string spare_path,
                  LiveStatusPublisher::Options options = {});
  ~MountLiveStatus() { Stop(); }

  // Creates the page and starts publishing, in the serving process (after
  // daemonizing). A failure is logged: the mount goes on without a page.
  void Start(const fuse::RemapFs* fs);
  // Stops publishing and removes the page: before `fs` goes away.
  void Stop();
  // control/status.json: publishes the current values, then returns the
  // JSON of the page, as `remapfs status MOUNTPOINT --json` prints it.
  std::string Json();
  // Publishes the current values now (after a control write).
  void PublishNow();

 private:
  LiveIdentity identity_;
  LiveStatusPublisher::Options options_;
  std::mutex mu_;  // guards the publisher's creation and removal
  const fuse::RemapFs* fs_ = nullptr;
  std::unique_ptr<LiveStatusPublisher> publisher_;
};

}  // namespace remapfs::cli
