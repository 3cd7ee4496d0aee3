#!/usr/bin/env bash
# The mount as SPEC "The mount" describes it: layout, sizes, status keys,
# the disk file's error semantics, O_DIRECT, and where the bytes land in
# MAIN and SPARE as sectors are remapped and returned.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment python3 cmp

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img
MAIN_BYTES=$((8 << 20))

check_layout() {
  say "layout: NAME = basename of MAIN, control/ with the eight files"
  assert_eq "control main.img" "$(ls "$MNT" | sort | xargs)" "top level"
  assert_eq "add_bad inject remaps remove reservations scrub status status.json" \
    "$(ls "$MNT/control" | sort | xargs)" "control files"
  assert_eq "$MAIN_BYTES" "$(stat -c %s "$DISK")" "disk size == main size"
  assert_same_file "$MAIN" "$DISK" "disk content == main.img before any remap"
}

check_status_keys() {
  say "status carries every SPEC key"
  local key
  for key in sector_size main_sectors spare_sectors strategy metadata_copies \
    metadata_valid_copies metadata_sequence reserved_sectors spare_capacity \
    spare_used spare_free remapped pending read_errors write_errors \
    auto_remaps last_error; do
    [[ -n $(status_value "$MNT" "$key") ]] || fail "status lacks '$key:'"
  done
  assert_eq 512 "$(status_value "$MNT" sector_size)" "sector_size"
  assert_eq 16384 "$(status_value "$MNT" main_sectors)" "main_sectors"
  assert_eq 1024 "$(status_value "$MNT" spare_sectors)" "spare_sectors"
  assert_eq linear "$(status_value "$MNT" strategy)" "strategy for a 512 KiB spare"
  assert_eq 4 "$(status_value "$MNT" metadata_copies)" "metadata_copies"
  assert_eq 4 "$(status_value "$MNT" metadata_valid_copies)" "metadata_valid_copies"
  assert_eq 0 "$(status_value "$MNT" remapped)" "remapped"
  local reserved capacity free
  reserved=$(status_value "$MNT" reserved_sectors)
  capacity=$(status_value "$MNT" spare_capacity)
  free=$(status_value "$MNT" spare_free)
  assert_eq 1024 "$((reserved + capacity))" "reserved + capacity == spare_sectors"
  assert_eq "$capacity" "$free" "spare_free == capacity on a fresh spare"
  say "reservations: the SPEC's linear copies at 0, 256, 512, 768"
  assert_eq "0 256 512 768" "$(awk '{print $1}' "$MNT/control/reservations" | xargs)" \
    "first sectors of the reserved extents"
  assert_eq "$reserved" "$(awk '{n += $2 - $1 + 1} END {print n}' "$MNT/control/reservations")" \
    "reservations add up to reserved_sectors"
}

