#!/usr/bin/env bash
# The FUSE worker pool (fuse/worker_pool.cc) through a real mount, buffered
# and with --direct-io on. Each worker receives requests in a buffer of its
# own, a WRITE's data page aligned in it, and assembles a READ's reply in the
# same buffer behind the request.
#  - Many requests in flight at once, 4 KiB to 1 MiB, each fio job on its
#    own region (partly remapped to the spare) with every block verified
#    after writing (fio --verify): no two workers share a buffer, and write
#    data in its aligned place is stored intact; unaligned 1 MiB reads
#    (through the bounce buffer under O_DIRECT) equal aligned ones; after a
#    remount every block verifies again.
#  - SIGTERM and SIGINT under load, SIGTERM idle, end the daemon with exit
#    code 0 and the mount gone; data written and fsync'd before the signal
#    is intact. (SIGHUP reopens the log file instead: daemon_logging.sh.)
#  - umount -l while a writer holds the disk open and fio is busy: the
#    daemon serves the open file to its close, then exits 0; writes (and a
#    a remap) acknowledged, never fsync'd, are there at the next mount,
#    partly on the spare (the final sync runs after the last worker).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment fio cmp dd

MNT=$TMP/mnt
DIR=""  # where MAIN and SPARE live: a filesystem that takes O_DIRECT
MAIN_BYTES=$((64 << 20))

# fresh_mount MOUNT_ARGS...: a new MAIN and a 4 MiB spare, mounted on MNT.
fresh_mount() {
  make_main "$DIR/main.img" "$MAIN_BYTES"
  rm -f "$DIR/spare.img"
  format_volume "$DIR/main.img" "$DIR/spare.img" --spare-size 4M
  mount_remapfs "$DIR/main.img" "$DIR/spare.img" "$MNT" "$@"
}

# fio_verified WRITE_OR_VERIFY_ONLY: 4 jobs, each on its own 16 MiB, 16
# requests in flight per job, blocks of 4 KiB to 1 MiB, every block read
# back and checked; with --verify_only, the same blocks checked again.
fio_verified() {
  fio --name=pool --filename="$MNT/main.img" --rw=randwrite --bsrange=4k-1M \
    --ioengine=libaio --iodepth=16 --direct=1 --numjobs=4 --size=16M --offset_increment=16M \
    --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 --group_reporting "$@" \
    --output="$TMP/fio.out" || { cat "$TMP/fio.out" >&2; fail "fio --verify $* through the mount"; }
}

# unaligned_reads_match COPY: 1 MiB reads at byte offsets no block divides
# equal the same bytes of COPY, the disk file read in aligned 1 MiB requests.
unaligned_reads_match() {
  local off
  for off in 1 4095 $((5 << 20 | 511)) $((MAIN_BYTES - (1 << 20) - 3)); do
    cmp -s <(dd if="$MNT/main.img" iflag=skip_bytes skip="$off" bs=1M count=1 status=none) \
      <(dd if="$1" iflag=skip_bytes skip="$off" bs=1M count=1 status=none) ||
      fail "a 1 MiB read at byte $off differs from the aligned reads"
  done
  echo "   ok: 1 MiB reads at unaligned offsets equal the aligned reads"
}

check_many_requests() {  # check_many_requests MOUNT_ARGS...
  say "many requests in flight, 4 KiB to 1 MiB, verified ($*)"
  fresh_mount "$@"
  # Some of every job's region lives on the spare.
  control_write "$MNT" add_bad "2000+64 40001+100 70000+17 100003+9"
  fio_verified
  echo "   ok: fio wrote and verified 4 x 16 MiB, 4 KiB to 1 MiB, 64 requests in flight"
  dd if="$MNT/main.img" of="$TMP/disk.copy" bs=1M iflag=direct status=none || fail "read the disk"
  unaligned_reads_match "$TMP/disk.copy"
  unmount_remapfs "$MNT"
  mount_remapfs "$DIR/main.img" "$DIR/spare.img" "$MNT" "$@"
  fio_verified --verify_only
  echo "   ok: after a remount, every block verified again"
  assert_same_file "$MNT/main.img" "$TMP/disk.copy" "after a remount, the disk file is as read before"
  unmount_remapfs "$MNT"
}

