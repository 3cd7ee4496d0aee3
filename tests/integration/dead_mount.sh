#!/usr/bin/env bash
# A mount whose daemon was killed (kill -9) leaves a dead FUSE mount: every
# access to MOUNTPOINT fails with ENOTCONN until it is unmounted.
#  - `remapfs mount` on it refuses, exit 1, with a message that names it a
#    dead remapfs mount and how to clear it; nothing changes.
#  - --clear-dead-mount (and -o clear_dead_mount, the fstab form) detaches
#    it and mounts; data written and fsync'd before the kill is there.
#  - --clear-dead-mount never clears a live mount, nor a dead FUSE mount
#    of another filesystem.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment stat

MNT=$TMP/mnt
MAIN=$TMP/main.img
SPARE=$TMP/spare.img
DEAD_MSG=""  # the exact refusal, set once MNT is known

mounts_at() { awk -v m="$1" '$5 == m' /proc/self/mountinfo; }

# kill_daemon: kill -9 of the last foreground daemon; MNT stays, dead.
kill_daemon() {
  kill -9 "$MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null || true
  local err
  err=$(stat "$MNT" 2>&1 >/dev/null) && fail "stat of the dead mount succeeded"
  [[ $err == *"Transport endpoint is not connected"* ]] || fail "stat: $err"
  echo "   ok: after kill -9, stat $MNT fails with ENOTCONN"
}

check_refused() {
  say "remapfs mount on a dead remapfs mount refuses and changes nothing"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  head -c $((1 << 20)) /dev/urandom >"$TMP/data"
  dd if="$TMP/data" of="$MNT/main.img" bs=1M seek=3 conv=notrunc,fsync status=none ||
    fail "write and fsync the data"
  kill_daemon
  local before spare_sha
  before=$(mounts_at "$MNT")
  spare_sha=$(sha256sum <"$SPARE")
  expect_cli_failure "mount on a dead mount" "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f
  assert_eq 1 "$CLI_RC" "exit code"
  assert_eq "remapfs mount: $DEAD_MSG" "$CLI_ERR" "the message"
  expect_cli_failure "fstab form on a dead mount" "$REMAPFS" "$MAIN,$SPARE" "$MNT" -o rw
  assert_eq "remapfs mount: $DEAD_MSG" "$CLI_ERR" "the message of the fstab form"
  assert_eq "$before" "$(mounts_at "$MNT")" "the dead mount is still there, alone"
  assert_eq "$spare_sha" "$(sha256sum <"$SPARE")" "SPARE unchanged"
}

check_cleared() {  # check_cleared WHAT MOUNT_FORM...
  local what=$1; shift
  say "$what detaches the dead mount and mounts"
  start_mount "$MNT" "$@"
  # start_mount saw the dead mount as a mount: wait for the new one.
  wait_until 10 test -e "$MNT/control/status" || fail "not mounted again: $(cat "$MOUNT_LOG")"
  assert_eq 1 "$(mounts_at "$MNT" | wc -l)" "one mount at $MNT"
  assert_eq fuse.remapfs "$(mounts_at "$MNT" | awk '{ for (i = 1; i < NF; i++) if ($i == "-") print $(i + 1) }')" \
    "it is remapfs's"
  cmp -s <(dd if="$MNT/main.img" bs=1M skip=3 count=1 status=none) "$TMP/data" ||
    fail "the data fsync'd before the kill is not there"
  echo "   ok: the data fsync'd before kill -9 reads back"
  grep -q "warning.*cleared the dead remapfs mount on $MNT" "$MOUNT_LOG" ||
    fail "no warning: $(cat "$MOUNT_LOG")"
  echo "   ok: a warning says the dead mount was cleared"
}

check_live_untouched() {
  say "--clear-dead-mount leaves a live mount alone"
  local before
  before=$(mounts_at "$MNT")
  expect_cli_failure "second mount on a live one" \
    "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f --clear-dead-mount
  stderr_mentions "in use by another remapfs process"
  assert_eq "$before" "$(mounts_at "$MNT")" "the live mount is the same"
  cmp -s <(dd if="$MNT/main.img" bs=1M skip=3 count=1 status=none) "$TMP/data" ||
    fail "the live mount no longer serves the data"
  echo "   ok: the live mount still serves"
}

check_other_fs_untouched() {
  say "--clear-dead-mount leaves a dead FUSE mount of another filesystem alone"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT" -o subtype=notremapfs
  kill_daemon
  local before
  before=$(mounts_at "$MNT")
  [[ $before == *" - fuse.notremapfs "* ]] || fail "not fuse.notremapfs: $before"
  expect_cli_failure "clear another filesystem's mount" \
    "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" -f --clear-dead-mount
  assert_eq "remapfs mount: MOUNTPOINT '$MNT' is a dead fuse.notremapfs mount, not remapfs's \
(Transport endpoint is not connected); remapfs does not clear it: 'fusermount3 -u $MNT' does, \
if nothing else uses it" "$CLI_ERR" "the message"
  assert_eq "$before" "$(mounts_at "$MNT")" "the dead mount is still there"
  fusermount3 -u "$MNT" || fail "fusermount3 -u of the dead mount"
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 256K
  mkdir -p "$MNT"
  DEAD_MSG="MOUNTPOINT '$MNT' is a dead remapfs mount (its daemon is gone: Transport endpoint \
is not connected); clear it with 'fusermount3 -u $MNT', or mount with --clear-dead-mount"
  check_refused
  check_cleared "--clear-dead-mount" mount "$MAIN" "$SPARE" "$MNT" -f --clear-dead-mount
  kill_daemon
  check_cleared "-o clear_dead_mount (fstab form)" "$MAIN,$SPARE" "$MNT" -f -o clear_dead_mount
  check_live_untouched
  check_other_fs_untouched
  pass
}

main
