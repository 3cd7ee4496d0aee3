// Finding the metadata header to trust on a spare, whatever its placement
// and sector size (metadata_headers.cc). Internal to core/.
#pragma once

#include "metadata_codec.h"
#include "remapfs/block_device.h"
#include "remapfs/metadata.h"
#include "remapfs/status.h"

namespace remapfs {

// Same sector size, sizes and placement.
bool SameGeometry(const Geometry& a, const Geometry& b);

// The header to trust among all found on `spare`: the newest format
// (generation) wins, so a header an earlier `format` left behind never
// comes back; within it the newest sequence (a resize-spare that has
// written one copy of its new geometry must win over the old copies it is
// about to overwrite); among equals, the one most other headers agree
// with. Corruption when no header is found.
Status FindTrustedHeader(BlockDevice* spare, codec::Header* out);

}  // namespace remapfs
