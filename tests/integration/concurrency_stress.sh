#!/usr/bin/env bash
# Concurrency stress at byte granularity through a real mount with
# --direct-io on: writers at arbitrary offsets and lengths (and O_DIRECT
# writes of whole blocks) while add_bad and remove of random sector ranges
# move sectors between MAIN and the spare, and status is read.
#  - stripe_writers (a helper built with the tests) gives each writer its
#    own byte stripes, interleaved from 3 bytes to 24 KiB wide, so that the
#    model is exact; it checks every write read back, the frozen bytes in
#    random reads and the whole file after each phase, exits 1 on any
#    difference, and writes its model to a file;
#  - meanwhile a loop here echoes add_bad/remove ranges into control/ (only
#    ENOSPC may refuse one) and checks spare_used + spare_free ==
#    spare_capacity in status after each;
#  - then the disk file equals the model and the remaps keep the SPEC
#    invariants; after unmount and remount, the same bytes and remaps.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_environment cmp dd

HELPER=${STRIPE_WRITERS:-}
[[ -x $HELPER ]] || fail "STRIPE_WRITERS helper not given or not executable: '$HELPER'"
WRITES=${STRESS_WRITES:-1500}  # per writer and phase
SEED=${STRESS_SEED:-8}
MAIN_BYTES=$((8 << 20))
MNT=$TMP/mnt
DIR=""  # where MAIN and SPARE live: a filesystem that takes O_DIRECT

# remap_storm: random add_bad/remove of 1 to 64 sectors until
# $TMP/writers.done exists; its counts go to $TMP/storm.counts and any
# problem to $TMP/storm.failed.
remap_storm() {
  RANDOM=$SEED
  local ops=0 refused=0 file first count err line capacity used free
  local sectors=$((MAIN_BYTES / SECTOR))
  while [[ ! -e $TMP/writers.done ]]; do
    file=add_bad
    ((RANDOM % 2)) && file=remove
    first=$(((RANDOM * 32768 + RANDOM) % sectors)) count=$((1 + RANDOM % 64))
    ((first + count <= sectors)) || count=$((sectors - first))
    if ! err=$({ echo "$first+$count" >"$MNT/control/$file"; } 2>&1); then
      if [[ $file == add_bad && $err == *"No space left"* ]]; then
        ((++refused))
      else
        echo "$file $first+$count: $err" >>"$TMP/storm.failed"
      fi
    fi
    ((++ops))
    capacity="" used="" free=""
    while IFS=': ' read -r key line; do
      case $key in
        spare_capacity) capacity=$line ;;
        spare_used) used=$line ;;
        spare_free) free=$line ;;
      esac
    done <"$MNT/control/status"
    ((used + free == capacity)) ||
      echo "after $file $first+$count: used $used + free $free != capacity $capacity" \
        >>"$TMP/storm.failed"
  done
  echo "$ops $refused" >"$TMP/storm.counts"
}

# check_views WHEN: the remaps keep the invariants, and status counts them.
check_views() {
  assert_remaps_valid "$MNT"
  local remaps
  remaps=$(grep -c . "$MNT/control/remaps" || true)
  assert_eq "$remaps" "$(status_value "$MNT" remapped)" "status remapped counts the remaps $1"
  assert_eq "$remaps" "$(status_value "$MNT" spare_used)" "status spare_used counts them $1"
  assert_eq 0 "$(status_value "$MNT" pending)" "no sector pending $1"
}

main() {
  pick_direct_io_dir
  local main=$DIR/main.img spare=$DIR/spare.img rc=0 start=$SECONDS
  make_main "$main" "$MAIN_BYTES"
  format_volume "$main" "$spare" --spare-size 512K
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  grep -q "O_DIRECT" "$MOUNT_LOG" || { cat "$MOUNT_LOG" >&2; fail "MAIN not opened with O_DIRECT"; }

  say "4 writers on byte stripes ($WRITES writes each per phase, seed $SEED), a reader, a remap storm"
  remap_storm &
  local storm=$!
  "$HELPER" "$MNT/main.img" "$WRITES" "$SEED" "$TMP/expect" >"$TMP/helper.out" || rc=$?
  touch "$TMP/writers.done"
  wait "$storm"
  echo "   stripe_writers: $(cat "$TMP/helper.out")"
  local ops refused
  read -r ops refused <"$TMP/storm.counts"
  echo "   remap storm: $ops add_bad/remove ($refused refused for space)"
  assert_eq 0 "$rc" "exit code of stripe_writers (0: every byte as written)"
  [[ ! -e $TMP/storm.failed ]] || fail "remap storm: $(head -3 "$TMP/storm.failed")"
  echo "   ok: every add_bad/remove succeeded or was refused for space; status kept its sums"
  ((ops > 20)) || fail "only $ops control operations ran during the writes"

  say "after fsync: the disk file is the model, and the views agree"
  assert_same_file "$MNT/main.img" "$TMP/expect" "the disk file equals the writers' model"
  check_views "before unmount"
  cat "$MNT/control/remaps" >"$TMP/remaps.before"
  echo "   $(grep -c . "$TMP/remaps.before" || true) sectors remapped at the end"
  unmount_remapfs "$MNT"

  say "after remount: the same bytes and the same remaps"
  mount_remapfs "$main" "$spare" "$MNT" --direct-io on
  assert_same_file "$MNT/main.img" "$TMP/expect" "the disk file equals the model after remount"
  assert_same_file "$MNT/control/remaps" "$TMP/remaps.before" "the remaps survived the remount"
  check_views "after remount"
  unmount_remapfs "$MNT"
  echo "   took $((SECONDS - start)) s"
  pass
}

main
