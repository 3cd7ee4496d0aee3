#!/usr/bin/env bash
# The metadata a user can lose through the CLI, and why they no longer do:
#  - an earlier format's copies left in the file never come back (after the
#    file grows over them, or resize-spare grows into them);
#  - one damaged table sector in every copy is rebuilt sector by sector; a
#    sector damaged in all copies is reported (check exits 4, not 8);
#  - a spare is used only with its own MAIN: another image of the same size
#    is refused, a `mv` of the pair is fine, `--rebind` is the deliberate way;
#  - a spare cut short is reported truncated, never as "run format".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp dd losetup

MNT=$TMP/mnt
L=17  # copy length of a 512 KiB linear spare (4 copies at 0, 256, 512, 768)

# remap_and_write MAIN SPARE SECTORS DATA_TAG: mount, remap SECTORS, write
# fresh data over sectors 100..115 and save the disk's bytes as DATA_TAG.
remap_and_write() {
  mount_remapfs "$1" "$2" "$MNT"
  control_write "$MNT" add_bad "$3"
  head -c $((16 * SECTOR)) /dev/urandom >"$TMP/new.$4"
  write_sectors "$MNT/$(basename "$1")" 100 "$TMP/new.$4"
  cp "$MNT/$(basename "$1")" "$TMP/disk.$4"
  cut -d' ' -f1 "$MNT/control/remaps" >"$TMP/mains.$4"
  unmount_remapfs "$MNT"
}

# same_as MAIN SPARE TAG: a mount serves exactly the bytes and remaps of TAG.
same_as() {
  mount_remapfs "$1" "$2" "$MNT"
  assert_same_file "$TMP/disk.$3" "$MNT/$(basename "$1")" "disk bytes as in $3"
  assert_same_file "$TMP/mains.$3" <(cut -d' ' -f1 "$MNT/control/remaps") "remaps as in $3"
  unmount_remapfs "$MNT"
}

say "an earlier, larger format's copies beyond the end never come back"
make_main "$TMP/a.img" $((4 << 20))
format_volume "$TMP/a.img" "$TMP/old.spare" --spare-size 3M
mount_remapfs "$TMP/a.img" "$TMP/old.spare" "$MNT"
for i in $(seq 1 30); do control_write "$MNT" add_bad "$((2000 + i))"; done
assert_eq 31 "$(status_value "$MNT" metadata_sequence)" "old format at sequence 31"
unmount_remapfs "$MNT"
format_volume "$TMP/a.img" "$TMP/new.spare" --spare-size 2M
remap_and_write "$TMP/a.img" "$TMP/new.spare" 100-107 current
# The file grows back over the old format's tail (as a restored backup, a
# dd or an older remapfs that shrank it would leave it).
dd if="$TMP/old.spare" of="$TMP/new.spare" bs=1M skip=2 seek=2 conv=notrunc status=none
"$REMAPFS" check "$TMP/new.spare" --main "$TMP/a.img" >"$TMP/check.out" ||
  fail "check of the regrown spare: $(cat "$TMP/check.out")"
same_as "$TMP/a.img" "$TMP/new.spare" current
"$REMAPFS" resize-spare "$TMP/a.img" "$TMP/new.spare" 3M >/dev/null || fail "resize-spare 3M"
same_as "$TMP/a.img" "$TMP/new.spare" current

say "one damaged table sector in each copy: nothing is lost"
make_main "$TMP/b.img" $((4 << 20))
format_volume "$TMP/b.img" "$TMP/b.spare" --spare-size 512K
remap_and_write "$TMP/b.img" "$TMP/b.spare" "0+900" damaged  # every table sector used
for copy in 0 1 2 3; do  # table sector $copy of copy $copy
  printf 'XXXXXXXX' | dd of="$TMP/b.spare" bs=1 seek=$(((copy * 256 + 1 + copy) * SECTOR + 40)) \
    conv=notrunc status=none
done
rc=0; "$REMAPFS" check "$TMP/b.spare" >/dev/null 2>&1 || rc=$?
assert_eq 4 "$rc" "check without --repair: problems left"
rc=0; "$REMAPFS" check "$TMP/b.spare" --repair >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "check --repair rebuilds every copy"
rc=0; "$REMAPFS" check "$TMP/b.spare" >/dev/null 2>&1 || rc=$?
assert_eq 0 "$rc" "clean after the repair"
same_as "$TMP/b.img" "$TMP/b.spare" damaged

say "a table sector damaged in every copy: refused, exit 4 with the sector named"
for copy in 0 1 2 3; do
  printf 'XXXXXXXX' | dd of="$TMP/b.spare" bs=1 seek=$(((copy * 256 + 1 + 5) * SECTOR + 40)) \
    conv=notrunc status=none
