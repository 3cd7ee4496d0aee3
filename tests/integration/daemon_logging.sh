#!/usr/bin/env bash
# Where a mount logs, and the log's options in both forms.
#  - -o log_file=,log_level= (fstab form) work as --log-file/--log-level;
#    given twice (-o and --) or without a value, they are refused.
#  - A successful daemonized mount prints nothing on stderr, unless
#    --log-level is given; with no journal and no syslog it names, before
#    daemonizing, the file it logs to instead.
#  - SIGHUP reopens --log-file (logrotate without copytruncate): new lines
#    land in a new file at the path, the daemon keeps serving.
#  - A log file on a full filesystem never stops the mount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment fuser

MNT=$TMP/mnt
MAIN=$TMP/main.img
SPARE=$TMP/spare.img

usage_refused() {  # usage_refused MESSAGE ARGS...
  local msg=$1; shift
  expect_cli_failure "remapfs $*" "$REMAPFS" "$@"
  assert_eq 2 "$CLI_RC" "exit code of a usage error"
  assert_eq "remapfs mount: $msg"$'\n'"Try 'remapfs mount --help'." "$CLI_ERR" "the message"
}

check_o_options() {
  say "-o log_file=...,log_level=debug (fstab form)"
  start_mount "$MNT" "$MAIN,$SPARE" "$MNT" -f -o "log_file=$TMP/o.log,log_level=debug,rw"
  control_write "$MNT" add_bad "100"
  unmount_remapfs "$MNT"
  grep -q "\[debug\] remapped main sector 100 -> spare sector" "$TMP/o.log" ||
    fail "no debug line in log_file: $(cat "$TMP/o.log")"
  grep -q "\[info\] mounted on $MNT" "$TMP/o.log" || fail "no info line: $(cat "$TMP/o.log")"
  echo "   ok: log_file= got the debug and info lines"
  assert_eq "" "$(cat "$MOUNT_LOG")" "stderr of the mount with log_file="

  say "-o log options: conflicts with the -- form, missing values"
  local twice="option '--log-level' given more than once (an -o option such as \
error_recovery_time= is the same option as its -- form)"
  usage_refused "$twice" mount "$MAIN" "$SPARE" "$MNT" -o log_level=debug --log-level info
  usage_refused "${twice//--log-level/--log-file}" \
    "$MAIN,$SPARE" "$MNT" -o "log_file=$TMP/a" --log-file "$TMP/b"
  usage_refused "-o log_file needs a value (log_file=VALUE, as --log-file VALUE)" \
    "$MAIN,$SPARE" "$MNT" -o rw,log_file
  usage_refused "-o log_level needs a value (log_level=VALUE, as --log-level VALUE)" \
    "$MAIN,$SPARE" "$MNT" -o log_level=
  usage_refused "--log-level must be trace, debug, info, warn or error, not 'loud'" \
    "$MAIN,$SPARE" "$MNT" -o log_level=loud
  usage_refused "-o rebind takes no value (a flag, as --rebind)" "$MAIN,$SPARE" "$MNT" -o rebind=1
  usage_refused "-o clear_dead_mount takes no value (a flag, as --clear-dead-mount)" \
    mount "$MAIN" "$SPARE" "$MNT" -o clear_dead_mount=yes
  [[ ! -e $TMP/a && ! -e $TMP/b ]] || fail "a refused mount created a log file"
  is_mounted "$MNT" && fail "a refused mount mounted"
  echo "   ok: nothing created, nothing mounted"
}

# daemonized ARGS...: `remapfs mount MAIN SPARE MNT ARGS...` without -f;
# its stdout and stderr in $TMP/d.out and $TMP/d.err.
daemonized() {
  "$REMAPFS" mount "$MAIN" "$SPARE" "$MNT" "$@" >"$TMP/d.out" 2>"$TMP/d.err" ||
    fail "daemonized mount: $(cat "$TMP/d.err")"
  FUSE_MOUNTS+=("$MNT")
  is_mounted "$MNT" || fail "not mounted after remapfs mount returned"
}

unmount_daemonized() {
  fusermount3 -u "$MNT" || fail "unmount"
  wait_until 10 eval '[[ -z $(fuser "$MAIN" 2>/dev/null) ]]' || fail "daemon still running"
}

