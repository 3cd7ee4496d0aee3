#!/usr/bin/env bash
# Remaps and data survive unmount/remount and a killed daemon; the
# daemonized mount (no -f) works and ends with fusermount3 -u.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img

snapshot() {  # snapshot TAG: remaps, sequence and the disk's bytes
  cp "$MNT/control/remaps" "$TMP/remaps.$1"
  status_value "$MNT" metadata_sequence >"$TMP/seq.$1"
  cp "$DISK" "$TMP/disk.$1"
}

assert_like_snapshot() {
  assert_same_file "$TMP/remaps.$1" "$MNT/control/remaps" "remaps identical to '$1'"
  assert_eq "$(cat "$TMP/seq.$1")" "$(status_value "$MNT" metadata_sequence)" \
    "metadata_sequence same as '$1'"
  assert_eq "$(status_value "$MNT" metadata_copies)" \
    "$(status_value "$MNT" metadata_valid_copies)" "every metadata copy valid"
  assert_same_file "$TMP/disk.$1" "$DISK" "disk bytes identical to '$1'"
}

check_clean_remount() {
  say "add_bad, write, unmount, remount"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  control_write "$MNT" add_bad "7 2000-2099 0x3000+16"
  head -c $((200 * SECTOR)) /dev/urandom >"$TMP/data"
  write_sectors "$DISK" 1950 "$TMP/data"
  snapshot clean
  assert_eq 117 "$(status_value "$MNT" remapped)" "remapped before unmount"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_like_snapshot clean
}

check_killed_daemon() {
  say "kill -9 the daemon right after add_bad and a write: both survive"
  control_write "$MNT" add_bad "5000-5009"
  head -c $((20 * SECTOR)) /dev/urandom >"$TMP/data2"
  dd if="$TMP/data2" of="$DISK" bs=$SECTOR seek=4995 conv=notrunc,fsync status=none
  snapshot killed
  kill -9 "$MOUNT_PID"
  wait "$MOUNT_PID" 2>/dev/null || true
  # The dead daemon leaves a mount that answers ENOTCONN until unmounted.
  fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_like_snapshot killed
  assert_eq 127 "$(status_value "$MNT" remapped)" "remapped after the crash"
  unmount_remapfs "$MNT"
}

# Prints the pids of processes holding PATH open (the daemonized mount,
# whose pid we never see): a targeted scan of /proc, never a name match.
pids_holding() {
  local target fd
  target=$(readlink -f "$1")
  for fd in /proc/[0-9]*/fd/*; do
    if [[ $(readlink "$fd" 2>/dev/null) == "$target" ]]; then
      fd=${fd#/proc/}
      echo "${fd%%/*}"
    fi
  done | sort -u
}

check_daemonized() {
  say "mount without -f daemonizes; fusermount3 -u ends the daemon"
  "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" >"$TMP/daemon.log" 2>&1 ||
    { cat "$TMP/daemon.log" >&2; fail "daemonized mount exited non-zero"; }
  FUSE_MOUNTS+=("$MNT")
  wait_until 10 is_mounted "$MNT" || fail "daemonized mount not up after 10 s"
  local pids
  pids=$(pids_holding "$MAIN")
  mapfile -t -O "${#DAEMON_PIDS[@]}" DAEMON_PIDS <<<"$pids"
  [[ -n $pids ]] || fail "no process holds main.img open while mounted"
  assert_like_snapshot killed
  fusermount3 -u "$MNT" || fail "fusermount3 -u of the daemonized mount"
  wait_until 10 eval '[[ -z $(pids_holding "$MAIN") ]]' ||
    fail "daemon still holds main.img 10 s after fusermount3 -u"
  echo "   ok: daemon $pids exited after unmount"
}

main() {
  make_main "$MAIN" $((16 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  check_clean_remount
  check_killed_daemon
  check_daemonized
  pass
}

main
