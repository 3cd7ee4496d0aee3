#!/usr/bin/env bash
# System torture: a real mount under a remap storm and fsync'd writers,
# the daemon killed with SIGKILL at a random moment, every round.
#
#   torture.sh [--rounds N] [--seed S] [--duration SECONDS] [REMAPFS]
#
# One round, on the same MAIN and SPARE as every other round:
#  1. four torture_writer processes write stamped sectors to their own
#     regions (buffered, O_DIRECT, and on a mount with --direct-io on an
#     O_DIRECT writer whose write's return is its acknowledgement), logging
#     each write only once it is acknowledged (fsync returned);
#  2. meanwhile a storm (torture_storm.sh) writes add_bad, remove, inject
#     (read/write/rw faults, clear, latency) and scrub start/stop, mostly
#     over the writers' regions, logging each control write and its errno;
#  3. after a random delay (0.2 s to --duration) the daemon gets kill -9;
#     the dead mount is cleared (fusermount3 -u, else umount -l);
#  4. `remapfs check` runs offline: clean (0), or problems (4) that are only
#     metadata copies a commit cut by the kill left stale or torn;
#  5. the volume is mounted again (--direct-io on or off at random), the
#     remaps keep the SPEC invariants against the reservations, and
#     torture_verify.py checks every acknowledged remap and sector.
# After the last round: a clean unmount and `check` exits 0.
#
# The kill ends the daemon, not the host: the page cache keeps what the
# daemon wrote. So this tests the daemon's ordering (a remap acknowledged
# before its commit, a write before its data was in place, a copy-back in
# `remove` after the remap was dropped, recovery at mount); the unit suite's
# crash harness covers lost flushes.
#
# Seeded: the seed is printed, and --seed replays the same choices (the
# timing of a kill against the work differs from run to run).
set -euo pipefail

ROUNDS=5 SEED=$(((RANDOM << 15) | RANDOM)) DURATION=3
while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    -*) echo "usage: torture.sh [--rounds N] [--seed S] [--duration SECONDS] [REMAPFS]" >&2; exit 2 ;;
    *) REMAPFS=$1; shift ;;
  esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SEED =~ ^[0-9]+$ && $DURATION =~ ^[1-9][0-9]*$ ]] ||
  { echo "torture.sh: --rounds and --duration take a positive integer, --seed an integer" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../integration/lib.sh"
source "$HERE/torture_storm.sh"
require_environment "$PY" cmp
WRITER=${TORTURE_WRITER:-$(dirname "$REMAPFS")/../tests/torture/torture_writer}
[[ -x $WRITER ]] || fail "torture_writer not given (TORTURE_WRITER) or not executable: '$WRITER'"

MAIN_SECTORS=16384  # 8 MiB
REGIONS=(256:1024 4352:1024 8448:1024 12544:1024)  # FIRST:COUNT of writers 0..3
MNT=$TMP/mnt DIR="" MAIN="" SPARE="" DISK=$TMP/mnt/main.img
LOGS=$(mktemp -d /tmp/remapfs-torture.XXXXXX)  # kept when a round fails
STORM_LOG=$LOGS/storm.log STOP_FILE=$TMP/stop
DIRECT_IO=off
TORN_CHECKS=0 WRITER_LINES=()

# mount_volume: mounts with --direct-io on or off at random, so both the
# buffered and the O_DIRECT device paths meet the kill.
mount_volume() {
  DIRECT_IO=off
  ((RANDOM % 2)) && DIRECT_IO=on
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --direct-io "$DIRECT_IO" --error-recovery-time 1s
}

# writer_mode I: buffered, buffered, O_DIRECT with fsync, and O_DIRECT
# acknowledged on return when the volume itself uses direct I/O.
writer_mode() {
  case $1 in
    0 | 1) echo buffered ;;
    2) echo direct ;;
    3) [[ $DIRECT_IO == on ]] && echo direct-ack || echo direct ;;
  esac
}

