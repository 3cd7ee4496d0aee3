#!/usr/bin/env bash
# --direct-io: MAIN and SPARE opened with O_DIRECT so an I/O error belongs to
# the request that caused it.
#  - auto with a block device as MAIN (a loop device) picks O_DIRECT; ext4
#    on the disk file works through it, with remapped sectors on the spare.
#  - `on` with an image file: unaligned writes through the mount (dd bs=1000)
#    land byte-exact in MAIN (read-modify-write of the partial blocks); a
#    remapped range lands on the spare at its offset within 4 KiB.
#  - `off`, and a bad value, are honoured and refused respectively.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment losetup mkfs.ext4 fsck.ext4 cmp sha256sum dd

MNT=$TMP/mnt EXT=$TMP/ext4
DIR=""  # where MAIN and SPARE files live: a filesystem that takes O_DIRECT

# log_says REGEX: the last mount's log has a line matching REGEX.
log_says() {
  grep -Eq "$1" "$MOUNT_LOG" || { cat "$MOUNT_LOG" >&2; fail "mount log lacks /$1/"; }
  echo "   ok: log: $(grep -E "$1" "$MOUNT_LOG" | head -1 | sed 's/.*\] //')"
}

ATTACHED=""
attach() {  # attach FILE: a loop device on FILE in $ATTACHED, cleaned up at exit
  ATTACHED=$(losetup --find --show "$1") || fail "losetup $1"
  LOOP_DEVS+=("$ATTACHED")
}

detach() {
  losetup -d "$1" || fail "losetup -d $1"
  wait_until 10 eval "! losetup -n -O BACK-FILE '$1' | grep -q ." || fail "$1 still attached"
}

ext4_through_loop_main() {
  say "auto: a loop device as MAIN gets O_DIRECT; ext4 on the disk file"
  make_main "$DIR/backing.img" $((32 << 20))
  local main spare=$DIR/spare.img disk=$MNT/disk.img
  attach "$DIR/backing.img"
  main=$ATTACHED
  format_volume "$main" "$spare" --spare-size 1M
  mount_remapfs "$main" "$spare" "$MNT" --name disk.img
  log_says "MAIN $main: direct I/O \(O_DIRECT, [0-9]+-byte alignment; --direct-io auto, MAIN is a block device\)"
  log_says "SPARE $spare: direct I/O \(O_DIRECT"
  cmp -s "$disk" "$DIR/backing.img" || fail "disk file differs from MAIN before any write"
  echo "   ok: the disk file reads MAIN through O_DIRECT"
  # Sectors under ext4's superblock and group descriptors live on the spare.
  control_write "$MNT" add_bad "0-63 2000+17"

  local loop
  attach "$disk"
  loop=$ATTACHED
  mkfs.ext4 -q -F "$loop" || fail "mkfs.ext4"
  mkdir -p "$EXT"
  mount "$loop" "$EXT" || fail "mount ext4"
  OTHER_MOUNTS+=("$EXT")
  head -c 3000000 /dev/urandom >"$EXT/big"
  head -c 12345 /dev/urandom >"$EXT/small"
  sync
  (cd "$EXT" && sha256sum big small) >"$TMP/sums"
  umount "$EXT" || fail "umount ext4"
  fsck.ext4 -fn "$loop" >"$TMP/fsck.out" 2>&1 || { cat "$TMP/fsck.out" >&2; fail "fsck.ext4"; }
  echo "   ok: fsck.ext4 -fn clean"
  detach "$loop"
  local before
  before=$(sha256sum <"$disk")
  unmount_remapfs "$MNT"

  say "remount: the files and every byte are still there"
  mount_remapfs "$main" "$spare" "$MNT" --name disk.img
  assert_eq "$before" "$(sha256sum <"$disk")" "disk content after remount"
  attach "$disk"
  loop=$ATTACHED
  mount -o ro "$loop" "$EXT" || fail "mount ext4 read-only"
  (cd "$EXT" && sha256sum --quiet -c "$TMP/sums") || fail "file checksums differ"
  echo "   ok: file checksums identical"
  umount "$EXT" || fail "umount ext4"
  detach "$loop"
  unmount_remapfs "$MNT"

  say "off: the same block device, buffered"
  mount_remapfs "$main" "$spare" "$MNT" --name disk.img --direct-io off
  log_says "MAIN $main: buffered I/O \(--direct-io off\)"
  assert_eq "$before" "$(sha256sum <"$disk")" "disk content with buffered I/O"
  unmount_remapfs "$MNT"
  detach "$main"
}

