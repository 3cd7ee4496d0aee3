#!/usr/bin/env bash
# SPEC invariant 11 through a real mount with --direct-io on: concurrent
# writes never lose each other's bytes. Writer A rewrites one device block
# whole; writer B writes 16 bytes in its middle, which below the mount is a
# read-modify-write of that block. Were A's write not excluded from B's
# read-modify-write, B's write-back of the block it read before would undo
# A's write.
#  - race_writers (a helper built with the tests) does RACE_WRITES of A's
#    writes, bounded by count, and exits 1 if any of them read back reverted;
#  - the block then holds A's last pattern (with B's last bytes or not), in
#    the disk file and in MAIN after unmount; every other byte is unchanged;
#  - the same on a block whose sectors are remapped (the spare, O_DIRECT too).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp dd

RACE=${RACE_WRITERS:-}
[[ -x $RACE ]] || fail "RACE_WRITERS helper not given or not executable: '$RACE'"
WRITES=${RACE_WRITES:-10000}  # per race; the bug reverted about 40% of them
MNT=$TMP/mnt
DIR=""    # where MAIN and SPARE live: a filesystem that takes O_DIRECT
BLOCK=""  # MAIN's O_DIRECT alignment, as the mount log reports it

# read_block FILE INDEX: block INDEX (of $BLOCK bytes) of FILE on stdout.
read_block() {
  dd if="$1" bs="$BLOCK" skip="$2" count=1 status=none
}

# race INDEX WHAT: runs the writers on block INDEX of the disk file, checks
# its final bytes and records them in the reference image.
race() {
  local index=$1 what=$2 out rc=0
  say "A rewrites block $index ($what) whole, B writes 16 bytes inside it"
  out=$("$RACE" "$MNT/main.img" $((index * BLOCK)) "$BLOCK" "$WRITES" "$TMP/expect") || rc=$?
  echo "   $out"
  assert_eq 0 "$rc" "exit code of race_writers (0: no write reverted)"
  read_block "$MNT/main.img" "$index" >"$TMP/final"
  local got=""
  cmp -s "$TMP/final" "$TMP/expect.a" && got=a
  cmp -s "$TMP/final" "$TMP/expect.ab" && got=ab
  [[ -n $got ]] || fail "block $index holds neither A's last write nor it with B's last bytes"
  echo "   ok: block $index holds A's last write$([[ $got == ab ]] && echo " with B's last 16 bytes")"
  dd if="$TMP/final" of="$DIR/ref.img" bs="$BLOCK" seek="$index" conv=notrunc status=none
  cmp -s "$MNT/main.img" "$DIR/ref.img" || fail "bytes outside block $index changed"
  echo "   ok: every other byte of the disk is unchanged"
}

main() {
  pick_direct_io_dir
  local main=$DIR/main.img spare=$DIR/spare.img
  make_main "$main" $((4 << 20))
  cp "$main" "$DIR/ref.img"
  format_volume "$main" "$spare" --spare-size 512K
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  BLOCK=$(sed -nE 's/.*MAIN .*O_DIRECT, ([0-9]+)-byte alignment.*/\1/p' "$MOUNT_LOG" | head -1)
  [[ -n $BLOCK ]] || { cat "$MOUNT_LOG" >&2; fail "no O_DIRECT alignment in the mount log"; }
  echo "   ok: MAIN and SPARE opened with O_DIRECT, $BLOCK-byte blocks"

  local on_main=100 on_spare=300
  race "$on_main" "on MAIN"
  control_write "$MNT" add_bad "$((on_spare * BLOCK / SECTOR))+$((BLOCK / SECTOR))"
  assert_eq "$((BLOCK / SECTOR))" "$(status_value "$MNT" remapped)" "block $on_spare remapped"
  race "$on_spare" "remapped to the spare"
  unmount_remapfs "$MNT"

  say "after unmount: MAIN holds the raced block; a remount serves every byte"
  read_block "$main" "$on_main" | cmp -s - <(read_block "$DIR/ref.img" "$on_main") ||
    fail "MAIN's block $on_main differs from what the mount served"
  echo "   ok: MAIN's block $on_main is what the mount served"
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  cmp -s "$MNT/main.img" "$DIR/ref.img" || fail "disk file differs after remount"
  echo "   ok: the disk file equals the reference after remount"
  unmount_remapfs "$MNT"
  pass
}

main