start_writers() {  # start_writers ROUND init|run: sets WRITER_PIDS
  local round=$1 mode=$2 i first count
  WRITER_PIDS=()
  for i in "${!REGIONS[@]}"; do
    IFS=: read -r first count <<<"${REGIONS[i]}"
    [[ $2 == init ]] || mode=$(writer_mode "$i")
    "$WRITER" "$DISK" "$i" "$first" "$count" "$mode" "$round" "$((SEED * 1000 + round * 10 + i))" \
      "$LOGS/ack.$i" "$STOP_FILE" >>"$LOGS/writers.out" 2>&1 &
    WRITER_PIDS+=($!)
  done
}

# wait_all WHAT PID...: each must exit 0 (they stop by themselves once the
# daemon is gone), within 30 s.
wait_all() {
  local what=$1 pid rc; shift
  for pid in "$@"; do
    wait_until 30 eval "! kill -0 $pid" || { kill "$pid"; fail "$what $pid still running 30 s after the kill"; }
    rc=0
    wait "$pid" || rc=$?
    [[ $rc -eq 0 ]] || { tail -5 "$LOGS/writers.out" >&2; fail "$what $pid exited $rc"; }
  done
}

# kill_daemon: SIGKILL to the daemon itself (its time in T_KILL), then
# clears its dead mount, which answers ENOTCONN until unmounted. The stop
# file ends the storm before it meets the empty mountpoint.
kill_daemon() {
  # Disowned first: bash would print a "Killed" notice when it reaps it.
  disown "$MOUNT_PID"
  T_KILL=$(now_ns)
  kill -9 "$MOUNT_PID"
  touch "$STOP_FILE"
  wait_until 10 eval "! kill -0 $MOUNT_PID" || fail "daemon $MOUNT_PID alive 10 s after kill -9"
  fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
}

# check_after_kill ROUND: `remapfs check` of the spare as the kill left it.
# Exit 4 is allowed only when every problem is a metadata copy that a
# commit cut by the kill left stale or torn (SPEC invariant 6 needs one
# valid copy holding every acknowledged remap, not all of them).
check_after_kill() {
  local rc=0
  "$REMAPFS" check "$SPARE" --main "$MAIN" >"$LOGS/check.$1" 2>&1 || rc=$?
  CHECK_RC=$rc
  case $rc in
    0) ;;
    4)
      local copy='^problem: metadata copy [0-9]* at sector [0-9]* is \(stale\|corrupt\)'
      if ! grep -q "$copy" "$LOGS/check.$1" || grep '^problem:' "$LOGS/check.$1" | grep -qv "$copy"; then
        cat "$LOGS/check.$1" >&2
        fail "round $1: check found problems besides stale or torn metadata copies"
      fi
      ((++TORN_CHECKS)) ;;
    *) cat "$LOGS/check.$1" >&2; fail "round $1: remapfs check exited $rc" ;;
  esac
}

verify_volume() {  # verify_volume ROUND
  cp "$MNT/control/remaps" "$LOGS/remaps.$1"
  assert_remaps_valid "$MNT" >/dev/null
  "$PY" "$HERE/torture_verify.py" "$DISK" "$LOGS/remaps.$1" "$STORM_LOG" "${WRITER_LINES[@]}" \
    >"$LOGS/verify.$1" 2>&1 || { cat "$LOGS/verify.$1" >&2; fail "round $1: verification failed"; }
}

# field KEY FILE: the value of KEY=VALUE in FILE (torture_verify.py's line).
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$2" | head -1; }

acked_writes() { cat "$LOGS"/ack.* | wc -l; }

