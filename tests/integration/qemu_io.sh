#!/usr/bin/env bash
# qemu's block layer on the disk file, O_DIRECT (-t none) as
# `-drive cache=none` would use it: pattern writes and reads across sectors
# remapped before and after the write, aligned and unaligned.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment qemu-io cmp

MAIN=$TMP/main.img SPARE=$TMP/spare.img MNT=$TMP/mnt
DISK=$MNT/main.img

# qemu_io CACHE CMD: runs one qemu-io command on the disk. Some qemu-io
# versions exit 0 when a pattern does not match, so the output is checked.
qemu_io() {
  local out rc=0
  out=$(qemu-io -f raw -t "$1" -c "$2" "$DISK" 2>&1) || rc=$?
  if [[ $rc -ne 0 ]] || grep -Eqi 'verification failed|error|failed' <<<"$out"; then
    fail "qemu-io -t $1 -c '$2' (exit $rc): $out"
  fi
  echo "   ok: qemu-io -t $1 '$2'"
}

# pattern_file BYTE COUNT PATH: COUNT bytes of BYTE (octal escape for tr).
pattern_file() {
  head -c "$2" /dev/zero | tr '\0' "$1" >"$3"
}

main() {
  make_main "$MAIN" $((16 << 20))
  cp "$MAIN" "$TMP/main.orig"
  format_volume "$MAIN" "$SPARE" --spare-size 1M
  mount_remapfs "$MAIN" "$SPARE" "$MNT"

  say "1 MiB of 0xab over sectors remapped before the write"
  control_write "$MNT" add_bad "10-20 1000-1007"
  qemu_io none "write -P 0xab 0 1M"
  say "more sectors remapped after the write keep its data"
  control_write "$MNT" add_bad "500-510 1500+8"
  qemu_io none "read -P 0xab 0 1M"
  pattern_file '\253' $((1 << 20)) "$TMP/ab.1M"
  read_sectors "$DISK" 0 2048 >"$TMP/disk.1M"
  assert_same_file "$TMP/ab.1M" "$TMP/disk.1M" "first MiB read with dd"
  assert_eq "$(sectors_sha "$TMP/main.orig" 10 11)" "$(sectors_sha "$MAIN" 10 11)" \
    "main.img sectors 10-20 (remapped first) keep the original bytes"
  assert_eq "$(sectors_sha "$TMP/ab.1M" 500 11)" "$(sectors_sha "$MAIN" 500 11)" \
    "main.img sectors 500-510 (remapped after) hold the 0xab write"

  say "unaligned write straddling remapped sector 10 (bytes 5120-5631)"
  qemu_io none "write -P 0xcd 5121 1000"
  qemu_io none "read -P 0xcd 5121 1000"
  qemu_io none "read -P 0xab 0 5121"
  qemu_io none "read -P 0xab 6121 $(((1 << 20) - 6121))"

  say "buffered (-t writeback) write + flush, read back O_DIRECT"
  qemu_io writeback "write -P 0x5a 2M 512k"
  qemu_io writeback "flush"
  control_write "$MNT" add_bad "$((2 * 2048))+16"
  qemu_io none "read -P 0x5a 2M 512k"
  assert_remaps_valid "$MNT"

  say "after a remount the patterns are still there"
  unmount_remapfs "$MNT"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  qemu_io none "read -P 0xab 0 5121"
  qemu_io none "read -P 0xcd 5121 1000"
  qemu_io none "read -P 0x5a 2M 512k"
  unmount_remapfs "$MNT"
  pass
}

main
