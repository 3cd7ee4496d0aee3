#!/usr/bin/env bash
# SPEC invariant 8 with a spare that fails under a live mount. The spare of
# the volume under test is the disk file of a second remapfs mount (LOWER),
# whose own spare is full, so that a write `control/inject` fails there is
# an EIO to the upper volume, exactly as from a dying disk. What a remount
# shows must equal what the daemon served, and every fsync'd byte must read
# back.
#  - one copy failing: add_bad and remove still commit (on the other copies),
#    status counts one valid copy fewer, and a remount repairs it;
#  - every copy failing: add_bad fails with EIO, writes are refused with EIO
#    while the table on disk is uncertain, and work again once the spare
#    does (the table is re-committed first).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment dd cmp

MAIN=$TMP/main.img MNT=$TMP/mnt DISK=$MNT/main.img
LOWER=$TMP/lower SPARE=$LOWER/spare.img
COPIES=(0 256 512 768)  # a 512 KiB spare: linear, 4 copies of 17 sectors

head -c $((512 << 10)) /dev/zero >"$TMP/spare.img"
format_volume "$TMP/spare.img" "$TMP/lower.spare" --spare-size 36K  # 8 slots
mount_remapfs "$TMP/spare.img" "$TMP/lower.spare" "$LOWER"
control_write "$LOWER" add_bad 1016+8  # the lower spare is now full
assert_eq 0 "$(status_value "$LOWER" spare_free)" "lower spare full"

# fail_sectors SECTOR...: writes to these sectors of SPARE fail with EIO
# from now on (none: heal it).
fail_sectors() {
  control_write "$LOWER" inject "clear all"
  local s
  for s in "$@"; do control_write "$LOWER" inject "write $s"; done
}

make_main "$MAIN" $((4 << 20))
format_volume "$MAIN" "$SPARE"
mount_remapfs "$MAIN" "$SPARE" "$MNT" --direct-io on

say "copy 2's header fails: add_bad commits on the other copies"
fail_sectors "${COPIES[2]}"
control_write "$MNT" add_bad 12
assert_eq 3 "$(status_value "$MNT" metadata_valid_copies)" "valid copies while one fails"
head -c $((4 * SECTOR)) /dev/urandom >"$TMP/a"
dd if="$TMP/a" of="$DISK" bs=$SECTOR seek=10 conv=notrunc,fsync status=none || fail "write a"
say "and remove commits too"
control_write "$MNT" remove 12
head -c $((4 * SECTOR)) /dev/urandom >"$TMP/b"
dd if="$TMP/b" of="$DISK" bs=$SECTOR seek=20 conv=notrunc,fsync status=none || fail "write b"
control_write "$MNT" add_bad 21
cp "$DISK" "$TMP/served"
cp "$MNT/control/remaps" "$TMP/remaps.served"
unmount_remapfs "$MNT"
fail_sectors
mount_remapfs "$MAIN" "$SPARE" "$MNT" --direct-io on
assert_same_file "$TMP/remaps.served" "$MNT/control/remaps" "remount shows the served table"
assert_same_file "$TMP/served" "$DISK" "remount serves every fsync'd byte"
assert_eq 4 "$(status_value "$MNT" metadata_valid_copies)" "the failed copy repaired at mount"

say "every copy's header fails: add_bad fails, writes are refused until the spare works"
fail_sectors "${COPIES[@]}"
expect_errno "$EIO" "add_bad with every copy failing" "$MNT/control/add_bad" <<<"30"
grep -q '^30 ' "$MNT/control/remaps" && fail "a failed add_bad shows in remaps"
head -c $SECTOR /dev/urandom >"$TMP/c"
expect_errno "$EIO" "a write while the table is uncertain" "$DISK" $((30 * SECTOR)) <"$TMP/c"
assert_eq refused "$(status_value "$MNT" metadata_writes)" "status says writes are refused"
fail_sectors
expect_errno 0 "a write once the spare works again" "$DISK" $((30 * SECTOR)) <"$TMP/c"
assert_eq ok "$(status_value "$MNT" metadata_writes)" "status says writes work again"
sync "$DISK"
cp "$DISK" "$TMP/served"
cp "$MNT/control/remaps" "$TMP/remaps.served"
unmount_remapfs "$MNT"
mount_remapfs "$MAIN" "$SPARE" "$MNT" --direct-io on
assert_same_file "$TMP/remaps.served" "$MNT/control/remaps" "remount shows the served table"
assert_same_file "$TMP/served" "$DISK" "remount serves every acknowledged byte"
unmount_remapfs "$MNT"
"$REMAPFS" check "$SPARE" --main "$MAIN" >/dev/null || fail "check after the failures"
unmount_remapfs "$LOWER"

pass
