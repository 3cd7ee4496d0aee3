#!/usr/bin/env bash
# Failing-disk behaviour through control/inject on a real mount: a write
# over write-failing sectors succeeds (auto-remap) and reads back; an
# unreadable sector fails with EIO through O_DIRECT reads and through ext4
# on a loop device, becomes pending, survives a remount, and clears on
# rewrite; an injected latency delays the EIO; with the spare exhausted, a
# failing write fails with EIO and changes nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment losetup mkfs.ext4 filefrag cmp

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt EXT=$TMP/ext4
DISK=$MNT/main.img

# read_errno PATH OFFSET LEN: O_DIRECT pread; prints 0 or the errno.
read_errno() {
  "$PY" -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, int(sys.argv[3]))
try:
    os.preadv(fd, [buf], int(sys.argv[2]))
    print(0)
except OSError as e:
    print(e.errno)
' "$@"
}

# direct_write PATH FIRST_SECTOR SRC: O_DIRECT write of SRC in 4 KiB units.
direct_write() {
  dd if="$3" of="$1" bs=4096 seek=$(($2 * SECTOR / 4096)) oflag=direct conv=notrunc status=none
}

check_write_fault_is_remapped() {
  say "a write over injected write faults succeeds, is remapped and reads back"
  control_write "$MNT" inject "write 152-154"
  head -c 8192 /dev/urandom >"$TMP/w"
  direct_write "$DISK" 144 "$TMP/w" || fail "write over failing sectors"
  assert_same_file "$TMP/w" <(read_sectors "$DISK" 144 16) "data reads back"
  assert_eq 3 "$(status_value "$MNT" auto_remaps)" "auto_remaps"
  assert_eq 3 "$(awk '$1 >= 152 && $1 <= 154 && $3 == "active"' "$MNT/control/remaps" | wc -l)" \
    "sectors 152-154 remapped, active"
  [[ $(status_value "$MNT" write_errors) -ge 3 ]] || fail "write_errors not counted"
  assert_same_file <(read_sectors "$TMP/main.orig" 152 3) <(read_sectors "$MAIN" 152 3) \
    "MAIN keeps its old bytes where the write failed"
  assert_same_file <(head -c 4096 "$TMP/w") <(read_sectors "$MAIN" 144 8) \
    "healthy sectors of the same write landed in MAIN"
  control_write "$MNT" inject "clear all"
}

check_read_fault_becomes_pending() {
  say "an unreadable sector fails with EIO and becomes pending, across a remount"
  control_write "$MNT" inject "read 300"
  assert_eq 5 "$(read_errno "$DISK" $((296 * SECTOR)) 4096)" "O_DIRECT read gives EIO"
  assert_eq 1 "$(status_value "$MNT" pending)" "pending count"
  grep -Eq '^300 [0-9]+ pending$' "$MNT/control/remaps" || fail "300 not listed pending"
  control_write "$MNT" inject "clear all"
  assert_eq 5 "$(read_errno "$DISK" $((300 * SECTOR)) 512)" "still EIO with the fault gone"
  assert_eq 0 "$(read_errno "$DISK" $((304 * SECTOR)) 4096)" "neighbours read fine"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_eq 1 "$(status_value "$MNT" pending)" "pending after remount"
  assert_eq 5 "$(read_errno "$DISK" $((300 * SECTOR)) 512)" "EIO after remount"
  say "a full rewrite clears it"
  head -c 4096 /dev/urandom >"$TMP/r"
  direct_write "$DISK" 296 "$TMP/r" || fail "rewrite of the pending sector"
  assert_same_file "$TMP/r" <(read_sectors "$DISK" 296 8) "rewritten data reads back"
  assert_eq 0 "$(status_value "$MNT" pending)" "pending cleared"
  grep -Eq '^300 [0-9]+ active$' "$MNT/control/remaps" || fail "300 not active"
}

