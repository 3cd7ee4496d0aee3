#!/usr/bin/env bash
# format destroys nothing it did not write. Without --force it refuses a
# SPARE that holds a filesystem, a partition table, remapfs metadata or any
# non-zero byte (the swapped-arguments mistake: `format disk.spare data.img`),
# naming what it found, and it never shrinks a file, even with --force. When
# it does proceed on an existing file, no byte of what was there survives.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment mkfs.ext4 blkid sha256sum cmp

MAIN=$TMP/main.img

# refused_intact WHAT FILE REGEX ARGS...: `format ARGS` is refused with a
# message matching REGEX, and FILE keeps every byte and its size.
refused_intact() {
  local what=$1 file=$2 regex=$3; shift 3
  sha256sum "$file" >"$TMP/file.sha"
  expect_cli_failure "$what" "$REMAPFS" format "$@"
  stderr_mentions "$regex"
  sha256sum -c --quiet "$TMP/file.sha" || fail "$what: $file changed"
  echo "   ok: $(basename "$file") unchanged ($(stat -c %s "$file") bytes)"
}

# all_zero FILE FROM: every byte of FILE from offset FROM on is zero.
all_zero() {
  local size
  size=$(stat -c %s "$1")
  cmp -s <(tail -c +$(($2 + 1)) "$1") <(head -c $((size - $2)) /dev/zero)
}

check_swapped_arguments() {
  say "format disk.spare data.img: the ext4 image is refused, with or without --spare-size"
  local data=$TMP/data.img uuid
  truncate -s 32M "$data"
  mkfs.ext4 -q -F "$data"
  uuid=$(blkid -p -o value -s UUID "$data")
  refused_intact "ext4 image as SPARE" "$data" \
    "SPARE '$data' holds an ext4 filesystem \(UUID $uuid\)" "$MAIN" "$data"
  refused_intact "ext4 image as SPARE, --spare-size 1M" "$data" \
    "never shrinks" "$MAIN" "$data" --spare-size 1M
  refused_intact "ext4 image, --spare-size 1M --force" "$data" \
    "never shrinks" "$MAIN" "$data" --spare-size 1M --force
  refused_intact "ext4 image, --spare-size 64M (growing)" "$data" \
    "ext4 filesystem" "$MAIN" "$data" --spare-size 64M
}

check_other_content() {
  say "a partition table, one stray byte, an earlier remapfs spare"
  local mbr=$TMP/mbr.img bytes=$TMP/bytes.img old=$TMP/old.spare
  truncate -s 1M "$mbr"
  # One Linux partition at LBA 2048 and the 55 AA boot signature.
  printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x64\x00\x00\x00' |
    dd of="$mbr" bs=1 seek=446 conv=notrunc status=none
  printf '\x55\xaa' | dd of="$mbr" bs=1 seek=510 conv=notrunc status=none
  refused_intact "MBR as SPARE" "$mbr" "holds a dos partition table" "$MAIN" "$mbr"
  truncate -s 4M "$bytes"
  printf 'x' | dd of="$bytes" bs=1 seek=3000001 conv=notrunc status=none
  refused_intact "one byte at 3000001" "$bytes" \
    "SPARE '$bytes' holds data \(a non-zero byte at offset 3000001\)" "$MAIN" "$bytes"
  format_volume "$MAIN" "$old" --spare-size 1M
  refused_intact "a remapfs spare" "$old" "already holds remapfs metadata; use --force" \
    "$MAIN" "$old"
}

check_zero_file_taken() {
  say "an existing empty or all-zero file needs no --force"
  local zero=$TMP/zero.spare empty=$TMP/empty.spare
  truncate -s 2M "$zero"
  dd if=/dev/zero of="$zero" bs=64K count=4 conv=notrunc status=none
  format_volume "$MAIN" "$zero"
  : >"$empty"
  format_volume "$MAIN" "$empty" --spare-size 1M
  "$REMAPFS" check "$zero" --main "$MAIN" >/dev/null || fail "check $zero"
  "$REMAPFS" check "$empty" --main "$MAIN" >/dev/null || fail "check $empty"
  echo "   ok: both formatted and clean"
}

check_force_wipes_everything() {
  say "--force over a file full of data and old headers: nothing of it survives"
  local spare=$TMP/full.spare
  # An earlier 4 MiB geometric format (headers at sectors 0, 1024, 2048,
  # 4096) under 0xff bytes everywhere else.
  head -c $((4 << 20)) /dev/zero | tr '\0' '\377' >"$spare"
  "$REMAPFS" format "$MAIN" "$spare" --force >/dev/null || fail "first --force format"
  "$REMAPFS" format "$MAIN" "$spare" --strategy minimal --force >"$TMP/format.out" ||
    fail "format --strategy minimal --force"
  grep -q "earlier content  zeroed" "$TMP/format.out" || fail "format does not say it zeroed"
  # Minimal: 8 copies back to back from sector 0, far below 1 MiB here.
  all_zero "$spare" $((1 << 20)) || fail "bytes of the earlier content survive past 1 MiB"
  echo "   ok: every byte past the new metadata copies is zero"
  assert_eq $((4 << 20)) "$(stat -c %s "$spare")" "size kept"
  "$REMAPFS" check "$spare" --main "$MAIN" >/dev/null || fail "check after --force"
  echo "   ok: the re-formatted spare checks clean"
}

check_block_device() {
  say "a loop device holding ext4: refused; with --force: zeroed and formatted"
  local img=$TMP/loop.img dev
  truncate -s 8M "$img"
  mkfs.ext4 -q -F "$img"
  dev=$(losetup --find --show "$img") || skip "no loop device"
  LOOP_DEVS+=("$dev")
  refused_intact "ext4 on $dev" "$img" "SPARE '$dev' holds an ext4 filesystem" "$MAIN" "$dev"
  "$REMAPFS" format "$MAIN" "$dev" --force >/dev/null || fail "format --force $dev"
  [[ -z $(blkid -p "$dev") ]] || fail "blkid still finds a signature on $dev"
  "$REMAPFS" check "$dev" --main "$MAIN" >/dev/null || fail "check $dev"
  echo "   ok: no signature left, the spare checks clean"
}

main() {
  make_main "$MAIN" $((8 << 20))
  check_swapped_arguments
  check_other_content
  check_zero_file_taken
  check_force_wipes_everything
  check_block_device
  pass
}

main
