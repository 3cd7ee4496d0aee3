#!/usr/bin/env bash
# One command for a newcomer: installs what is missing (apt-get), builds
# remapfs into build/, then shows it working on throw-away images: format,
# mount, write, remap sectors 100-107 live, read the control files, prove
# the bytes intact with sha256sum, remount, prove it again.
#
# Needs root (or sudo) for apt-get and for the mount when /dev/fuse is not
# open to the user. REMAPFS=/usr/bin/remapfs scripts/demo.sh runs it on that
# binary (the installed package) instead, without installing or building.
# Everything it creates lives in one mktemp -d folder and is removed, mount
# included, however the script ends.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/deps.sh
source "$ROOT/scripts/lib/deps.sh"

REMAPFS=${REMAPFS:-}
WORK="" MNT="" DAEMON=""

build() {
  cd "$ROOT"
  [[ -f build/build.ninja ]] || meson setup build --buildtype=debugoptimized
  ninja -C build
}

cleanup() {
  local rc=$?
  if [[ -n $MNT ]] && mountpoint -q "$MNT" 2>/dev/null; then
    fusermount3 -u "$MNT" 2>/dev/null || as_root umount -l "$MNT" || true
  fi
  [[ -n $DAEMON ]] && wait "$DAEMON" 2>/dev/null || true
  [[ -n $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}

step() { echo; echo "### $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

# Starts the daemon in the foreground mode, in the background, and waits
# (10 s at most) for the disk file to appear.
mount_disk() {
  "$REMAPFS" mount "$WORK/main.img" "$WORK/spare.img" "$MNT" -f --log-file "$WORK/remapfs.log" &
  DAEMON=$!
  local tries=100
  until [[ -e $MNT/main.img ]] && mountpoint -q "$MNT"; do
    kill -0 "$DAEMON" 2>/dev/null || { cat "$WORK/remapfs.log" >&2; die "mount exited"; }
    ((tries-- > 0)) || die "mount not up after 10 s"
    sleep 0.1
  done
  echo "mounted: $(cd "$MNT" && echo *); control/: $(cd "$MNT/control" && echo *)"
}

unmount_disk() {
  fusermount3 -u "$MNT"
  wait "$DAEMON" || die "daemon exited non-zero after unmount"
  DAEMON=""
}

# The bytes the disk must show: main.img as created, with the payload at
# sector 96. Compared as sha256 against what the mount serves.
expect_intact() {
  local want got
  want=$(sha256sum <"$WORK/expected.img" | cut -d' ' -f1)
  got=$(sha256sum <"$MNT/main.img" | cut -d' ' -f1)
  echo "expected sha256 $want"
  echo "mount    sha256 $got"
  [[ $want == "$got" ]] || die "the disk does not hold what was written ($1)"
}

demo() {
  WORK=$(mktemp -d /tmp/remapfs-demo.XXXXXX)
  MNT=$WORK/mnt
  mkdir "$MNT"
  cd "$WORK"

  step "a 16 MiB main image full of recognisable text, and a 4 MiB spare"
  # Process substitution, not a pipe: `yes` dies of SIGPIPE, which
  # pipefail would count as a failure.
  head -c $((16 << 20)) < <(yes "remapfs demo: this is the user's data") >main.img
  cp main.img expected.img
  "$REMAPFS" format main.img spare.img --spare-size 4M

  step "mount (foreground daemon in the background)"
  mount_disk

  step "write 32 sectors at sector 96 through the disk file (dd conv=notrunc)"
  head -c $((32 * 512)) /dev/urandom >payload
  dd if=payload of="$MNT/main.img" bs=512 seek=96 conv=notrunc status=none
  dd if=payload of=expected.img bs=512 seek=96 conv=notrunc status=none

  step "echo 100-107 > control/add_bad: those sectors now live on the spare"
  echo 100-107 >"$MNT/control/add_bad"
  echo "--- control/status";       cat "$MNT/control/status"
  echo "--- control/reservations"; cat "$MNT/control/reservations"
  echo "--- control/remaps";       cat "$MNT/control/remaps"

  step "a write over the remapped sectors goes to the spare, not to main.img"
  head -c $((8 * 512)) /dev/urandom >payload2
  dd if=payload2 of="$MNT/main.img" bs=512 seek=100 conv=notrunc status=none
  dd if=payload2 of=expected.img bs=512 seek=100 conv=notrunc status=none
  if cmp -s payload2 <(dd if=main.img bs=512 skip=100 count=8 status=none); then
    die "the write reached main.img sectors 100-107"
  fi
  echo "main.img sectors 100-107 untouched; the disk file shows the new bytes"

  step "the bytes through the mount equal what was written"
  expect_intact "while mounted"

  step "unmount, remount, check again"
  unmount_disk
  mount_disk
  cat "$MNT/control/remaps"
  expect_intact "after a remount"
  unmount_disk

  echo
  echo "PASS: remapfs demo: 8 sectors remapped live, data intact across a remount"
}

main() {
  if [[ -z $REMAPFS ]]; then
    install_deps
    build
    REMAPFS=$ROOT/build/cli/remapfs
  fi
  [[ -x $REMAPFS ]] || die "REMAPFS='$REMAPFS' is not an executable"
  trap cleanup EXIT
  demo
}

main "$@"
