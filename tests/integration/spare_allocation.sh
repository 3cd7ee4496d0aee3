#!/usr/bin/env bash
# A spare's capacity is really there. On a 24 MiB tmpfs: format of a spare
# larger than the free space is refused and leaves nothing behind; one that
# fits is allocated in full (st_blocks), as is an existing sparse file it
# takes; resize-spare growing past the free space is refused with the spare
# intact (same bytes, size, remaps); growing within it allocates the new
# range. Before the fix, all of these made sparse files that later failed
# with ENOSPC in the middle of a remap.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment sha256sum

MAIN=$TMP/main.img SMALL=$TMP/small MNT=$TMP/mnt
SPARE=$SMALL/spare.img DISK=$MNT/main.img

# allocated FILE: every byte of FILE has a block on the host.
assert_allocated() {
  local size blocks
  read -r size blocks < <(stat -c '%s %b' "$1")
  ((blocks * 512 >= size)) || fail "$1: $((blocks * 512)) of $size bytes allocated"
  echo "   ok: $(basename "$1"): $((blocks * 512)) bytes allocated for $size (du: $(du -k "$1" | cut -f1) KiB)"
}

check_format() {
  say "format of a 64 MiB spare on 24 MiB: refused, nothing left behind"
  expect_cli_failure "format 64M on a 24M tmpfs" \
    "$REMAPFS" format "$MAIN" "$SPARE" --spare-size 64M
  stderr_mentions "not enough space on the filesystem holding SPARE '$SPARE': need [0-9]+ bytes, [0-9]+ available"
  [[ ! -e $SPARE ]] || fail "the refused format left $SPARE behind"
  echo "   ok: no $SPARE"

  say "an existing 32 MiB sparse file: refused, kept as it was"
  truncate -s 32M "$SMALL/sparse.img"
  expect_cli_failure "format a 32M sparse file" "$REMAPFS" format "$MAIN" "$SMALL/sparse.img"
  stderr_mentions "not enough space"
  assert_eq "33554432 0" "$(stat -c '%s %b' "$SMALL/sparse.img")" "size and blocks unchanged"
  rm "$SMALL/sparse.img"

  say "an 8 MiB spare fits: formatted, allocated, and format says so"
  format_volume "$MAIN" "$SPARE" --spare-size 8M
  grep -q "allocated" "$TMP/format.out" || fail "format does not say the space is allocated"
  assert_allocated "$SPARE"
  truncate -s 2M "$SMALL/taken.img"
  format_volume "$MAIN" "$SMALL/taken.img"
  assert_allocated "$SMALL/taken.img"
  rm "$SMALL/taken.img"
}

check_resize() {
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  control_write "$MNT" add_bad "100-163"
  head -c $((64 * SECTOR)) /dev/urandom >"$TMP/data"
  write_sectors "$DISK" 100 "$TMP/data"
  cp "$DISK" "$TMP/disk.before"
  cp "$MNT/control/remaps" "$TMP/remaps.before"
  unmount_remapfs "$MNT"
  sha256sum "$SPARE" >"$TMP/spare.sha"

  say "resize-spare to 64 MiB on what is left of 24 MiB: refused, spare intact"
  expect_cli_failure "grow past the free space" "$REMAPFS" resize-spare "$MAIN" "$SPARE" 64M
  stderr_mentions "not enough space on the filesystem holding SPARE"
  sha256sum -c --quiet "$TMP/spare.sha" || fail "the refused resize changed the spare"
  assert_eq $((8 << 20)) "$(stat -c %s "$SPARE")" "spare size kept"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_same_file "$TMP/remaps.before" "$MNT/control/remaps" "remaps after the refusal"
  assert_same_file "$TMP/disk.before" "$DISK" "disk bytes after the refusal"
  unmount_remapfs "$MNT"

  say "resize-spare to 12 MiB fits: the new range is allocated"
  "$REMAPFS" resize-spare "$MAIN" "$SPARE" 12M >"$TMP/resize.out" || fail "resize-spare 12M"
  grep -q "allocated" "$TMP/resize.out" || fail "resize-spare does not say it allocated"
  assert_allocated "$SPARE"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_same_file "$TMP/disk.before" "$DISK" "disk bytes after the grow"
  unmount_remapfs "$MNT"
}

main() {
  make_main "$MAIN" $((8 << 20))
  mkdir -p "$SMALL"
  mount -t tmpfs -o size=24M remapfs-test "$SMALL" || skip "cannot mount a tmpfs"
  OTHER_MOUNTS+=("$SMALL")
  check_format
  check_resize
  pass
}

main
