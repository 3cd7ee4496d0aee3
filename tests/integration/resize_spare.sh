#!/usr/bin/env bash
# remapfs resize-spare on real files: grow a full 512 KiB linear spare to
# 4 MiB geometric (remapped data sits where the new copies go), refuse a
# shrink that would drop used sectors (spare unchanged), shrink back after
# returning those sectors, refuse while mounted. Every remap and every byte
# of the disk survives each step.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img

# remount_and_compare TAG: mount, then the disk bytes and the remapped main
# sectors must equal what was saved under TAG.
remount_and_compare() {
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_same_file "$TMP/disk.$1" "$DISK" "disk bytes identical after $1"
  assert_same_file "$TMP/mains.$1" <(cut -d' ' -f1 "$MNT/control/remaps") \
    "same remapped main sectors after $1"
  assert_remaps_valid "$MNT"
}

save() {  # save TAG
  cp "$DISK" "$TMP/disk.$1"
  cut -d' ' -f1 "$MNT/control/remaps" >"$TMP/mains.$1"
}

make_main "$MAIN" $((16 << 20))
format_volume "$MAIN" "$SPARE" --spare-size 512K
mount_remapfs "$MAIN" "$SPARE" "$MNT"
capacity=$(status_value "$MNT" spare_capacity)
say "fill the whole spare ($capacity sectors) and give them new data"
control_write "$MNT" add_bad "1000+$capacity"
assert_eq 0 "$(status_value "$MNT" spare_free)" "spare full"
head -c $((capacity * SECTOR)) /dev/urandom >"$TMP/data"
write_sectors "$DISK" 1000 "$TMP/data"
save full

say "resize-spare is refused while mounted"
expect_cli_failure "resize while mounted" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 4M
stderr_mentions "in use|busy|mounted"
unmount_remapfs "$MNT"

say "grow 512K linear -> 4M geometric"
"$REMAPFS" resize-spare "$MAIN" "$SPARE" 4M || fail "resize-spare grow"
assert_eq $((4 << 20)) "$(stat -c %s "$SPARE")" "spare file is 4 MiB"
"$REMAPFS" check "$SPARE" --main "$MAIN" >/dev/null || fail "check after grow"
remount_and_compare full
assert_eq geometric "$(status_value "$MNT" strategy)" "strategy after grow"
assert_eq "0 125 metadata-copy-0" "$(head -1 "$MNT/control/reservations")" "first copy"
unmount_remapfs "$MNT"

say "a shrink that would drop used spare sectors is refused, spare unchanged"
cp "$SPARE" "$TMP/spare.before"
expect_cli_failure "shrink over used sectors" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 512K
stderr_mentions "drop spare sector"
cmp -s "$SPARE" "$TMP/spare.before" || fail "refused shrink changed the spare"
echo "   ok: spare byte-identical"

say "return the sectors that live past 512K, then shrink back"
mount_remapfs "$MAIN" "$SPARE" "$MNT"
awk '$2 >= 1024 { print $1 }' "$MNT/control/remaps" | paste -sd, >"$TMP/far"
[[ -s $TMP/far ]] || fail "expected remaps past sector 1024 after the grow"
control_write "$MNT" remove "$(cat "$TMP/far")"
save shrunk
unmount_remapfs "$MNT"
"$REMAPFS" resize-spare "$MAIN" "$SPARE" 512K || fail "resize-spare shrink"
assert_eq $((512 << 10)) "$(stat -c %s "$SPARE")" "spare file is 512 KiB"
remount_and_compare shrunk
assert_eq linear "$(status_value "$MNT" strategy)" "strategy after shrink"
unmount_remapfs "$MNT"

say "bad NEW_SIZE values are refused"
expect_cli_failure "size not a multiple of the sector" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 1000000
expect_cli_failure "size under 72 sectors" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 16K
expect_cli_failure "garbage size" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 12Q
pass