done
expect_cli_failure "check --repair of a lost table" "$REMAPFS" check "$TMP/b.spare" --repair
assert_eq 4 "$CLI_RC" "check exit code"
stderr_mentions "table sector 5 is damaged in every metadata copy"
expect_cli_failure "mount of a lost table" "$REMAPFS" mount "$TMP/b.img" "$TMP/b.spare" "$MNT" -f
stderr_mentions "table sector 5"

say "a spare is used only with its own MAIN"
make_main "$TMP/c.img" $((4 << 20))
make_main "$TMP/d.img" $((4 << 20))
format_volume "$TMP/c.img" "$TMP/c.spare" --spare-size 512K
remap_and_write "$TMP/c.img" "$TMP/c.spare" 100-107 bound
expect_cli_failure "mount d.img with c's spare" "$REMAPFS" mount "$TMP/d.img" "$TMP/c.spare" "$MNT" -f
stderr_mentions "belongs to another MAIN.*c\.img.*--rebind"
rc=0; "$REMAPFS" check "$TMP/c.spare" --main "$TMP/d.img" >"$TMP/check.out" 2>&1 || rc=$?
assert_eq 4 "$rc" "check --main of the wrong MAIN"
grep -q "belongs to another MAIN" "$TMP/check.out" || fail "check does not say why: $(cat "$TMP/check.out")"
mkdir -p "$TMP/moved"
mv "$TMP/c.img" "$TMP/c.spare" "$TMP/moved/"
cp "$TMP/disk.bound" "$TMP/disk.moved" && cp "$TMP/mains.bound" "$TMP/mains.moved"
mount_remapfs "$TMP/moved/c.img" "$TMP/moved/c.spare" "$MNT"  # a mv keeps the identity
assert_same_file "$TMP/disk.bound" "$MNT/c.img" "moved pair serves the same bytes"
unmount_remapfs "$MNT"
cp "$TMP/moved/c.img" "$TMP/e.img"
expect_cli_failure "mount a copy of MAIN" "$REMAPFS" mount "$TMP/e.img" "$TMP/moved/c.spare" "$MNT" -f
mount_remapfs "$TMP/e.img" "$TMP/moved/c.spare" "$MNT" --rebind
assert_same_file "$TMP/disk.bound" "$MNT/e.img" "rebound copy serves the same bytes"
unmount_remapfs "$MNT"
expect_cli_failure "mount the old MAIN after a rebind" \
  "$REMAPFS" mount "$TMP/moved/c.img" "$TMP/moved/c.spare" "$MNT" -f
stderr_mentions "e\.img"

say "a loop device as MAIN is known by its backing file"
LOOP_C=$(losetup --find --show "$TMP/moved/c.img") || fail "losetup c"
LOOP_DEVS+=("$LOOP_C")
LOOP_D=$(losetup --find --show "$TMP/d.img") || fail "losetup d"
LOOP_DEVS+=("$LOOP_D")
format_volume "$LOOP_C" "$TMP/loop.spare" --spare-size 512K
"$REMAPFS" info "$TMP/loop.spare" | grep -q "^main_identity: loop:file:ino=" ||
  fail "loop identity not recorded: $("$REMAPFS" info "$TMP/loop.spare" | grep main_)"
expect_cli_failure "mount another loop device with it" \
  "$REMAPFS" mount "$LOOP_D" "$TMP/loop.spare" "$MNT" -f
stderr_mentions "belongs to another MAIN"
mount_remapfs "$LOOP_C" "$TMP/loop.spare" "$MNT"
unmount_remapfs "$MNT"
losetup -d "$LOOP_C" && LOOP_C=$(losetup --find --show "$TMP/moved/c.img") || fail "re-attach"
LOOP_DEVS+=("$LOOP_C")
mount_remapfs "$LOOP_C" "$TMP/loop.spare" "$MNT"  # another loop number, the same file
unmount_remapfs "$MNT"

say "a spare cut to a size that is not whole sectors is reported truncated"
truncate -s -100 "$TMP/moved/c.spare"
expect_cli_failure "mount a truncated spare" "$REMAPFS" mount "$TMP/e.img" "$TMP/moved/c.spare" "$MNT" -f
stderr_mentions "truncated"
grep -qi "create one with 'remapfs format'" <<<"$CLI_ERR" && fail "advises format: $CLI_ERR"
rc=0; "$REMAPFS" check "$TMP/moved/c.spare" >/dev/null 2>&1 || rc=$?
assert_eq 4 "$rc" "check of a truncated spare"

pass
