# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153  # shared with peers.sh both ways
# The targets of benchmarks/peers.sh (which checks their tools first): how
# each exposes the image IMG as a file (EXPOSED) and how it is torn down
# (BENCH_STOP, see lib.sh). One target is up at a time. Sourced after
# lib.sh; the caller sets IMG, BENCH_TMP/spare.pristine (a spare formatted
# for IMG) and REMAPFS.

TARGETS_ALL=(raw remapfs remapfs-dio qsd qsd-direct nbd)

declare -A TARGET_LABEL=(
  [raw]="raw image file"
  [remapfs]="remapfs (buffered, default)"
  [remapfs-dio]="remapfs --direct-io on"
  [qsd]="qemu-storage-daemon FUSE, cache.direct=off"
  [qsd-direct]="qemu-storage-daemon FUSE, cache.direct=on"
  [nbd]="nbdkit file + nbdfuse"
)

# fresh_spare NAME: BENCH_TMP/NAME.img, a new copy of NAME.pristine (a spare
# formatted for IMG), so that every mount starts from the same spare: no
# extent that an earlier round's writes already converted or moved.
fresh_spare() {
  rm -f "$BENCH_TMP/$1.img"
  cp --sparse=never "$BENCH_TMP/$1.pristine" "$BENCH_TMP/$1.img"
  SPARE=$BENCH_TMP/$1.img
}

# start_target T: brings T up; 1 (with the reason on stderr) if it failed.
start_target() {
  local dir=$BENCH_TMP/mnt-$1
  case $1 in
    raw) EXPOSED=$IMG ;;
    remapfs) fresh_spare spare && remapfs_start "$REMAPFS" "$IMG" "$SPARE" "$dir" || return 1 ;;
    remapfs-dio)
      fresh_spare spare && remapfs_start "$REMAPFS" "$IMG" "$SPARE" "$dir" --direct-io on ||
        return 1 ;;
    qsd) qsd_start "$dir" off || return 1 ;;
    qsd-direct) qsd_start "$dir" on || return 1 ;;
    nbd) nbd_start "$dir" || return 1 ;;
  esac
  # fio runs with direct=1: a file that refuses O_DIRECT is a failure here
  dd if="$EXPOSED" of=/dev/null bs=4096 count=1 iflag=direct status=none ||
    { echo "$1: O_DIRECT read of $EXPOSED refused" >&2; return 1; }
}

stop_target() {
  ((${#BENCH_STOP[@]} == 0)) || "${BENCH_STOP[@]}"
  BENCH_STOP=()
}

# qsd_start MNT on|off: the export's mountpoint is a regular file, which
# becomes the image. cache.direct=on goes with aio=native, as qemu's
# cache=none usually does; off keeps the default aio=threads.
qsd_start() {
  local mnt=$1 file="driver=file,node-name=f,filename=$IMG,cache.direct=$2"
  [[ $2 == on ]] && file+=",aio=native"
  : >"$mnt"
  start_daemon "$mnt.log" qemu-storage-daemon --blockdev "$file" \
    --blockdev driver=raw,node-name=r,file=f \
    --export "type=fuse,id=e,node-name=r,mountpoint=$mnt,writable=on"
  BENCH_STOP=(stop_fuse "$mnt" 1 "$DAEMON_PID")
  wait_mount "$mnt" "$DAEMON_PID" 15 || { cat "$mnt.log" >&2; return 1; }
  EXPOSED=$mnt
}

# nbd_start MNT: nbdkit's file plugin on a unix socket, nbdfuse (default
# connections) on MNT; the file is MNT/disk.
nbd_start() {
  local mnt=$1 sock=$1.sock kpid i
  mkdir -p "$mnt"
  rm -f "$sock"
  start_daemon "$mnt-nbdkit.log" nbdkit --foreground --unix "$sock" file "file=$IMG"
  kpid=$DAEMON_PID
  BENCH_STOP=(stop_pid "$kpid")
  for ((i = 0; i < 150; i++)); do
    [[ -S $sock ]] && break
    alive "$kpid" || break
    sleep 0.1
  done
  [[ -S $sock ]] || { cat "$mnt-nbdkit.log" >&2; return 1; }
  start_daemon "$mnt.log" nbdfuse "$mnt/disk" --unix "$sock"
  BENCH_STOP=(nbd_stop "$mnt" "$DAEMON_PID" "$kpid")
  wait_mount "$mnt" "$DAEMON_PID" 15 || { cat "$mnt.log" >&2; return 1; }
  EXPOSED=$mnt/disk
}

# nbdfuse exits by itself once unmounted; nbdkit needs its SIGTERM.
nbd_stop() {
  stop_fuse "$1" 0 "$2"
  stop_pid "$3"
}
