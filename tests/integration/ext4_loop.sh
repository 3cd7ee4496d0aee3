#!/usr/bin/env bash
# A real filesystem on the disk file: ext4 on a loop device. Sectors under
# live files and under ext4's own metadata are remapped while it is mounted;
# fsck stays clean and every file keeps its checksum, through an ext4
# remount and through a full remapfs remount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment losetup mkfs.ext4 fsck.ext4 filefrag sha256sum

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt EXT=$TMP/ext4
DISK=$MNT/main.img
LOOP=""

attach_loop() {  # attach_loop [LOSETUP OPTIONS]
  LOOP=$(losetup --find --show "$@" "$DISK") || fail "losetup $* $DISK"
  LOOP_DEVS+=("$LOOP")
  echo "   ok: $LOOP on the disk file (direct-io: $(losetup -n -O DIO "$LOOP" | xargs))"
}

detach_loop() {
  losetup -d "$LOOP" || fail "losetup -d $LOOP"
  # losetup -d is asynchronous while the device is busy; wait for it.
  wait_until 10 eval "! losetup -n -O BACK-FILE '$LOOP' | grep -q ." ||
    fail "$LOOP still attached"
}

mount_ext4() {
  mkdir -p "$EXT"
  mount "$LOOP" "$EXT" || fail "mount ext4"
  OTHER_MOUNTS+=("$EXT")
}

fsck_clean() {
  local rc=0
  fsck.ext4 -fn "$LOOP" >"$TMP/fsck.out" 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || { cat "$TMP/fsck.out" >&2; fail "fsck.ext4 -fn $1: exit $rc"; }
  echo "   ok: fsck.ext4 -fn clean $1"
}

write_files() {
  local i
  for i in 1 2 3 4 5; do
    head -c $((i * 700 * 1024 + 123)) /dev/urandom >"$EXT/file$i"
  done
  mkdir "$EXT/dir"
  head -c 3000000 /dev/urandom >"$EXT/dir/big"
  sync
  (cd "$EXT" && sha256sum file? dir/big) >"$TMP/sums"
}

check_sums() {
  (cd "$EXT" && sha256sum --quiet -c "$TMP/sums") || fail "checksums differ $1"
  echo "   ok: all file checksums identical $1"
}

# file_sectors FILE: 512-byte sectors of the loop device under FILE: the
# first, middle and last block of every extent filefrag reports.
file_sectors() {
  local bs per
  bs=$(stat -f -c %S "$EXT")
  per=$((bs / SECTOR))
  filefrag -v "$1" | sed 's/\.\./ /g; s/:/ /g' |
    awk -v per="$per" '$1 ~ /^[0-9]+$/ && NF >= 6 {
      n = split($4 " " ($4 + int($6 / 2)) " " $5, b, " ")
      for (i = 1; i <= n; i++) print b[i] * per "+" per
    }'
}

# Sectors under ext4's own metadata: the superblock and group descriptors
# at the start, and the head of group 0's inode table (our files' inodes).
metadata_sectors() {
  local bs itable
  bs=$(stat -f -c %S "$EXT")
  itable=$(dumpe2fs "$LOOP" 2>/dev/null | sed -n 's/.*Inode table at \([0-9]*\)-.*/\1/p' | head -1)
  [[ -n $itable ]] || fail "no inode table in dumpe2fs output"
  echo "0-63 $((itable * bs / SECTOR))+16"
}

# Counts the distinct sectors of a list in our N+C / N-M notation.
count_sectors() {
  tr ' ' '\n' | awk -F'[+-]' 'NF == 2 && /\+/ { for (i = 0; i < $2; i++) print $1 + i; next }
    NF == 2 { for (i = $1; i <= $2; i++) print i; next } NF == 1 && $1 != "" { print $1 }' |
    sort -u | wc -l
}

remap_under_live_fs() {
  say "remap sectors under live files and ext4 metadata while mounted"
  local list f
  list=$(metadata_sectors)
  for f in "$EXT"/file? "$EXT/dir/big"; do
    list+=" $(file_sectors "$f" | xargs)"
  done
  # A writer running while the remap switches sectors under it.
  head -c $((4 << 20)) /dev/urandom >"$TMP/file6"
  cp "$TMP/file6" "$EXT/file6" &
  local writer=$!
  control_write "$MNT" add_bad "$list"
  wait "$writer" || fail "concurrent writer"
  sync
  cmp -s "$TMP/file6" "$EXT/file6" || fail "file6 written during add_bad differs"
  (cd "$EXT" && sha256sum file6) >>"$TMP/sums"
  local expected
  expected=$(count_sectors <<<"$list")
  assert_eq "$expected" "$(status_value "$MNT" remapped)" "remapped == the $expected distinct sectors requested"
  assert_remaps_valid "$MNT"
  cp "$MNT/control/remaps" "$TMP/remaps.live"
}

main() {
  make_main "$MAIN" $((64 << 20))
  format_volume "$MAIN" "$SPARE" --spare-size 4M
  mount_remapfs "$MAIN" "$SPARE" "$MNT"

  say "ext4 on a --direct-io=on loop device over the disk file"
  attach_loop --direct-io=on
  mkfs.ext4 -q -F "$LOOP" || fail "mkfs.ext4"
  mount_ext4
  write_files
  remap_under_live_fs
  umount "$EXT" || fail "umount ext4"
  fsck_clean "after the remap"
  mount_ext4
  check_sums "after an ext4 remount"
  umount "$EXT" || fail "umount ext4"
  detach_loop

  say "full remount of remapfs, buffered loop device this time"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  assert_same_file "$TMP/remaps.live" "$MNT/control/remaps" "remaps after remount"
  attach_loop
  fsck_clean "after the remapfs remount"
  mount_ext4
  check_sums "after the remapfs remount"
  umount "$EXT" || fail "umount ext4"
  detach_loop
  unmount_remapfs "$MNT"
  pass
}

main
