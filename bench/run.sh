#!/usr/bin/env bash
# Benchmarks kbox against runc, crun and proot, in one run of a few minutes at most.
#
# Usage: bench/run.sh [--json] [-n RUNS] [-t SECONDS] [--kbox PATH]
#   --json      print JSON instead of the table (progress always goes to stderr)
#   -n RUNS     container start-to-exit runs per runtime and mode (default 20; each
#               series also stops after 15 s once it has 3 runs)
#   -t SECONDS  time per in-container micro-benchmark metric (default 0.3)
#   --kbox P    the kbox binary (default target/release/kbox)
# Measures (a) start-to-exit latency of busybox `true`, with `run` and with
# create + start + wait + delete (median ms); (b) bench/microbench inside each
# runtime (per-call us, throughput MB/s), with cost ratios between runtimes.
# Scratch files, state and results (results.json, results.txt) go to bench/out/.
# A runtime that cannot run prints "NAME: unavailable: REASON" and is left out.
# crun needs a cgroup v1 hugetlb hierarchy on this host; when it is missing, this
# script mounts one at /sys/fs/cgroup/hugetlb (an empty hierarchy, no limits set).
set -euo pipefail
PROG=bench
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../hack/lib.sh"

JSON=0 RUNS=20 SECS=0.3 KBOX=$KBOX_ROOT/target/release/kbox
while [ $# -gt 0 ]; do
  case "$1" in
    --json) JSON=1 ;;
    -n) RUNS=${2:?-n needs a number}; shift ;;
    -t) SECS=${2:?-t needs seconds}; shift ;;
    --kbox) KBOX=$(abspath "${2:?--kbox needs a path}"); shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see bench/run.sh --help)" ;;
  esac
  shift
done

need_root
need_cmd jq jq
need_cmd python3 python3
OUT=$KBOX_ROOT/bench/out
IMAGE=$OUT/image
STATE=$OUT/state
RESULTS=$OUT/results.tsv
MICRO=/usr/local/bin/microbench
mkdir -p "$OUT" "$STATE"
: >"$RESULTS"

# --- image and bundles ---------------------------------------------------------
bin=$("$KBOX_ROOT/bench/build-microbench.sh")
KBOX_IMAGE_EXTRA="$bin:$MICRO" "$KBOX_ROOT/hack/mkimage-busybox.sh" "$IMAGE"
"$KBOX_ROOT/hack/mkbundle-runc.sh" "$IMAGE" "$OUT/runc-true" true
"$KBOX_ROOT/hack/mkbundle-runc.sh" "$IMAGE" "$OUT/runc-micro" "$MICRO" -t "$SECS"
# kbox bundles: bundles/busybox/config.json with other args, on a copy of the image
# (kbox mounts it read-write) shared by hard link.
cp --sparse=always "$IMAGE/rootfs.img" "$OUT/kbox.img"
kbox_bundle() {
  local dir=$OUT/$1
  shift
  mkdir -p "$dir"
  jq --argjson args "$(json_strings "$@")" '.process.args = $args | .root.path = "rootfs.img"' \
    "$KBOX_ROOT/bundles/busybox/config.json" >"$dir/config.json"
  ln -f "$OUT/kbox.img" "$dir/rootfs.img"
}
kbox_bundle kbox-true true
kbox_bundle kbox-micro "$MICRO" -t "$SECS"

# --- runtimes ------------------------------------------------------------------
# rt_cmd NAME: the runtime's command line before its subcommand, one word a line.
rt_cmd() {
  case "$1" in
    runc | crun) printf '%s\n' "$1" --root "$STATE/$1" ;;
    kbox) printf '%s\n' "$KBOX" --root "$STATE/kbox" ;;
  esac
}

# bundle NAME KIND: the bundle that runtime NAME runs for KIND (true or micro).
bundle() {
  case "$1" in
    kbox) printf '%s\n' "$OUT/kbox-$2" ;;
    *) printf '%s\n' "$OUT/runc-$2" ;;
  esac
}

unavailable() {
  printf 'unavailable\t%s\t%s\n' "$1" "$2" >>"$RESULTS"
  printf '%s: unavailable: %s\n' "$1" "$2" >&2
}

# clear_state NAME: force-delete containers an interrupted earlier run left behind.
clear_state() {
  local cmd id
  mapfile -t cmd < <(rt_cmd "$1")
  { "${cmd[@]}" list -q 2>/dev/null || true; } | while read -r id; do
    "${cmd[@]}" delete --force "$id" >/dev/null 2>&1 || true
  done
}

