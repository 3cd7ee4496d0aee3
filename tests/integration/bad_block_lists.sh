#!/usr/bin/env bash
# Bad-block lists: `remapfs mark` imports each format (badblocks, md,
# ddrescue) in one commit, `remapfs info --export` writes the same set back,
# and the mount serves exactly the listed sectors from the spare, with MAIN's
# data. A ddrescue mapfile's '-', '*' and '/' areas are bad ('-' alone with
# --bad-sector-only), and mark counts each. Malformed lists, a spare too
# small and a mark while mounted are refused with the spare unchanged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp timeout

MAIN=$TMP/main.img SPARE=$TMP/spare.img SPARE2=$TMP/spare2.img MNT=$TMP/mnt
MAIN_BYTES=$((8 << 20))

# list_sectors FORMAT FILE BLOCK_SIZE SECTOR_SIZE [DDRESCUE_BAD]: the volume
# sectors a list names, one a line, ascending: the formats as their tools
# define them, computed here without remapfs. DDRESCUE_BAD: the statuses
# taken as bad (default '-*/').
list_sectors() {
  "$PY" - "$@" <<'EOF'
import sys
fmt, path, bs, ss = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
bad = sys.argv[5] if len(sys.argv) > 5 else '-*/'
lines = [l.split() for l in open(path) if l.split()]
if fmt == 'badblocks':
    spans = [(int(l[0]) * bs, (int(l[0]) + 1) * bs) for l in lines]
elif fmt == 'md':
    spans = [(int(l[0]) * 512, (int(l[0]) + int(l[1])) * 512) for l in lines]
else:  # ddrescue: skip comments and the current-position line
    data = [l for l in lines if not l[0].startswith('#')][1:]
    spans = [(int(l[0], 0), int(l[0], 0) + int(l[1], 0)) for l in data if l[2] in bad]
sectors = sorted({s for a, b in spans for s in range(a // ss, (b - 1) // ss + 1)})
if sectors:
    print('\n'.join(map(str, sectors)))
EOF
}

# mark_ok MAIN SPARE FORMAT FILE [ARGS...]: runs `remapfs mark`, which must
# succeed; with MARK_FROM_STDIN set, FILE is given as '-' on stdin.
mark_ok() {
  local main=$1 spare=$2 format=$3 file=$4 src=$4 input=/dev/null; shift 4
  [[ -n ${MARK_FROM_STDIN:-} ]] && src=- input=$file
  "$REMAPFS" mark "$main" "$spare" --format "$format" "$@" "$src" \
    <"$input" >"$TMP/mark.out" 2>"$TMP/mark.err" ||
    { cat "$TMP/mark.err" >&2; fail "remapfs mark --format $format $file"; }
  echo "   ok: $(cat "$TMP/mark.out")"
}

# check_served MAIN SECTOR_SIZE EXPECTED: mounted, `remaps` lists exactly
# the expected sectors, all active; the disk shows MAIN's bytes; a write to
# a listed sector lands on the spare, not in MAIN.
check_served() {
  local main=$1 ss=$2 expected=$3 disk
  disk=$MNT/$(basename "$1")
  mount_remapfs "$main" "$SPARE" "$MNT"
  awk '{ print $1 }' "$MNT/control/remaps" >"$TMP/remapped"
  assert_same_file "$expected" "$TMP/remapped" "remaps lists exactly the listed sectors"
  assert_eq "" "$(awk '$3 != "active"' "$MNT/control/remaps")" "every remap is active"
  assert_same_file "$main" "$disk" "the disk shows MAIN's original data"
  local first before
  first=$(head -1 "$expected")
  before=$(dd if="$main" bs="$ss" skip="$first" count=1 status=none | sha256sum)
  head -c "$ss" /dev/urandom >"$TMP/new"
  dd if="$TMP/new" of="$disk" bs="$ss" seek="$first" conv=notrunc,fsync status=none
  assert_same_file "$TMP/new" <(dd if="$disk" bs="$ss" skip="$first" count=1 status=none) \
    "a write to sector $first reads back"
  assert_eq "$before" "$(dd if="$main" bs="$ss" skip="$first" count=1 status=none | sha256sum)" \
    "MAIN unchanged under remapped sector $first"
  unmount_remapfs "$MNT"
}

# round_trip FORMAT LIST BLOCK_SIZE [MAIN SECTOR_SIZE]: mark the list on a
# fresh spare, export it, compare sector sets; the export marked on another
# fresh spare exports byte-identically; then the mount checks.
round_trip() {
  local format=$1 list=$2 bs=$3 main=${4:-$MAIN} ss=${5:-512}
  local args=()
  [[ $format == badblocks ]] && args=(--block-size "$bs")
  say "$format list (block size $bs, $ss-byte sectors): mark, export, mount"
  format_volume "$main" "$SPARE" --spare-size 1M --sector-size "$ss" --force
  list_sectors "$format" "$list" "$bs" "$ss" >"$TMP/expected"
  [[ -s $TMP/expected ]] || fail "test list $list names no sector"
  mark_ok "$main" "$SPARE" "$format" "$list" "${args[@]}"
  grep -q "^$(wc -l <"$TMP/expected") sectors listed" "$TMP/mark.out" ||
    fail "mark did not report $(wc -l <"$TMP/expected") sectors: $(cat "$TMP/mark.out")"
  "$REMAPFS" info "$SPARE" --export "$format" "${args[@]}" >"$TMP/export" ||
    fail "info --export $format"
  list_sectors "$format" "$TMP/export" "$bs" "$ss" >"$TMP/exported"
  assert_same_file "$TMP/expected" "$TMP/exported" "export names the marked sectors"
  format_volume "$main" "$SPARE2" --spare-size 1M --sector-size "$ss" --force
  mark_ok "$main" "$SPARE2" "$format" "$TMP/export" "${args[@]}"
  "$REMAPFS" info "$SPARE2" --export "$format" "${args[@]}" >"$TMP/export2"
  assert_same_file "$TMP/export" "$TMP/export2" "the export re-imports to the same list"
  check_served "$main" "$ss" "$TMP/expected"
}

# refused_list FORMAT LINE TEXT: a list that must be refused whole, with a
# message naming LINE, leaving the spare byte-identical.
refused_list() {
  local format=$1 line=$2
  printf '%b' "$3" >"$TMP/bad.list"
  cp "$SPARE" "$TMP/spare.before"
  expect_cli_failure "$format list bad at line $line" \
    "$REMAPFS" mark "$MAIN" "$SPARE" --format "$format" "$TMP/bad.list"
  assert_eq 1 "$CLI_RC" "exit code"
  stderr_mentions "line $line:"
  cmp "$TMP/spare.before" "$SPARE" || fail "spare changed by a refused $format list"
  echo "   ok: spare byte-identical"
}

check_refusals() {
  say "malformed lists and a spare too small change nothing"
  format_volume "$MAIN" "$SPARE" --spare-size 1M --force
  printf '7\n' >"$TMP/one.list"
  mark_ok "$MAIN" "$SPARE" badblocks "$TMP/one.list"
  refused_list badblocks 3 '1\n2\nzz\n'
  refused_list badblocks 2 '1\n-4\n'
  refused_list badblocks 3 '1\n\n8192\n'  # MAIN has 8192 blocks of 1 KiB
  refused_list md 3 '1 1\n2 2\n3\n'
  refused_list md 1 '16383 2\n'
  refused_list ddrescue 3 '# c\n0x0 + 1\n0x0 0x200 x\n'
  refused_list ddrescue 4 '0x0 +\n\n0x0 0x400 +\n0x200 0x200 -\n'
  printf '0 16384\n' >"$TMP/all.list"  # every sector: more than 1 MiB of spare
  cp "$SPARE" "$TMP/spare.before"
  expect_cli_failure "a list larger than the spare" \
    "$REMAPFS" mark "$MAIN" "$SPARE" --format md "$TMP/all.list"
  stderr_mentions "spare exhausted"
  cmp "$TMP/spare.before" "$SPARE" || fail "spare changed by an exhausting list"
  expect_cli_failure "--block-size with md" \
    "$REMAPFS" mark "$MAIN" "$SPARE" --format md --block-size 4096 "$TMP/one.list"
  assert_eq 2 "$CLI_RC" "usage error exit code"
}

# The mapfile of main(): '-' sectors 128-129 and 146, '/' 130-145, '*'
# 147-149. mark names each count; --bad-sector-only takes the '-' ones.
check_ddrescue_statuses() {
  say "ddrescue: mark counts each failed status; --bad-sector-only takes '-' alone"
  format_volume "$MAIN" "$SPARE" --spare-size 1M --force
  mark_ok "$MAIN" "$SPARE" ddrescue "$TMP/ddrescue.map"
  assert_eq "ddrescue: 3 sectors bad-sector (-), 3 non-trimmed (*), 16 non-scraped (/)" \
    "$(head -1 "$TMP/mark.out")" "counts by status"
  grep -q "^22 sectors listed" "$TMP/mark.out" || fail "not 22 sectors: $(cat "$TMP/mark.out")"
  format_volume "$MAIN" "$SPARE" --spare-size 1M --force
  mark_ok "$MAIN" "$SPARE" ddrescue "$TMP/ddrescue.map" --bad-sector-only
  assert_eq "ddrescue: 3 sectors bad-sector (-); non-trimmed (*) and non-scraped (/) areas \
left out (--bad-sector-only)" "$(head -1 "$TMP/mark.out")" "--bad-sector-only summary"
  list_sectors ddrescue "$TMP/ddrescue.map" 0 512 - >"$TMP/expected"
  assert_eq "128 129 146" "$(xargs <"$TMP/expected")" "the '-' sectors"
  "$REMAPFS" info "$SPARE" --export ddrescue >"$TMP/export" || fail "info --export ddrescue"
  list_sectors ddrescue "$TMP/export" 0 512 >"$TMP/exported"
  assert_same_file "$TMP/expected" "$TMP/exported" "only the '-' sectors were marked"
  expect_cli_failure "--bad-sector-only with md" \
    "$REMAPFS" mark "$MAIN" "$SPARE" --format md --bad-sector-only "$TMP/md.list"
  assert_eq 2 "$CLI_RC" "usage error exit code"
  stderr_mentions "bad-sector-only applies to the ddrescue format only"
}

check_mounted_refused() {
  say "mark while mounted is refused by the exclusive lock"
  mount_remapfs "$MAIN" "$SPARE" "$MNT"
  cp "$MNT/control/remaps" "$TMP/remaps.before"
  expect_cli_failure "mark on a mounted pair" \
    "$REMAPFS" mark "$MAIN" "$SPARE" --format badblocks "$TMP/one.list"
  stderr_mentions "in use"
  assert_same_file "$TMP/remaps.before" "$MNT/control/remaps" "remaps unchanged"
  unmount_remapfs "$MNT"
}

main() {
  make_main "$MAIN" "$MAIN_BYTES"
  printf '5\n6\n100\n\n2000\n8191\n' >"$TMP/bb.list"
  round_trip badblocks "$TMP/bb.list" 1024
  printf '3\n4\n' >"$TMP/bb512.list"
  round_trip badblocks "$TMP/bb512.list" 512
  printf '16 8\n4000 3\n4002 4\n16383 1\n' >"$TMP/md.list"
  MARK_FROM_STDIN=1 round_trip md "$TMP/md.list" 0
  cat >"$TMP/ddrescue.map" <<'EOF'
# Mapfile. Created by GNU ddrescue version 1.27
# current_pos  current_status  current_pass
0x00010000     +               1
#      pos        size  status
0x00000000  0x00010000  +
0x00010000  0x00000400  -
0x00010400  0x00002000  /
0x00012400  0x00000200  -
0x00012600  0x00000600  *
0x00012C00  0x007ED400  +
EOF
  round_trip ddrescue "$TMP/ddrescue.map" 0
  check_ddrescue_statuses
  make_main "$TMP/main4k.img" "$MAIN_BYTES"
  printf '1\n2\n2047\n' >"$TMP/bb4k.list"
  round_trip badblocks "$TMP/bb4k.list" 4096 "$TMP/main4k.img" 4096
  check_refusals
  check_mounted_refused
  pass
}

main
