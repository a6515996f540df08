# shellcheck shell=bash
# Helpers shared by the image, bundle and benchmark scripts. Source it; it sets
# KBOX_ROOT (the repository's top folder) and expects PROG (a short script name).

KBOX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KBOX_ROOT
: "${PROG:=$(basename "$0" .sh)}"

# Say which command failed when set -e stops a script (-E: in functions too).
set -E
trap 'printf "%s: error: exit %s at line %s: %s\n" "$PROG" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# need_cmd CMD PACKAGE: fail with a one-line hint when CMD is missing.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found (Debian package $2): run hack/setup.sh"
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root"
}

# abspath PATH: absolute form of PATH, which need not exist yet.
abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# stamp_ok STAMP KEY [OUTPUT...]: true when STAMP holds exactly KEY and every OUTPUT exists.
stamp_ok() {
  local stamp=$1 key=$2 f
  shift 2
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] || return 1
  for f in "$@"; do [ -e "$f" ] || return 1; done
}

# make_ext4 DIR IMG SIZE: write IMG, an ext4 file system (default features, with
# journal) holding DIR's tree, then check it read-only. Writes IMG.tmp first.
make_ext4() {
  local dir=$1 img=$2 size=$3
  need_cmd mke2fs e2fsprogs
  log "making ext4 image $img ($size) from $dir"
  rm -f "$img.tmp"
  mke2fs -q -t ext4 -L kbox-root -d "$dir" -F "$img.tmp" "$size" >&2 \
    || die "mke2fs failed for $img"
  e2fsck -fn "$img.tmp" >/dev/null 2>&1 || die "e2fsck found errors in fresh image $img.tmp"
  mv -f "$img.tmp" "$img"
}

# size_for_dir DIR MIN_MIB: image size in MiB ("NM") fitting DIR twice over, at least MIN_MIB.
size_for_dir() {
  local kib mib
  kib=$(du -sk "$1" | cut -f1)
  mib=$(( (kib * 2) / 1024 + 16 ))
  [ "$mib" -lt "$2" ] && mib=$2
  printf '%sM\n' "$mib"
}

# json_strings ARG...: a JSON array of the arguments as strings. One jq call per
# argument: jq would take "-c" and the like among positional arguments as its options.
json_strings() {
  local out='[]' a
  for a in "$@"; do out=$(jq -c --arg a "$a" '. + [$a]' <<<"$out"); done
  printf '%s\n' "$out"
}
