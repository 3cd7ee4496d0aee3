#!/usr/bin/env bash
# The read-only control files answer while the remap table is held for a
# long time (SPEC "Safety of commands"): during a long add_bad, a failed
# read's sector-by-sector retries, and a scrub bisection. status shows the
# add_bad's progress (operation, operation_done, operation_total).
#
# How "long" is made deterministic: MAIN of the mount under test is the
# disk file of a second, inner remapfs mount, whose daemon the test stops
# with SIGSTOP. Every MAIN read then waits until SIGCONT, so the work stays
# inside its exclusive section for as long as the test needs. A 2 s limit
# only guards against a hang; the assertions are on exit codes and text.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3

INNER=$TMP/inner MNT=$TMP/mnt
MAIN=$INNER/main.img SPARE=$TMP/spare.img DISK=$MNT/main.img
INNER_PID="" OUTER_PID=""
VIEWS=(status remaps reservations inject scrub)

JOBS=()  # background writers and readers, which need MAIN to finish

# A stopped inner daemon would hang every unmount: whatever way the test
# ends, resume it, let the jobs finish and unmount the mount on top of it
# first (lib.sh's cleanup unmounts in mount order).
finish() {
  local rc=$? job
  set +e
  [[ -n $INNER_PID ]] && kill -CONT "$INNER_PID" 2>/dev/null
  for job in "${JOBS[@]}"; do wait "$job" 2>/dev/null; done
  if is_mounted "$MNT"; then
    fusermount3 -u "$MNT" && wait_until 10 eval "! kill -0 $OUTER_PID"
  fi
  (exit "$rc")
  cleanup
}
trap finish EXIT

stop_main() { kill -STOP "$INNER_PID"; }
resume_main() { kill -CONT "$INNER_PID"; }

# True while a thread of the daemon under test sits in a system call on
# MAIN's file descriptor: with the inner daemon stopped, that is a MAIN
# read that cannot return, made while holding the table lock.
main_read_blocked() {
  local task nr fd
  for task in /proc/"$OUTER_PID"/task/*; do
    read -r nr fd _ <"$task/syscall" || continue
    [[ $nr =~ ^[0-9]+$ && $fd == 0x* ]] || continue
    [[ $(readlink "/proc/$OUTER_PID/fd/$((fd))") == "$MAIN" ]] && return 0
  done
  return 1
}

# Reads control/NAME into $TMP/view.NAME and asserts it succeeded, printing
# how long it took. The 2 s limit is a hang guard, not a timing assertion
# (the views answer in milliseconds): `timeout` could not end a cat whose
# request the daemon has taken, so on a hang MAIN is let go first, the cat
# finishes when the work does, and the test fails.
read_view() {
  local name=$1 what=$2 pid rc ms
  (
    start=$(date +%s%N) rc=0
    cat "$MNT/control/$name" >"$TMP/view.$name" || rc=$?
    echo "$rc $((($(date +%s%N) - start) / 1000000))" >"$TMP/view.$name.result"
  ) &
  pid=$!
  JOBS+=("$pid")
  if ! wait_until 2 eval "! kill -0 $pid"; then
    resume_main
    wait "$pid" || true
    fail "cat control/$name gave no answer within 2 s during $what"
  fi
  wait "$pid" || true
  read -r rc ms <"$TMP/view.$name.result"
  assert_eq 0 "$rc" "cat control/$name during $what (took $ms ms)"
}

assert_views_answer() {
  local name
  for name in "${VIEWS[@]}"; do read_view "$name" "$1"; done
}

scrub_done() { [[ $(status_value "$MNT" scrub_state) == done ]]; }

view_value() { sed -n "s/^$1: //p" "$TMP/view.status"; }

check_long_add_bad() {
  say "a long add_bad: the views answer and status shows its progress"
  assert_eq idle "$(status_value "$MNT" operation)" "operation before"
  stop_main
  echo "0+4096" >"$MNT/control/add_bad" &
  local writer=$!
  JOBS+=("$writer")
  wait_until 10 main_read_blocked || fail "add_bad never reached MAIN"
  assert_views_answer "add_bad"
  assert_eq add_bad "$(view_value operation)" "status operation"
  assert_eq 4096 "$(view_value operation_total)" "status operation_total"
  (($(view_value operation_done) <= 4096)) || fail "operation_done > operation_total"
  assert_eq 0 "$(view_value remapped)" "status shows the committed table: remapped"
  assert_eq "" "$(cat "$TMP/view.remaps")" "remaps shows the committed table"
  resume_main
  local rc=0
  wait "$writer" || rc=$?
  assert_eq 0 "$rc" "the add_bad write succeeded once MAIN answered"
  assert_eq idle "$(status_value "$MNT" operation)" "operation after"
  assert_eq 0 "$(status_value "$MNT" operation_total)" "operation_total after"
  assert_eq 4096 "$(status_value "$MNT" remapped)" "remapped after"
  assert_eq 4096 "$(wc -l <"$MNT/control/remaps")" "remaps lines after"
}

check_read_retries() {
  say "a failed read narrowed down sector by sector: the views answer"
  control_write "$MNT" inject "read 20000"
  # The read and its retries fail at the fault without touching MAIN; the
  # search for the failing sectors, under the exclusive lock, reads 20001.
  stop_main
  "$PY" -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
try:
    os.preadv(fd, [mmap.mmap(-1, 4096)], 20000 * 512)
    print(0)
except OSError as e:
    print(e.errno)' "$DISK" >"$TMP/read.errno" &
  local reader=$!
  JOBS+=("$reader")
  wait_until 10 main_read_blocked || fail "the read never reached MAIN"
  assert_views_answer "read retries"
  assert_eq "20000 20000 read" "$(cat "$TMP/view.inject")" "inject lists the fault"
  resume_main
  wait "$reader" || true
  assert_eq "$EIO" "$(cat "$TMP/read.errno")" "the read fails with EIO"
  assert_eq 1 "$(status_value "$MNT" pending)" "sector 20000 pending"
  control_write "$MNT" inject "clear all"
}

check_scrub_bisection() {
  say "a scrub bisecting a failing chunk: the views answer"
  control_write "$MNT" inject "read 30000"
  stop_main
  # The chunk's read fails at the fault; its bisection, under the
  # exclusive lock, reads 29996-29999 from MAIN.
  control_write "$MNT" scrub "start 29996+8"
  wait_until 10 main_read_blocked || fail "the scrub never reached MAIN"
  assert_views_answer "scrub bisection"
  assert_eq running "$(sed -n 's/^state: //p' "$TMP/view.scrub")" "scrub state"
  resume_main
  wait_until 10 scrub_done || fail "scrub not done after MAIN answered"
  assert_eq 1 "$(status_value "$MNT" scrub_found)" "scrub_found"
  assert_eq 2 "$(status_value "$MNT" pending)" "sector 30000 pending too"
  control_write "$MNT" inject "clear all"
}

main() {
  make_main "$TMP/inner.img" $((16 << 20))
  format_volume "$TMP/inner.img" "$TMP/inner.spare" --spare-size 1M
  mount_remapfs "$TMP/inner.img" "$TMP/inner.spare" "$INNER" --name main.img
  INNER_PID=$MOUNT_PID
  format_volume "$MAIN" "$SPARE" --spare-size 8M
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  OUTER_PID=$MOUNT_PID
  check_long_add_bad
  check_read_retries
  check_scrub_bisection
  unmount_remapfs "$MNT" "$OUTER_PID"
  unmount_remapfs "$INNER" "$INNER_PID"
  pass
}

main
