#!/usr/bin/env bash
# A plain user mounts their own images: reads, writes and remaps without
# root. Other users are kept out of the control files even with
# allow_other; root reaches a user's mount only with allow_root, and then
# losetup works on it.
#
# It changes system state for its duration, all restored at exit: a user
# remapfs_test, /dev/fuse's mode (0666, Debian's udev default) and
# user_allow_other in /etc/fuse.conf.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment runuser useradd userdel losetup cmp fuser

USER_NAME=remapfs_test
MNT=""  # set in setup: the tree must be reachable by the user

setup_user() {
  if ! id "$USER_NAME" >/dev/null 2>&1; then
    useradd -m "$USER_NAME" || fail "useradd"
    CLEANUP_HOOKS+=("userdel -r $USER_NAME 2>/dev/null")
  fi
  local mode
  mode=$(stat -c %a /dev/fuse)
  CLEANUP_HOOKS+=("chmod $mode /dev/fuse")
  chmod 0666 /dev/fuse
  cp -p /etc/fuse.conf "$TMP/fuse.conf.orig"
  CLEANUP_HOOKS+=("cp -p '$TMP/fuse.conf.orig' /etc/fuse.conf")
  grep -qx user_allow_other /etc/fuse.conf || echo user_allow_other >>/etc/fuse.conf

  # The build tree may be unreachable to the user: mount a copy.
  chmod 0755 "$TMP"
  mkdir "$TMP/u"
  cp "$REMAPFS" "$TMP/u/remapfs"
  REMAPFS=$TMP/u/remapfs
  MAIN=$TMP/u/main.img SPARE=$TMP/u/spare.img MNT=$TMP/u/mnt
  make_main "$MAIN" $((8 << 20))
  mkdir "$MNT"
  chown -R "$USER_NAME:" "$TMP/u"
  runuser -u "$USER_NAME" -- "$REMAPFS" format "$MAIN" "$SPARE" --spare-size 1M \
    >"$TMP/format.log" 2>&1 || { cat "$TMP/format.log" >&2; fail "format as the user"; }
  # shellcheck disable=SC2034  # read by mount_remapfs in lib.sh
  MOUNT_AS=(runuser -u "$USER_NAME" --)
}

as_user() { runuser -u "$USER_NAME" -- "$@"; }

check_user_mount() {
  say "the user mounts, reads, writes and remaps"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  as_user cmp -s "$MAIN" "$MNT/main.img" || fail "user reads the disk"
  head -c 8192 /dev/urandom >"$TMP/u/data"
  chown "$USER_NAME:" "$TMP/u/data"
  as_user dd if="$TMP/u/data" of="$MNT/main.img" bs=512 seek=40 conv=notrunc status=none ||
    fail "user writes the disk"
  as_user sh -c "echo 40-47 > '$MNT/control/add_bad'" || fail "user writes add_bad"
  assert_eq "40 41 42 43 44 45 46 47" \
    "$(as_user awk '{print $1}' "$MNT/control/remaps" | xargs)" "remaps as the user sees them"
  as_user sh -c "dd if='$MNT/main.img' bs=512 skip=40 count=16 status=none | cmp -s '$TMP/u/data' -" ||
    fail "user reads back the data over remapped sectors"
  echo "   ok: data intact over the remapped sectors"
  say "without allow_other/allow_root, root is kept out"
  if stat "$MNT/main.img" >/dev/null 2>&1; then
    fail "root can stat a user mount made without allow_root"
  fi
  echo "   ok: root cannot stat the disk file"
  unmount_remapfs "$MNT"
}

check_allow_other() {
  say "-o allow_other: nobody may look, but not write control files"
  mount_remapfs "$MAIN" "$SPARE" "$MNT" -o allow_other
  cp "$MNT/control/remaps" "$TMP/remaps.before"
  local err
  err=$(echo 100 | write_errno_as nobody "$MNT/control/add_bad")
  [[ $err == "$EACCES" || $err == "$EPERM" ]] ||
    fail "nobody writing add_bad: expected EACCES or EPERM, got '$err'"
  echo "   ok: nobody's write to add_bad refused (errno $err)"
  err=$(echo 40 | write_errno_as nobody "$MNT/control/remove")
  [[ $err == "$EACCES" || $err == "$EPERM" ]] ||
    fail "nobody writing remove: expected EACCES or EPERM, got '$err'"
  echo "   ok: nobody's write to remove refused (errno $err)"
  assert_same_file "$TMP/remaps.before" "$MNT/control/remaps" "remaps unchanged"
  say "root may write control files (SPEC: the mounting user and root)"
  assert_eq 0 "$(echo 100 | write_errno "$MNT/control/add_bad")" "root writes add_bad"
  grep -q '^100 ' "$MNT/control/remaps" || fail "sector 100 not remapped by root's write"
  echo "   ok: root's add_bad applied"
  unmount_remapfs "$MNT"
}

check_allow_root_losetup() {
  say "-o allow_root: root attaches a loop device to the user's disk"
  mount_remapfs "$MAIN" "$SPARE" "$MNT" -o allow_root
  local loop
  loop=$(losetup --find --show "$MNT/main.img") || fail "losetup on a user mount with allow_root"
  LOOP_DEVS+=("$loop")
  cmp -s "$loop" "$MAIN" || fail "loop device content differs from main.img"
  echo "   ok: $loop reads what main.img holds"
  losetup -d "$loop"
  wait_until 10 eval "! losetup -n -O BACK-FILE '$loop' | grep -q ." || fail "$loop still attached"
  unmount_remapfs "$MNT"
}

# The daemon of the user's mount (MOUNT_PID is runuser, its parent).
user_daemon_pid() { fuser "$MAIN" 2>/dev/null | xargs; }

check_user_dead_mount() {
  say "the user's dead mount: refused, then cleared by --clear-dead-mount (fusermount3 -u -z)"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  local pid sha
  sha=$(as_user sh -c "sha256sum < '$MNT/main.img'")
  pid=$(user_daemon_pid)
  [[ -n $pid ]] || fail "no daemon holds MAIN"
  kill -9 "$pid"
  wait "$MOUNT_PID" 2>/dev/null || true
  expect_cli_failure "user mount on the dead mount" \
    runuser -u "$USER_NAME" -- "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT"
  stderr_mentions "^remapfs mount: MOUNTPOINT '$MNT' is a dead remapfs mount"
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --clear-dead-mount
  # mount_remapfs saw the dead mount as a mount: wait for the new one.
  wait_until 10 as_user test -e "$MNT/control/status" || fail "not mounted again"
  assert_eq 1 "$(awk -v m="$MNT" '$5 == m' /proc/self/mountinfo | wc -l)" "mounts at $MNT"
  assert_eq "$sha" "$(as_user sh -c "sha256sum < '$MNT/main.img'")" "the disk after clearing"
  unmount_remapfs "$MNT"
}

main() {
  setup_user
  check_user_mount
  check_allow_other
  check_allow_root_losetup
  check_user_dead_mount
  pass
}

main
