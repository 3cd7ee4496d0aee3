#!/usr/bin/env bash
# sd_notify through a real notify socket (an AF_UNIX datagram socket in
# NOTIFY_SOCKET, as systemd gives a Type=notify service): READY=1 arrives
# only once MOUNTPOINT is a mount, in the foreground and from the daemon
# when daemonizing (with its MAINPID); STOPPING=1 at the unmount; a mount
# that fails sends no READY=1.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment

MNT=$TMP/mnt
MAIN=$TMP/main.img
SPARE=$TMP/spare.img
SOCK=$TMP/notify.sock
NOTES=$TMP/notes

# listen: records each datagram as "MOUNTED|LINE" per line, MOUNTED being
# whether MNT was in mountinfo when the datagram arrived. Ends after
# STOPPING=1 or 20 s of silence.
listen() {
  rm -f "$SOCK" "$NOTES"
  "$PY" -c '
import socket, sys
sock_path, mnt, out = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.settimeout(20)
with open(out, "w", buffering=1) as f:
    while True:
        try:
            data = s.recv(4096).decode()
        except socket.timeout:
            break
        mounted = any(l.split()[4] == mnt for l in open("/proc/self/mountinfo"))
        for line in data.split("\n"):
            f.write("%d|%s\n" % (mounted, line))
        if "STOPPING=1" in data.split("\n"):
            break
' "$SOCK" "$MNT" "$NOTES" &
  LISTENER=$!
  CLEANUP_HOOKS+=("kill $LISTENER 2>/dev/null")
  wait_until 10 test -S "$SOCK" || fail "notify socket not created"
}

check_foreground() {
  say "-f: READY=1 once mounted, STOPPING=1 at the unmount"
  listen
  MOUNT_AS=(env "NOTIFY_SOCKET=$SOCK")
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  MOUNT_AS=()
  wait_until 10 grep -q 'READY=1' "$NOTES" || fail "no READY=1: $(cat "$NOTES")"
  assert_eq "1|READY=1" "$(grep 'READY=1' "$NOTES")" "READY=1, with MNT already a mount"
  assert_eq "1|STATUS=Serving $MNT" "$(grep 'STATUS=Serving' "$NOTES")" "STATUS=Serving"
  grep -q "|STATUS=Mounting on $MNT" "$NOTES" || fail "no STATUS=Mounting: $(cat "$NOTES")"
  echo "   ok: STATUS=Mounting"
  unmount_remapfs "$MNT"
  wait "$LISTENER" || true
  grep -q '|STOPPING=1$' "$NOTES" || fail "no STOPPING=1: $(cat "$NOTES")"
  echo "   ok: STOPPING=1 at the unmount"
}

check_daemonized() {
  say "daemonized: READY=1 from the daemon, with its MAINPID, once mounted"
  listen
  NOTIFY_SOCKET=$SOCK "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" --log-file "$TMP/d.log" ||
    fail "daemonized mount"
  FUSE_MOUNTS+=("$MNT")
  wait_until 10 grep -q 'READY=1' "$NOTES" || fail "no READY=1: $(cat "$NOTES")"
  assert_eq "1|READY=1" "$(grep 'READY=1' "$NOTES")" "READY=1, with MNT already a mount"
  local pid
  pid=$(sed -n 's/^1|MAINPID=//p' "$NOTES")
  [[ -n $pid ]] || fail "no MAINPID: $(cat "$NOTES")"
  [[ $(readlink "/proc/$pid/cwd") == / ]] || fail "MAINPID $pid is not the daemon"
  echo "   ok: MAINPID=$pid, the daemon"
  DAEMON_PIDS+=("$pid")
  fusermount3 -u "$MNT" || fail "unmount"
  wait "$LISTENER" || true
  grep -q '|STOPPING=1$' "$NOTES" || fail "no STOPPING=1: $(cat "$NOTES")"
  echo "   ok: STOPPING=1 at the unmount"
}

check_failed_mount() {
  say "a mount that fails sends no READY=1"
  listen
  head -c $((256 << 10)) /dev/zero >"$TMP/unformatted"
  expect_cli_failure "mount with an unformatted spare" \
    env "NOTIFY_SOCKET=$SOCK" "$REMAPFS" mount "$MAIN" "$TMP/unformatted" "$MNT" -f
  expect_cli_failure "mount on a missing mountpoint" \
    env "NOTIFY_SOCKET=$SOCK" "$REMAPFS" mount "$MAIN" "$SPARE" "$TMP/nowhere" -f
  sleep 1
  ! grep -q 'READY=1' "$NOTES" || fail "READY=1 from a failed mount: $(cat "$NOTES")"
  echo "   ok: no READY=1"
  kill "$LISTENER" 2>/dev/null || true
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 256K
  check_foreground
  check_daemonized
  check_failed_mount
  pass
}

main
