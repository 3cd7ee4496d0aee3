#!/usr/bin/env bash
# Throughput through a real remapfs mount against the bare MAIN file, in one
# run on one machine: prints IOPS for each and the ratio. No assertion: the
# figure is for reading, these machines are noisy.
#   usage: benchmarks/fio_mount.sh [path/to/remapfs]   (root, fio installed)
set -euo pipefail
REMAPFS=${1:-build/cli/remapfs}
REMAPFS=$(realpath "$REMAPFS")
work=$(mktemp -d)
cleanup() {
  fusermount3 -u "$work/mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# Fully allocated and cached (fio keeps the cache: --invalidate=0), so
# neither side pays for filling holes or for the first read from disk.
dd if=/dev/zero of="$work/main.img" bs=1M count=256 status=none
"$REMAPFS" format "$work/main.img" "$work/spare.img" --spare-size 8M >/dev/null
mkdir "$work/mnt"

# fio_iops FILE RW JOBS DIRECT -> IOPS. remapfs reads and writes its
# backing files through the page cache, so the bare baseline is buffered too;
# through the mount requests are O_DIRECT so that each one reaches remapfs.
fio_iops() {
  fio --name=b --filename="$1" --rw="$2" --bs=4k --size=256M --direct="$4" --invalidate=0 \
      --ioengine=psync --numjobs="$3" --time_based --runtime=5 \
      --group_reporting --output-format=terse --terse-version=3 |
    awk -F';' -v rw="$2" '{ print (rw ~ /read/) ? $8 : $49 }'
}

declare -A bare
for rw in randread randwrite; do bare[$rw]=$(fio_iops "$work/main.img" $rw 2 0); done
"$REMAPFS" mount "$work/main.img" "$work/spare.img" "$work/mnt" 2>/dev/null
echo 1000-1063,50000+100,200000 > "$work/mnt/control/add_bad"
printf '%-10s %12s %12s %8s\n' workload bare_iops remapfs_iops ratio
for rw in randread randwrite; do
  got=$(fio_iops "$work/mnt/main.img" $rw 2 1)
  awk -v w=$rw -v b="${bare[$rw]}" -v g="$got" \
    'BEGIN { printf "%-10s %12d %12d %8.2f\n", w, b, g, g / b }'
done