check_quiet_mount() {
  say "a successful daemonized mount is quiet"
  daemonized --log-file "$TMP/q.log"
  assert_eq "" "$(cat "$TMP/d.out" "$TMP/d.err")" "stdout and stderr"
  grep -q "\[info\] mounted on $MNT" "$TMP/q.log" || fail "no info line in the log"
  echo "   ok: the info lines are in the log file"
  assert_eq 0 "$(json_key log_write_failures <"$MNT/control/status.json")" \
    "log_write_failures with a writable log file"
  unmount_daemonized

  say "--log-level info shows them on stderr"
  daemonized --log-file "$TMP/q.log" --log-level info
  grep -q "\[warning\]\|\[info\]" "$TMP/d.err" && fail "log lines on stderr with --log-file"
  unmount_daemonized
  daemonized --log-level info
  grep -q "\[info\] volume open: 16384 main sectors" "$TMP/d.err" ||
    fail "no info line on stderr: $(cat "$TMP/d.err")"
  echo "   ok: info lines on stderr"
  unmount_daemonized

  say "no --log-file: the journal, syslog, or a file named on stderr"
  daemonized
  if [[ -e /run/systemd/journal/socket || -e /dev/log ]]; then
    assert_eq "" "$(cat "$TMP/d.err")" "stderr (journal or syslog present)"
  else
    # One file a mountpoint: its path without the first '/', '/' as '-'.
    local file
    file="/run/remapfs/$(sed 's#^/##; s#/#-#g' <<<"$MNT").log"
    CLEANUP_HOOKS+=("rm -f '$file'")
    assert_eq "remapfs mount: no journal (/run/systemd/journal/socket) and no syslog \
(/dev/log): the daemon logs to $file" "$(cat "$TMP/d.err")" "the one line on stderr"
    grep -q "\[info\] mounted on $MNT" "$file" || fail "no info line in $file"
    grep -q "\[info\] volume open:" "$file" || fail "the lines before daemonizing are not in $file"
    echo "   ok: $file has the daemon's lines, also those from before daemonizing"
  fi
  unmount_daemonized
}

check_sighup_reopens() {
  say "SIGHUP reopens --log-file and does not unmount"
  MOUNT_AS=(env --default-signal=HUP)
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --log-file "$TMP/r.log" --log-level debug
  MOUNT_AS=()
  mv "$TMP/r.log" "$TMP/r.log.1"
  kill -HUP "$MOUNT_PID"
  wait_until 10 test -e "$TMP/r.log" || fail "no new log file after SIGHUP"
  control_write "$MNT" add_bad "200"
  grep -q "remapped main sector 200 " "$TMP/r.log" || fail "new line not in the new file"
  grep -q "remapped main sector 200 " "$TMP/r.log.1" && fail "new line in the old file"
  grep -q "mounted on $MNT" "$TMP/r.log.1" || fail "old lines lost"
  echo "   ok: new lines in the new file, old lines in the renamed one"
  kill -0 "$MOUNT_PID" || fail "the daemon exited on SIGHUP"
  is_mounted "$MNT" || fail "SIGHUP unmounted"
  head -c 4096 /dev/urandom >"$TMP/blk"
  dd if="$TMP/blk" of="$MNT/main.img" bs=4096 seek=5 conv=notrunc,fsync status=none
  cmp -s <(dd if="$MNT/main.img" bs=4096 skip=5 count=1 status=none) "$TMP/blk" ||
    fail "the mount no longer serves after SIGHUP"
  echo "   ok: still mounted, serving"
  unmount_remapfs "$MNT"
}

check_full_log_filesystem() {
  say "a log file on a full filesystem: the mount serves and exits cleanly"
  mkdir -p "$TMP/full"
  mount -t tmpfs -o size=64k tmpfs "$TMP/full"
  OTHER_MOUNTS+=("$TMP/full")
  touch "$TMP/full/log"
  dd if=/dev/zero of="$TMP/full/filler" bs=4k status=none 2>/dev/null || true
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --log-file "$TMP/full/log" --log-level debug
  control_write "$MNT" add_bad "300"
  kill -HUP "$MOUNT_PID"
  cmp -s <(dd if="$MNT/main.img" bs=4096 skip=5 count=1 status=none) "$TMP/blk" ||
    fail "the mount does not serve"
  # The lost lines are counted in status: through the mount and the live page.
  local lost_fuse lost_page
  lost_fuse=$(json_key log_write_failures <"$MNT/control/status.json")
  lost_page=$("$REMAPFS" status "$MNT" --json | json_key log_write_failures)
  [[ $lost_fuse -ge 3 ]] || fail "status.json counts $lost_fuse lost log lines, expected >= 3"
  [[ $lost_page -ge $lost_fuse ]] || fail "remapfs status counts $lost_page lost lines, status.json $lost_fuse"
  echo "   ok: $lost_fuse lost log lines counted in status.json, $lost_page in remapfs status"
  unmount_remapfs "$MNT"
  assert_eq 0 "$(stat -c %s "$TMP/full/log")" "bytes in the log on the full filesystem"
}

# json_key KEY: the value of KEY in the JSON object on stdin.
json_key() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

main() {
  make_main "$MAIN" $((8 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 256K
  mkdir -p "$MNT"
  check_o_options
  check_quiet_mount
  check_sighup_reopens
  check_full_log_filesystem
  pass
}

main
