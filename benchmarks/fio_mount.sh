#!/usr/bin/env bash
# Throughput through a real remapfs mount against the bare MAIN file, in one
# run on one machine: prints IOPS for each and the ratio. No assertion: the
# figure is for reading, these machines are noisy. benchmarks/peers.sh
# compares with other FUSE exporters of an image.
# Without an argument it builds this checkout into build-bench/ first; its
# files live in a folder in /var/tmp that the EXIT trap removes.
#   usage: benchmarks/fio_mount.sh [path/to/remapfs]   (root, fio installed)
set -euo pipefail
# shellcheck source=benchmarks/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_tools fio:fio fusermount3:fuse3
bench_remapfs "${1:-}"
bench_setup /var/tmp
work=$BENCH_TMP
# Fully allocated and cached (fio keeps the cache: --invalidate=0), so
# neither side pays for filling holes or for the first read from disk.
dd if=/dev/zero of="$work/main.img" bs=1M count=256 status=none
"$REMAPFS" format "$work/main.img" "$work/spare.img" --spare-size 8M >/dev/null ||
  bench_die "$REMAPFS format failed"

# iops FILE RW DIRECT: FIO_IOPS of 2 psync jobs. remapfs reads and writes its
# backing files through the page cache, so the bare baseline is buffered too;
# through the mount requests are O_DIRECT so that each one reaches remapfs.
iops() {
  fio_iops "$1" "$2" 4k 5 --size=256M --direct="$3" --invalidate=0 \
    --ioengine=psync --numjobs=2
}

declare -A bare
for rw in randread randwrite; do
  iops "$work/main.img" $rw 0
  bare[$rw]=$FIO_IOPS
done
remapfs_start "$REMAPFS" "$work/main.img" "$work/spare.img" "$work/mnt"
echo 1000-1063,50000+100,200000 > "$work/mnt/control/add_bad"
printf '%-10s %12s %12s %8s\n' workload bare_iops remapfs_iops ratio
for rw in randread randwrite; do
  iops "$EXPOSED" $rw 1
  awk -v w=$rw -v b="${bare[$rw]}" -v g="$FIO_IOPS" \
    'BEGIN { printf "%-10s %12d %12d %8.2f\n", w, b, g, g / b }'
done
