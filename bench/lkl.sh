#!/usr/bin/env bash
# Benchmarks the in-process kernel (LKL) through kbox's Rust binding: boot + mount + halt
# time, the cost of a cheap lkl_syscall (getpid) and of fstat on an open file from one and
# from four host threads (the host's own getpid for scale), and peak memory (max RSS).
#
# Usage: bench/lkl.sh            (one command; prints a table)
# Environment: KBOX_BENCH_BOOTS=20      boots to time (one process each)
#              KBOX_BENCH_ITERS=20000   syscalls per thread per measurement
#              KBOX_LIBLKL=...          a prebuilt liblkl.a instead of hack/build-lkl.sh's
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BOOTS=${KBOX_BENCH_BOOTS:-20}
ITERS=${KBOX_BENCH_ITERS:-20000}

for tool in mke2fs cargo; do
  command -v "$tool" >/dev/null || { echo "lkl.sh: $tool not found (run hack/setup.sh)" >&2; exit 1; }
done

echo "lkl.sh: building kbox-lkl-bench (release)" >&2
(cd "$ROOT" && cargo build --release --quiet --bin kbox-lkl-bench)
target_dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BENCH=$target_dir/release/kbox-lkl-bench

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree/etc"
echo "bench image" > "$work/tree/etc/hostname"
mke2fs -q -t ext4 -d "$work/tree" -F "$work/rootfs.img" 64M

echo "lkl.sh: $BOOTS boots (boot + mount + unmount + halt, one process each)" >&2
: > "$work/boots"
for _ in $(seq "$BOOTS"); do
  "$BENCH" boot "$work/rootfs.img" >> "$work/boots"
done
echo "lkl.sh: syscalls, $ITERS per thread" >&2
"$BENCH" syscalls "$work/rootfs.img" "$ITERS" > "$work/syscalls"
# The same on one CPU: every hand-off between host threads is then a local context switch
# instead of a wake-up across CPUs (what kbox's supervisor arranges, see docs/benchmarks.md).
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
  echo "lkl.sh: syscalls on one CPU" >&2
  taskset -c 0 "$BENCH" syscalls "$work/rootfs.img" "$ITERS" | sed 's/^/cpu0_/' >> "$work/syscalls"
fi

# median and minimum of the values of KEY in FILE
stats() {
  sed -n "s/^$1=//p" "$2" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%d %d\n", m, v[1] }'
}
val() { sed -n "s/^$1=//p" "$work/syscalls"; }

read -r boot_med boot_min < <(stats boot_mount_ns "$work/boots")
read -r total_med total_min < <(stats boot_mount_halt_ns "$work/boots")
read -r rss_boot_med _ < <(stats maxrss_kb "$work/boots")

ms() { echo "scale=2; $1 / 1000000" | bc; }
row() { printf '%-52s %12s  %s\n' "$1" "$2" "$3"; }
row "measurement" "value" "detail"
row "boot + mount (median of $BOOTS processes)" "$(ms "$boot_med") ms" "min $(ms "$boot_min") ms"
row "boot + mount + unmount + halt (median)" "$(ms "$total_med") ms" "min $(ms "$total_min") ms"
for call in getpid fstat host_getpid; do
  label=$call
  [ "$call" = host_getpid ] && label="getpid on the host (for scale)"
  [ "$call" = getpid ] && label="getpid via lkl_syscall"
  [ "$call" = fstat ] && label="fstat via lkl_syscall (open ext4 file)"
  for prefix in "" cpu0_; do
    where=""
    [ -n "$prefix" ] && where=", one CPU"
    for t in 1 4; do
      per_call=$(val "${prefix}${call}_t${t}_per_call_ns")
      [ -n "$per_call" ] || continue
      row "$label, $t thread(s)$where" "$(val "${prefix}${call}_t${t}_latency_ns") ns" \
        "latency per call; $(echo "scale=0; 1000000000 / $per_call" | bc) calls/s in total"
    done
  done
done
row "peak RSS, boot + mount + halt (median)" "$rss_boot_med KiB" "max RSS of the process"
row "peak RSS, syscall benchmark" "$(val maxrss_kb) KiB" "mem=64M"