# try_true NAME: run `true` once; prints the last line of stderr on failure.
try_true() {
  local cmd err rc=0
  err=$(mktemp)
  case "$1" in
    proot) cmd=(proot -r "$IMAGE/rootfs" -w / /bin/true) ;;
    *) mapfile -t cmd < <(rt_cmd "$1"); cmd+=(run --bundle "$(bundle "$1" true)" "kbox-bench-probe-$$") ;;
  esac
  timeout 60 "${cmd[@]}" </dev/null >/dev/null 2>"$err" || rc=$?
  if [ "$rc" -ne 0 ]; then
    if [ -s "$err" ]; then tail -n1 "$err" | cut -c1-200; else echo "exit status $rc, no message"; fi
  fi
  rm -f "$err"
  return "$rc"
}

hugetlb_mounted() { findmnt -rn -t cgroup -o OPTIONS | grep -qw hugetlb; }

available=()
for rt in runc crun proot kbox; do
  case "$rt" in
    kbox)
      if [ ! -x "$KBOX" ]; then
        unavailable kbox "${KBOX#"$KBOX_ROOT"/} not built (cargo build --release)"
        continue
      fi ;;
    *) command -v "$rt" >/dev/null || { unavailable "$rt" "not installed: run hack/setup.sh"; continue; } ;;
  esac
  [ "$rt" = proot ] || clear_state "$rt"
  log "probing $rt"
  if ! reason=$(try_true "$rt"); then
    if [ "$rt" = crun ] && [[ "$reason" == *hybrid* ]] && ! hugetlb_mounted; then
      log "crun needs a cgroup v1 hugetlb hierarchy: mounting one at /sys/fs/cgroup/hugetlb"
      mkdir -p /sys/fs/cgroup/hugetlb
      mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
      reason=$(try_true crun) && { available+=(crun); continue; }
    fi
    unavailable "$rt" "$reason"
    continue
  fi
  available+=("$rt")
done
[ ${#available[@]} -gt 0 ] || die "no runtime could run a container"

# --- (a) start-to-exit latency -------------------------------------------------
latency() {
  local rt=$1 mode=$2 cmd res
  shift 2
  log "latency: $rt $mode ($RUNS runs)"
  if res=$(python3 "$KBOX_ROOT/bench/latency.py" --runs "$RUNS" --max-seconds 15 "$@"); then
    printf 'latency\t%s\t%s\t%s\n' "$rt" "$mode" "$res" >>"$RESULTS"
  else
    log "latency: $rt $mode failed"
  fi
}
for rt in "${available[@]}"; do
  if [ "$rt" = proot ]; then
    latency proot run run -- proot -r "$IMAGE/rootfs" -w / /bin/true
    continue
  fi
  mapfile -t cmd < <(rt_cmd "$rt")
  latency "$rt" run run -- "${cmd[@]}" run --bundle "$(bundle "$rt" true)" '{id}'
  latency "$rt" cycle --bundle "$(bundle "$rt" true)" cycle -- "${cmd[@]}"
done

# --- (b) in-container micro-benchmarks ------------------------------------------
for rt in "${available[@]}"; do
  log "microbench: $rt (about $(awk -v s="$SECS" 'BEGIN { print int(s * 7 * 1.2 + 1) }') s)"
  if [ "$rt" = proot ]; then
    cmd=(proot -r "$IMAGE/rootfs" -w / "$MICRO" -t "$SECS")
  else
    mapfile -t cmd < <(rt_cmd "$rt")
    cmd+=(run --bundle "$(bundle "$rt" micro)" "kbox-bench-micro-$$")
  fi
  if ! timeout 300 "${cmd[@]}" </dev/null >"$OUT/micro-$rt.txt" 2>"$OUT/micro-$rt.err"; then
    log "microbench under $rt failed: $(tail -n1 "$OUT/micro-$rt.err")"
  fi
  awk -v rt="$rt" 'NF == 3 && $2 ~ /^[0-9.]+$/ { printf "micro\t%s\t%s\t%s\t%s\n", rt, $1, $2, $3 }' \
    "$OUT/micro-$rt.txt" >>"$RESULTS"
done

# --- report --------------------------------------------------------------------
meta=(runs="$RUNS" seconds_per_metric="$SECS" host="$(uname -r)" date="$(date -u +%FT%TZ)")
python3 "$KBOX_ROOT/bench/report.py" "$RESULTS" --json "${meta[@]}" >"$OUT/results.json"
python3 "$KBOX_ROOT/bench/report.py" "$RESULTS" >"$OUT/results.txt"
log "results in ${OUT#"$KBOX_ROOT"/}/results.json and results.txt"
if [ "$JSON" = 1 ]; then cat "$OUT/results.json"; else cat "$OUT/results.txt"; fi
