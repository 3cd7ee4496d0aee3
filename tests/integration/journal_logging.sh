#!/usr/bin/env bash
# The journal as a mount's log, through a stand-in for journald: a datagram
# socket at /run/systemd/journal/socket that records what sd_journal_send
# sends (MESSAGE=, PRIORITY=, SYSLOG_IDENTIFIER=). It runs in a private
# mount namespace with a tmpfs on /run/systemd, so nothing outside the test
# sees the socket.
#  - daemonized, no --log-file: stderr stays empty; every line goes to the
#    journal, those logged before daemonizing too, with syslog priorities;
#  - -f with JOURNAL_STREAM naming stderr (as systemd sets it): the journal;
#  - -f with a JOURNAL_STREAM that is not stderr (a shell started from a
#    unit): stderr.
if [[ -z ${REMAPFS_JOURNAL_NS:-} && $(id -u) -eq 0 ]] && command -v unshare >/dev/null; then
  REMAPFS_JOURNAL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment unshare fuser
[[ -n ${REMAPFS_JOURNAL_NS:-} ]] || skip "no private mount namespace"

MNT=$TMP/mnt
MAIN=$TMP/main.img
SPARE=$TMP/spare.img
JOURNAL=$TMP/journal  # one line per field received

start_journal() {
  mount -t tmpfs tmpfs /run/systemd
  mkdir /run/systemd/journal
  "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
with open(sys.argv[1], "a", buffering=1) as f:  # "a": the test truncates it
    while True:
        f.write(s.recv(65536).decode() + "--\n")
' "$JOURNAL" &
  CLEANUP_HOOKS+=("kill $! 2>/dev/null")
  wait_until 10 test -S /run/systemd/journal/socket || fail "no journal socket"
}

# journal_has PRIORITY MESSAGE: one entry with both, from remapfs.
journal_has() {
  wait_until 10 grep -qxF "MESSAGE=$2" "$JOURNAL" ||
    fail "not in the journal: $2 ($(head -c 2000 "$JOURNAL"))"
  grep -A2 -xF "MESSAGE=$2" "$JOURNAL" | grep -qx "PRIORITY=$1" || fail "priority of $2"
  grep -A2 -xF "MESSAGE=$2" "$JOURNAL" | grep -qx "SYSLOG_IDENTIFIER=remapfs" ||
    fail "identifier of $2"
  echo "   ok: journal: <$1> $2"
}

check_daemonized() {
  say "daemonized without --log-file: the journal, stderr quiet"
  "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" >"$TMP/d.out" 2>"$TMP/d.err" ||
    fail "mount: $(cat "$TMP/d.err")"
  FUSE_MOUNTS+=("$MNT")
  assert_eq "" "$(cat "$TMP/d.out" "$TMP/d.err")" "stdout and stderr"
  journal_has 6 "mounted on $MNT"
  journal_has 6 "volume open: 16384 main sectors of 512 bytes, 0 remapped (0 pending), \
metadata sequence 1, 8/8 copies valid, 0 repaired"
  fusermount3 -u "$MNT"
  wait_until 10 eval '[[ -z $(fuser "$MAIN" 2>/dev/null) ]]' || fail "daemon still running"
  journal_has 6 "unmounted $MNT"
}

check_foreground() {
  say "-f with JOURNAL_STREAM naming stderr: the journal"
  : >"$JOURNAL"
  # The file start_mount will point stderr at (truncated, same inode).
  local stream="$TMP/mount.$((MOUNT_SEQ + 1)).log"
  : >"$stream"
  MOUNT_AS=(env "JOURNAL_STREAM=$(stat -c %d:%i "$stream")")
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --log-level debug
  MOUNT_AS=()
  control_write "$MNT" add_bad 7
  journal_has 7 "remapped main sector 7 -> spare sector $(spare_sector_of "$MNT" 7)"
  unmount_remapfs "$MNT"
  assert_eq "$stream" "$MOUNT_LOG" "the stream"
  assert_eq "" "$(cat "$MOUNT_LOG")" "stderr (the journal stream as a file)"

  say "-f with a JOURNAL_STREAM that is not stderr: stderr"
  : >"$JOURNAL"
  MOUNT_AS=(env "JOURNAL_STREAM=1:1")
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  MOUNT_AS=()
  grep -q "\[info\] mounted on $MNT" "$MOUNT_LOG" || fail "not on stderr: $(cat "$MOUNT_LOG")"
  echo "   ok: stderr has the lines"
  unmount_remapfs "$MNT"
  assert_eq "" "$(cat "$JOURNAL")" "the journal"
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 256K
  mkdir -p "$MNT"
  start_journal
  check_daemonized
  check_foreground
  pass
}

main
