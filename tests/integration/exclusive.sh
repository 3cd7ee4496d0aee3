#!/usr/bin/env bash
# A MAIN or SPARE in use by one remapfs process is refused to every other:
# a second mount (same pair, same MAIN with another spare, same SPARE with
# another main) and a format over the in-use spare. The lock goes away with
# the mount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp timeout

MAIN=$TMP/main.img SPARE=$TMP/spare.img
MNT1=$TMP/mnt1 MNT2=$TMP/mnt2

# refused_mount WHAT MAIN SPARE: a foreground mount on MNT2 must fail fast,
# and MNT2 must not end up mounted.
refused_mount() {
  mkdir -p "$MNT2"
  FUSE_MOUNTS+=("$MNT2")
  expect_cli_failure "$1" "$REMAPFS" mount "$2" "$3" "$MNT2" -f
  stderr_mentions "in use|lock|busy"
  is_mounted "$MNT2" && fail "$1: $MNT2 is mounted"
  return 0
}

main() {
  make_main "$MAIN" $((8 << 20))
  cp "$MAIN" "$TMP/main2.img"  # same size: only the lock can refuse it
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  format_volume "$MAIN" "$TMP/spare2.img" --spare-size 1M

  mount_remapfs "$MAIN" "$SPARE" "$MNT1"
  local first_pid=$MOUNT_PID
  control_write "$MNT1" add_bad "10-19"
  cp "$SPARE" "$TMP/spare.copy"

  say "second mounts of an in-use MAIN or SPARE are refused"
  refused_mount "same MAIN and SPARE" "$MAIN" "$SPARE"
  refused_mount "same MAIN, another spare" "$MAIN" "$TMP/spare2.img"
  refused_mount "another main, same SPARE" "$TMP/main2.img" "$SPARE"

  say "format over the in-use spare is refused, even with --force"
  expect_cli_failure "format over a mounted spare" \
    "$REMAPFS" format "$TMP/main2.img" "$SPARE" --spare-size 1M --force
  stderr_mentions "in use|lock|busy"
  assert_same_file "$TMP/spare.copy" "$SPARE" "spare unchanged"

  say "the first mount still serves, and its lock ends with it"
  assert_eq "10-19:10" "$(awk 'NR==1{f=$1} END{print f "-" $1 ":" NR}' "$MNT1/control/remaps")" \
    "remaps of the first mount"
  assert_same_file "$MAIN" "$MNT1/main.img" "disk content"
  unmount_remapfs "$MNT1" "$first_pid"
  mount_remapfs "$MAIN" "$SPARE" "$MNT2"
  echo "   ok: the pair mounts elsewhere once the first mount is gone"
  unmount_remapfs "$MNT2"
  pass
}

main