run_round() {  # run_round ROUND
  local round=$1 delay storm writes_before cut_before=${CUT:-0}
  writes_before=$(acked_writes)
  rm -f "$STOP_FILE"
  echo "R $round $(now_ns)" >>"$STORM_LOG"
  start_writers "$round" run
  remap_storm "$((SEED + round))" &
  storm=$!
  delay=$((200 + RANDOM % (DURATION * 1000 - 199)))  # ms
  sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
  # The failing-disk counters die with the daemon: kept to show the faults
  # were met (auto-remaps of writes, failed reads, scrub findings).
  cat "$MNT/control/status" >"$LOGS/status.$round"
  kill_daemon
  wait_all writer "${WRITER_PIDS[@]}"
  wait_all storm "$storm"
  echo "K $round $T_KILL" >>"$STORM_LOG"
  check_after_kill "$round"
  mount_volume
  verify_volume "$round"
  CUT=$(field control_cut "$LOGS/verify.$round")
  echo "   round $round: killed after $delay ms$( ((CUT > cut_before)) && echo " mid control write");" \
    "$(($(acked_writes) - writes_before)) writes acknowledged; check exit $CHECK_RC; all verified"
}

# status_sum KEY: the sum of KEY over the status snapshots of every round.
status_sum() { cat "$LOGS"/status.* | awk -v k="$1:" '$1 == k { n += $2 } END { print n + 0 }'; }

# verify_sum KEY: the sum of KEY over every round's verification.
verify_sum() {
  cat "$LOGS"/verify.[0-9]* | grep -o "\b$1=[0-9]*" | awk -F= '{ n += $2 } END { print n + 0 }'
}

# summarize SECONDS: the figures of the run (tests/torture/README.md).
summarize() {
  local v=$LOGS/verify.$ROUNDS init=${#REGIONS[@]}
  echo "   $ROUNDS rounds in $1 s, seed $SEED:"
  echo "   - $(($(acked_writes) - init)) writes acknowledged by fsync or O_DIRECT"
  echo "   - $(field control_acked "$v") control writes acknowledged, $(field control_refused "$v") refused (ENOSPC, EIO, EBUSY), $(field control_cut "$v") cut by the kill"
  echo "   - failing-disk work before the kills: $(status_sum auto_remaps) auto-remaps of writes, $(status_sum read_errors) failed reads, $(status_sum scrub_found) sectors found by the last scrub of a round"
  echo "   - $TORN_CHECKS kills left a stale or torn metadata copy (check exit 4, repaired at mount)"
  echo "   - after the kills: $(verify_sum sectors_verified) checks of a sector's last acknowledged write held ($(verify_sum newer) found a newer unacknowledged write), $(verify_sum lost) sectors lost to a read fault as the SPEC allows (pending); $(verify_sum remaps_verified) checks of an acknowledged add_bad/remove held"
}

main() {
  local start=$SECONDS round i
  RANDOM=$SEED
  say "torture: $ROUNDS rounds, seed $SEED, kill within $DURATION s (replay: --seed $SEED); logs in $LOGS"
  pick_direct_io_dir
  MAIN=$DIR/main.img SPARE=$DIR/spare.img
  make_main "$MAIN" $((MAIN_SECTORS * SECTOR))
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  for i in "${!REGIONS[@]}"; do WRITER_LINES+=("$i:${REGIONS[i]}:$LOGS/ack.$i"); done
  mount_volume
  start_writers 0 init  # every writer sector holds an acknowledged stamp
  wait_all "init writer" "${WRITER_PIDS[@]}"
  for ((round = 1; round <= ROUNDS; round++)); do run_round "$round"; done
  say "after $ROUNDS rounds: a clean unmount, and check finds nothing"
  unmount_remapfs "$MNT"
  "$REMAPFS" check "$SPARE" --main "$MAIN" >"$LOGS/check.final" 2>&1 ||
    { cat "$LOGS/check.final" >&2; fail "check after the last round exited non-zero"; }
  echo "   ok: check exits 0"
  summarize $((SECONDS - start))
  # A run that acknowledged nothing verified nothing: a broken harness.
  (($(acked_writes) > ${#REGIONS[@]} && $(field control_acked "$LOGS/verify.$ROUNDS") > 0)) ||
    fail "no write or no control write was acknowledged in $ROUNDS rounds"
  [[ -n ${TORTURE_KEEP_LOGS:-} ]] || rm -rf "$LOGS"
  pass
}

main
