#!/usr/bin/env bash
# Builds a minimal Debian 12 (bookworm, debootstrap --variant=minbase) root file system
# from the Debian mirror this machine's apt already uses, and no other host.
#
# Usage: hack/mkimage-debian.sh [OUT_DIR]          (default OUT_DIR: bundles/debian)
# Writes OUT_DIR/rootfs/ (a directory, for runc and proot) and OUT_DIR/rootfs.img
# (ext4 with journal, for kbox). Downloaded packages are kept in OUT_DIR/.debs/.
# Skips the work when OUT_DIR/.rootfs.stamp shows the same inputs: this script,
# hack/lib.sh, the mirror, the suite and the debootstrap version. Takes minutes.
#
# Environment:
#   KBOX_DEBIAN_SUITE=bookworm   suite to install
#   KBOX_IMAGE_FORCE=1           rebuild even when the stamp matches
set -euo pipefail
PROG=mkimage-debian
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(abspath "${1:-$KBOX_ROOT/bundles/debian}")
SUITE=${KBOX_DEBIAN_SUITE:-bookworm}
ROOTFS=$OUT/rootfs
IMG=$OUT/rootfs.img
STAMP=$OUT/.rootfs.stamp
TMP=$OUT/rootfs.tmp

need_root
need_cmd debootstrap debootstrap
need_cmd mke2fs e2fsprogs

# apt_mirror SUITE: the first URI that apt's sources give for SUITE, from one-line
# (sources.list) or deb822 (*.sources) files.
apt_mirror() {
  local suite=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++
        if ($(i + 1) == s) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$suite" 'BEGIN { RS = "" } {
        uri = ""; ok = 0; deb = 0
        n = split($0, line, "\n")
        for (j = 1; j <= n; j++) {
          if (line[j] ~ /^#/) continue
          split(line[j], w, /[ \t]+/)
          if (w[1] == "URIs:") uri = w[2]
          if (w[1] == "Types:") for (k in w) if (w[k] == "deb") deb = 1
          if (w[1] == "Suites:") for (k in w) if (w[k] == s) ok = 1
        }
        if (ok && deb && uri != "") { print uri; exit }
      }' "$f"
  done
}

# unmount_below DIR: undo mounts that an interrupted debootstrap left inside DIR.
unmount_below() {
  local m
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while read -r m; do
    umount -l "$m" || true
  done
}

mirror=$(apt_mirror "$SUITE" | head -n1)
[ -n "$mirror" ] || die "no deb source for $SUITE in /etc/apt/sources.list{,.d/}: cannot pick a mirror"

key="script $(sha256sum "${BASH_SOURCE[0]}" "$KBOX_ROOT/hack/lib.sh" | cut -d' ' -f1 | tr '\n' ' ')
debootstrap $(dpkg-query -W -f='${Version}' debootstrap)
source $mirror $SUITE minbase"

if [ -z "${KBOX_IMAGE_FORCE:-}" ] && stamp_ok "$STAMP" "$key" "$ROOTFS/etc/debian_version" "$IMG"; then
  log "up to date: $IMG"
  exit 0
fi

mkdir -p "$OUT/.debs"
rm -f "$STAMP"
unmount_below "$TMP"
rm -rf --one-file-system "$TMP"
trap 'unmount_below "$TMP"' EXIT
log "debootstrap $SUITE (minbase) from $mirror into $TMP; this takes minutes"
debootstrap --variant=minbase --cache-dir="$OUT/.debs" "$SUITE" "$TMP" "$mirror" >&2 \
  || die "debootstrap failed (log: $TMP/debootstrap/debootstrap.log)"
unmount_below "$TMP"

echo kbox >"$TMP/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$TMP/etc/hosts"
printf 'kbox test file\nthe quick brown fox jumps over the lazy dog\n' >"$TMP/etc/kbox-test.txt"
rm -f "$TMP"/var/cache/apt/archives/*.deb "$TMP"/var/cache/apt/*.bin

rm -rf --one-file-system "$ROOTFS"
mv "$TMP" "$ROOTFS"
make_ext4 "$ROOTFS" "$IMG" "$(size_for_dir "$ROOTFS" 256)"
printf '%s\n' "$key" >"$STAMP"
log "done: $ROOTFS and $IMG ($(du -sh "$ROOTFS" | cut -f1) of files)"