check_disk_errors() {
  say "write past the end -> ENOSPC; truncate -> EPERM"
  expect_errno $ENOSPC "pwrite at offset == size" "$DISK" "$MAIN_BYTES" <<<"x"
  head -c 1024 /dev/zero | expect_errno $ENOSPC "pwrite straddling the end" \
    "$DISK" $((MAIN_BYTES - 512))
  assert_same_file "$MAIN" "$DISK" "the straddling write changed nothing"
  local err
  err=$("$PY" -c 'import os,sys
try: os.truncate(sys.argv[1], 4096); print(0)
except OSError as e: print(e.errno)' "$DISK")
  assert_eq $EPERM "$err" "truncate errno"
  assert_eq "$MAIN_BYTES" "$(stat -c %s "$DISK")" "size after truncate attempt"
}

check_direct_io_and_placement() {
  say "O_DIRECT writes and reads; bytes land in MAIN at the same offset"
  head -c 65536 /dev/urandom >"$TMP/d64k"
  dd if="$TMP/d64k" of="$DISK" bs=4096 seek=64 oflag=direct conv=notrunc status=none ||
    fail "dd oflag=direct"
  dd if="$DISK" of="$TMP/d64k.back" bs=4096 skip=64 count=16 iflag=direct status=none ||
    fail "dd iflag=direct"
  assert_same_file "$TMP/d64k" "$TMP/d64k.back" "O_DIRECT read back"
  read_sectors "$MAIN" 512 128 >"$TMP/main.at512"
  assert_same_file "$TMP/d64k" "$TMP/main.at512" "main.img bytes at the written offset"
  assert_same_file "$MAIN" "$DISK" "whole disk == main.img (nothing remapped)"
}

# Asserts each remapped sector's spare copy holds the bytes of FILE's
# sector at the same main position.
assert_spare_holds() {
  local file=$1 s sp; shift
  for s in "$@"; do
    sp=$(spare_sector_of "$MNT" "$s")
    [[ -n $sp ]] || fail "sector $s not in remaps"
    [[ $(sectors_sha "$SPARE" "$sp") == "$(sectors_sha "$file" "$s")" ]] ||
      fail "spare sector $sp does not hold main sector $s's data"
  done
  echo "   ok: the spare holds the data of sectors $*"
}

check_add_bad() {
  say "add_bad 100-107 300 0x200+4: listed active, data unchanged, copied to spare"
  cp "$MAIN" "$TMP/main.before"
  control_write "$MNT" add_bad "100-107 300 0x200+4"
  local expected
  expected=$(printf '%s active\n' 100 101 102 103 104 105 106 107 300 512 513 514 515)
  assert_eq "$expected" "$(awk '{print $1, $3}' "$MNT/control/remaps")" "remaps lines"
  assert_remaps_valid "$MNT"
  assert_eq 13 "$(status_value "$MNT" remapped)" "status remapped"
  assert_eq 13 "$(status_value "$MNT" spare_used)" "status spare_used"
  assert_same_file "$MAIN" "$TMP/main.before" "add_bad wrote nothing to main.img"
  assert_same_file "$MAIN" "$DISK" "disk content unchanged by the remap"
  assert_spare_holds "$MAIN" 100 103 107 300 512 515
}

check_write_to_remapped() {
  say "writes over remapped sectors go to the spare; main.img keeps the old bytes"
  head -c $((16 * SECTOR)) /dev/urandom >"$TMP/new16"
  write_sectors "$DISK" 96 "$TMP/new16"
  read_sectors "$DISK" 96 16 >"$TMP/disk.96"
  assert_same_file "$TMP/new16" "$TMP/disk.96" "disk reads back the new data"
  assert_eq "$(sectors_sha "$TMP/main.before" 100 8)" "$(sectors_sha "$MAIN" 100 8)" \
    "main.img sectors 100-107 untouched"
  assert_eq "$(read_sectors "$TMP/new16" 0 4 | sha256sum)" "$(read_sectors "$MAIN" 96 4 | sha256sum)" \
    "main.img sectors 96-99 (not remapped) got the new data"
  assert_eq "$(read_sectors "$TMP/new16" 12 4 | sha256sum)" "$(read_sectors "$MAIN" 108 4 | sha256sum)" \
    "main.img sectors 108-111 (not remapped) got the new data"
  assert_spare_holds "$DISK" 100 101 104 107
}

check_remove() {
  say "remove 100-107: returned to main.img with their current data"
  read_sectors "$DISK" 0 16384 >"$TMP/disk.before_remove"
  control_write "$MNT" remove "100-107"
  assert_eq "300 512 513 514 515" "$(awk '{print $1}' "$MNT/control/remaps" | xargs)" \
    "remaps after remove"
  assert_eq 5 "$(status_value "$MNT" remapped)" "status remapped after remove"
  assert_eq "$(sectors_sha "$TMP/new16" 4 8)" "$(sectors_sha "$MAIN" 100 8)" \
    "main.img sectors 100-107 hold the data written while remapped"
  assert_same_file "$TMP/disk.before_remove" "$DISK" "disk content unchanged by remove"
  # Sectors 300 and 512-515 were never written after their remap.
  assert_same_file "$MAIN" "$DISK" "disk == main.img everywhere"
}

check_custom_name() {
  say "--name disk0"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT" --name disk0
  assert_eq "control disk0" "$(ls "$MNT" | sort | xargs)" "top level with --name"
  assert_same_file "$TMP/disk.before_remove" "$MNT/disk0" "disk0 content"
  unmount_remapfs "$MNT"
}

check_fstab_form() {
  say "fstab form: remapfs MAIN,SPARE MNT -o with remapfs's own options among FUSE's"
  start_mount "$MNT" "$MAIN,$SPARE" "$MNT" -f \
    -o "error_recovery_time=2s,default_permissions,name=disk1,read_retries=1"
  assert_eq "control disk1" "$(ls "$MNT" | sort | xargs)" "name= taken from -o"
  grep -q "at most 2000 ms per failing request, 1 read retries" "$MOUNT_LOG" ||
    fail "the log does not show error_recovery_time=2s, read_retries=1: $(cat "$MOUNT_LOG")"
  echo "   ok: the log shows error_recovery_time=2s and read_retries=1"
  grep -q "default_permissions" /proc/self/mountinfo ||
    fail "default_permissions did not reach FUSE"
  echo "   ok: the other -o options reach FUSE"
  unmount_remapfs "$MNT"
}

main() {
  make_main "$MAIN" "$MAIN_BYTES"
  format_volume "$MAIN" "$SPARE" --spare-size 512K
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  check_layout
  check_status_keys
  check_disk_errors
  check_direct_io_and_placement
  check_add_bad
  check_write_to_remapped
  check_remove
  check_custom_name
  check_fstab_form
  pass
}

main
