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
#  - SIGTERM and SIGHUP under load end the daemon with exit code 0 and the
#    mount gone; data written and fsync'd before the signal is intact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment fio cmp dd

MNT=$TMP/mnt
DIR=""  # where MAIN and SPARE live: a filesystem that takes O_DIRECT
MAIN_BYTES=$((64 << 20))

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
  make_main "$DIR/main.img" "$MAIN_BYTES"
  rm -f "$DIR/spare.img"
  format_volume "$DIR/main.img" "$DIR/spare.img" --spare-size 4M
  mount_remapfs "$DIR/main.img" "$DIR/spare.img" "$MNT" "$@"
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

check_signal_under_load() {  # check_signal_under_load SIGNAL MOUNT_ARGS...
  local sig=$1; shift
  say "SIG$sig while requests are in flight ($*)"
  make_main "$DIR/main.img" "$MAIN_BYTES"
  rm -f "$DIR/spare.img"
  format_volume "$DIR/main.img" "$DIR/spare.img" --spare-size 4M
  mount_remapfs "$DIR/main.img" "$DIR/spare.img" "$MNT" "$@"
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
  wait_until 10 eval "! kill -0 $pid" || fail "daemon still running 10 s after SIG$sig"
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

pick_direct_io_dir
for mode in off on; do
  check_many_requests --direct-io "$mode"
  check_signal_under_load TERM --direct-io "$mode"
done
check_signal_under_load HUP --direct-io on
pass