# dd_both SEEK COUNT: COUNT random 1000-byte blocks at 1000*SEEK into the
# disk file (through the mount) and into the reference copy.
dd_both() {
  head -c $(($2 * 1000)) /dev/urandom >"$TMP/chunk"
  dd if="$TMP/chunk" of="$DISK" bs=1000 seek="$1" conv=notrunc,fsync status=none ||
    fail "dd bs=1000 seek=$1 count=$2 into the disk file"
  dd if="$TMP/chunk" of="$DIR/ref.img" bs=1000 seek="$1" conv=notrunc status=none
}

unaligned_writes_on_image() {
  say "on: an image file as MAIN, unaligned dd writes through the mount"
  local main=$DIR/main.img spare=$DIR/spare2.img
  DISK=$MNT/main.img
  make_main "$main" $((4 << 20))
  cp "$main" "$DIR/ref.img"
  format_volume "$main" "$spare" --spare-size 512K
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  log_says "MAIN $main: direct I/O \(O_DIRECT, [0-9]+-byte alignment; --direct-io on\)"
  log_says "SPARE $spare: direct I/O \(O_DIRECT"
  control_write "$MNT" add_bad "7 9-12 4000+3"  # some writes land on the spare
  # A range that fills 4 KiB blocks keeps its offset within 4 KiB on the
  # spare, whatever slots came before it: aligned I/O over it stays aligned.
  control_write "$MNT" add_bad "1003-1066"
  local first last
  first=$(awk '$1 == 1003 { print $2 }' "$MNT/control/remaps")
  last=$(awk '$1 == 1066 { print $2 }' "$MNT/control/remaps")
  [[ -n $first && $((first % 8)) == 3 && $last == $((first + 63)) ]] ||
    fail "range 1003-1066 on spare sectors $first-$last, want 64 in a row from one at 3 mod 8"
  echo "   ok: 1003-1066 on spare sectors $first-$last (3 mod 8, in a row)"
  local seek count
  for seek_count in "0 1" "1 1" "3 2" "7 9" "515 40" "2049 1" "4095 5" "1000 300" "4190 4"; do
    read -r seek count <<<"$seek_count"
    dd_both "$seek" "$count"
  done
  cmp -s "$DISK" "$DIR/ref.img" || fail "disk file differs after unaligned writes"
  echo "   ok: the disk file equals the reference after 9 unaligned dd writes"
  # A write straddling a remapped sector and its MAIN neighbours.
  dd_both 4 2
  cmp -s "$DISK" "$DIR/ref.img" || fail "disk file differs after a write over remapped sectors"
  echo "   ok: a write across remapped sectors reads back"
  unmount_remapfs "$MNT"
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  cmp -s "$DISK" "$DIR/ref.img" || fail "disk file differs after remount"
  echo "   ok: identical after remount"
  unmount_remapfs "$MNT"
}

bad_option() {
  say "a bad --direct-io value is refused, nothing mounted"
  expect_cli_failure "--direct-io maybe" \
    "$REMAPFS" mount "$DIR/main.img" "$DIR/spare2.img" "$MNT" -f --direct-io maybe
  stderr_mentions "direct-io must be auto, on or off"
  is_mounted "$MNT" && fail "$MNT mounted after a refused option"
  echo "   ok: nothing mounted"
}

main() {
  pick_direct_io_dir
  ext4_through_loop_main
  unaligned_writes_on_image
  bad_option
  pass
}

main