check_ext4_sees_eio() {
  say "ext4 on a loop device: a file over an unreadable sector fails with EIO"
  local loop first
  loop=$(losetup --find --show --direct-io=on "$DISK") || fail "losetup"
  LOOP_DEVS+=("$loop")
  mkfs.ext4 -q -F -b 4096 "$loop" || fail "mkfs.ext4"
  mkdir -p "$EXT" && mount "$loop" "$EXT" || fail "mount ext4"
  OTHER_MOUNTS+=("$EXT")
  head -c 65536 /dev/urandom >"$EXT/victim"
  sync
  first=$(filefrag -v "$EXT/victim" | awk '$1 == "0:" { sub(/\.\..*/, "", $4); print $4 }')
  [[ -n $first ]] || fail "no extent for the file"
  control_write "$MNT" inject "read $((first * 4096 / SECTOR + 3))"
  echo 3 >/proc/sys/vm/drop_caches
  if cat "$EXT/victim" >/dev/null 2>"$TMP/cat.err"; then fail "read of the file succeeded"; fi
  grep -qi "input/output error" "$TMP/cat.err" || fail "not EIO: $(cat "$TMP/cat.err")"
  echo "   ok: cat fails with EIO"
  control_write "$MNT" inject "clear all"
  dd if=/dev/urandom of="$EXT/victim" bs=4096 count=16 conv=notrunc,fsync status=none ||
    fail "rewrite of the file"
  echo 3 >/proc/sys/vm/drop_caches
  cat "$EXT/victim" >/dev/null || fail "file unreadable after rewrite"
  echo "   ok: readable after rewriting it"
  umount "$EXT" && losetup -d "$loop"
}

check_inject_latency() {
  say "inject latency: a failing read waits before its EIO; inject keeps its fault lines"
  control_write "$MNT" inject "read 500"
  control_write "$MNT" inject "latency 300"
  assert_eq 300 "$(status_value "$MNT" inject_latency_ms)" "status shows inject_latency_ms"
  assert_eq "500 500 read" "$(cat "$MNT/control/inject")" "inject lists the fault only"
  local start end
  start=$(date +%s%N)
  assert_eq 5 "$(read_errno "$DISK" $((496 * SECTOR)) 4096)" "O_DIRECT read gives EIO"
  end=$(date +%s%N)
  (((end - start) / 1000000 >= 300)) || fail "the read failed after $(((end - start) / 1000000)) ms, under the 300 ms latency"
  echo "   ok: it failed after $(((end - start) / 1000000)) ms (latency 300 ms per failed attempt)"
  control_write "$MNT" inject "clear all"
  assert_eq 300 "$(status_value "$MNT" inject_latency_ms)" "clear all keeps the latency"
  control_write "$MNT" inject "latency 0"
  assert_eq 0 "$(status_value "$MNT" inject_latency_ms)" "latency 0 turns it off"
}

check_exhausted_spare() {
  say "spare exhausted: a failing write fails with EIO and changes nothing"
  control_write "$MNT" add_bad "20000+$(status_value "$MNT" spare_free)"
  assert_eq 0 "$(status_value "$MNT" spare_free)" "spare full"
  cp "$MNT/control/remaps" "$TMP/remaps.full"
  control_write "$MNT" inject "write 40000"
  head -c 4096 /dev/urandom | expect_errno 5 "write over a failing sector" "$DISK" $((40000 * SECTOR))
  assert_same_file "$TMP/remaps.full" "$MNT/control/remaps" "remaps unchanged"
  status_value "$MNT" last_error | grep -qi "exhausted" || fail "last_error: $(status_value "$MNT" last_error)"
  echo "   ok: last_error says the spare is exhausted"
}

make_main "$MAIN" $((64 << 20))
cp "$MAIN" "$TMP/main.orig"
format_volume "$MAIN" "$SPARE" --spare-size 512K
mount_remapfs "$MAIN" "$SPARE" "$MNT"
check_write_fault_is_remapped
check_read_fault_becomes_pending
check_ext4_sees_eio
check_inject_latency
check_exhausted_spare
unmount_remapfs "$MNT"
pass