# daemon_gone PID WHAT: waits 10 s for the daemon to exit after WHAT; if it
# is still there, shows its threads' wait channels and its log, and fails.
# (That showed a daemon whose signal was ignored: every worker waiting for a
# request, no exit begun. See signal_mount.)
daemon_gone() {
  local pid=$1 what=$2 t
  wait_until 10 eval "! kill -0 $pid" && return 0
  for t in /proc/"$pid"/task/*; do
    echo "   thread $(cat "$t/comm" 2>/dev/null): $(cat "$t/wchan" 2>/dev/null)" >&2
  done
  tail -20 "$MOUNT_LOG" >&2
  fail "daemon still running 10 s after $what"
}

# signal_mount SIG MOUNT_ARGS...: fresh_mount with SIG's default action in
# the daemon. A signal ignored where the test runs (a script's background
# jobs ignore INT) is ignored in the daemon it starts, and libfuse leaves
# an ignored signal alone: the daemon would never see it. A daemon started by systemd or a
# login shell has the default.
signal_mount() {
  local sig=$1; shift
  MOUNT_AS=(env "--default-signal=$sig")
  fresh_mount "$@"
  MOUNT_AS=()
}

check_signal_under_load() {  # check_signal_under_load SIGNAL MOUNT_ARGS...
  local sig=$1; shift
  say "SIG$sig while requests are in flight ($*)"
  signal_mount "$sig" "$@"
  head -c $((3 << 20)) /dev/urandom >"$TMP/pattern"
  dd if="$TMP/pattern" of="$MNT/main.img" bs=1M seek=7 conv=notrunc,fsync status=none ||
    fail "write the pattern"
  fio --name=load --filename="$MNT/main.img" --rw=randrw --bsrange=4k-1M --ioengine=libaio \
    --iodepth=32 --direct=1 --offset=16M --size=32M --time_based --runtime=30 \
    --output=/dev/null >"$TMP/load.out" 2>&1 &
  local fio_pid=$! pid=$MOUNT_PID rc=0
  CLEANUP_HOOKS+=("kill $fio_pid 2>/dev/null")
  sleep 1
  kill -"$sig" "$pid"
  daemon_gone "$pid" "SIG$sig"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || tail -20 "$MOUNT_LOG" >&2
  assert_eq 0 "$rc" "exit code of the daemon after SIG$sig"
  wait "$fio_pid" || true
  is_mounted "$MNT" && fail "$MNT still mounted after SIG$sig"
  echo "   ok: $MNT unmounted"
  cmp -s <(dd if="$DIR/main.img" bs=1M skip=7 count=3 status=none) "$TMP/pattern" ||
    fail "the data fsync'd before SIG$sig is not in MAIN"
  echo "   ok: the data fsync'd before SIG$sig is in MAIN"
}

# (Not SIGINT: a script's background jobs start with it ignored, and
# libfuse leaves an ignored signal alone.)
check_signal_idle() {  # check_signal_idle SIGNAL MOUNT_ARGS...
  local sig=$1; shift
  say "SIG$sig while idle ($*)"
  signal_mount "$sig" "$@"
  local pid=$MOUNT_PID rc=0
  kill -"$sig" "$pid"
  daemon_gone "$pid" "SIG$sig"
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "exit code of the daemon after SIG$sig while idle"
  is_mounted "$MNT" && fail "$MNT still mounted after SIG$sig"
  echo "   ok: exit code 0, $MNT unmounted"
}

check_lazy_unmount_under_load() {  # check_lazy_unmount_under_load MOUNT_ARGS...
  say "umount -l while the disk is open and busy ($*)"
  fresh_mount "$@"
  local pid=$MOUNT_PID rc=0 fd
  head -c $((2 << 20)) /dev/urandom >"$TMP/late"
  control_write "$MNT" add_bad "$(((2 << 20) / SECTOR))+8"
  exec {fd}<>"$MNT/main.img"
  fio --name=load --filename="$MNT/main.img" --rw=randrw --bsrange=4k-1M --ioengine=libaio \
    --iodepth=32 --direct=1 --offset=16M --size=32M --time_based --runtime=3 \
    --output=/dev/null >"$TMP/load.out" 2>&1 &
  local fio_pid=$!
  CLEANUP_HOOKS+=("kill $fio_pid 2>/dev/null")
  sleep 1
  umount -l "$MNT" || fail "umount -l $MNT"
  # Through the descriptor opened before, no fsync: 2 MiB at MiB 2, whose
  # first 8 sectors were remapped before the unmount.
  dd if="$TMP/late" of="/proc/self/fd/$fd" bs=1M seek=2 conv=notrunc status=none ||
    fail "write through the descriptor opened before umount -l"
  wait "$fio_pid" || fail "fio through the lazily unmounted disk: $(tail -5 "$TMP/load.out")"
  kill -0 "$pid" || fail "the daemon exited while the disk was still open"
  exec {fd}>&-
  daemon_gone "$pid" "the last close"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || tail -20 "$MOUNT_LOG" >&2
  assert_eq 0 "$rc" "exit code of the daemon after umount -l and the last close"
  echo "   ok: the daemon served the open disk to its close, then exited 0"
  mount_remapfs "$DIR/main.img" "$DIR/spare.img" "$MNT" "$@"
  cmp -s <(dd if="$MNT/main.img" bs=1M skip=2 count=2 status=none) "$TMP/late" ||
    fail "data written after umount -l (acknowledged, not fsync'd) lost at exit"
  assert_eq 8 "$(status_value "$MNT" remapped)" "remapped sectors at the next mount"
  echo "   ok: the writes acknowledged after umount -l and the remap are there at the next mount"
  unmount_remapfs "$MNT"
}

pick_direct_io_dir
for mode in off on; do
  check_many_requests --direct-io "$mode"
  check_signal_under_load TERM --direct-io "$mode"
done
check_signal_under_load INT --direct-io on
check_signal_idle TERM --direct-io off
check_lazy_unmount_under_load --direct-io off
check_lazy_unmount_under_load --direct-io on
pass
