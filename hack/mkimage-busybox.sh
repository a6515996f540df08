#!/usr/bin/env bash
# Builds a minimal busybox root file system from Debian's busybox-static.
#
# Usage: hack/mkimage-busybox.sh [OUT_DIR]        (default OUT_DIR: bundles/busybox)
# Writes OUT_DIR/rootfs/ (a directory, for runc and proot) and OUT_DIR/rootfs.img
# (ext4 with journal, for kbox). Skips the work when OUT_DIR/.rootfs.stamp shows the
# same inputs: busybox version and binary, this script, hack/lib.sh, the extra files
# and the size.
#
# Environment:
#   KBOX_IMAGE_EXTRA="SRC:DST ..."  extra files copied into the image, DST absolute
#                                   inside it (e.g. bench/microbench:/usr/local/bin/microbench)
#   KBOX_IMAGE_SIZE=64M             minimum image size (grown if the tree needs more)
#   KBOX_IMAGE_FORCE=1              rebuild even when the stamp matches
set -euo pipefail
PROG=mkimage-busybox
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=$(abspath "${1:-$KBOX_ROOT/bundles/busybox}")
ROOTFS=$OUT/rootfs
IMG=$OUT/rootfs.img
STAMP=$OUT/.rootfs.stamp
BUSYBOX=/bin/busybox
MIN_MIB=${KBOX_IMAGE_SIZE:-64M}
MIN_MIB=${MIN_MIB%M}
# Every file gets this time so that stat output is the same from build to build.
FIXED_TIME=2024-01-01T00:00:00Z

if ! [ -x "$BUSYBOX" ] || ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  die "busybox-static is not installed: run hack/setup.sh"
fi
need_cmd mke2fs e2fsprogs
need_cmd sha256sum coreutils

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The inputs that decide the output, one per line.
key="busybox $(dpkg-query -W -f='${Version}' busybox-static) $(sha "$BUSYBOX")
script $(sha "${BASH_SOURCE[0]}") $(sha "$KBOX_ROOT/hack/lib.sh")
size ${MIN_MIB}M"
read -r -a extras <<<"${KBOX_IMAGE_EXTRA:-}"
for e in "${extras[@]}"; do
  src=${e%%:*} dst=${e#*:}
  if [ "$src" = "$e" ] || [ -z "$src" ] || [ "${dst#/}" = "$dst" ]; then
    die "bad KBOX_IMAGE_EXTRA entry '$e': want SRC:/absolute/DST"
  fi
  [ -f "$src" ] || die "KBOX_IMAGE_EXTRA file not found: $src"
  key+="
extra $dst $(sha "$src") $(stat -c %a "$src")"
done

if [ -z "${KBOX_IMAGE_FORCE:-}" ] && stamp_ok "$STAMP" "$key" "$ROOTFS/bin/busybox" "$IMG"; then
  log "up to date: $IMG"
  exit 0
fi

mkdir -p "$OUT"
rm -f "$STAMP"
tmp=$OUT/rootfs.tmp
rm -rf "$tmp"
log "building rootfs in $ROOTFS"
mkdir -p "$tmp"
for d in bin sbin usr/bin usr/sbin usr/local/bin etc proc sys dev dev/pts dev/shm run root home \
  var/log usr/share/kbox-test; do
  mkdir -p "$tmp/$d"
done
install -d -m 1777 "$tmp/tmp"
chmod 700 "$tmp/root"
install -m 755 "$BUSYBOX" "$tmp/bin/busybox"

# One symlink per applet, where busybox itself would install it, pointing back at bin/busybox.
n=0
while read -r applet; do
  case "$applet" in bin/busybox | "") continue ;; esac
  dir=$(dirname "$applet")
  up=
  [ "$dir" = . ] || up=$(printf '%s' "$dir" | sed 's#[^/]*#..#g')/
  ln -sf "${up}bin/busybox" "$tmp/$applet"
  n=$((n + 1))
done < <("$BUSYBOX" --list-full)
[ -L "$tmp/bin/sh" ] || ln -sf busybox "$tmp/bin/sh"
log "linked $n applets"

cat >"$tmp/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$tmp/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo kbox >"$tmp/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$tmp/etc/hosts"
: >"$tmp/etc/resolv.conf"

# Known test files; their checksums are in /usr/share/kbox-test/SHA256SUMS
# (inside the container: cd / && sha256sum -c usr/share/kbox-test/SHA256SUMS).
printf 'kbox test file\nthe quick brown fox jumps over the lazy dog\n' >"$tmp/etc/kbox-test.txt"
ln -s kbox-test.txt "$tmp/etc/kbox-test.link"
# 1 MiB: "0000000 kbox\n" ... with 16-byte lines numbered by offset.
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "%08x kbox-1m\n", i * 16 }' \
  >"$tmp/usr/share/kbox-test/pattern-1m.txt"
head -c 4096 /dev/zero >"$tmp/usr/share/kbox-test/zero-4k.bin"
mkdir -p "$tmp/usr/share/kbox-test/tree/a/b/c"
echo deep >"$tmp/usr/share/kbox-test/tree/a/b/c/leaf.txt"
(cd "$tmp" && sha256sum etc/kbox-test.txt usr/share/kbox-test/pattern-1m.txt \
  usr/share/kbox-test/zero-4k.bin usr/share/kbox-test/tree/a/b/c/leaf.txt) \
  >"$tmp/usr/share/kbox-test/SHA256SUMS"

for e in "${extras[@]}"; do
  src=${e%%:*} dst=${e#*:}
  log "adding $src as $dst"
  install -D -m "$(stat -c %a "$src")" "$src" "$tmp$dst"
done

find "$tmp" -exec touch -h -d "$FIXED_TIME" {} +
rm -rf "$ROOTFS"
mv "$tmp" "$ROOTFS"

E2FSPROGS_FAKE_TIME=$(date -d "$FIXED_TIME" +%s) make_ext4 "$ROOTFS" "$IMG" "$(size_for_dir "$ROOTFS" "$MIN_MIB")"
printf '%s\n' "$key" >"$STAMP"
log "done: $ROOTFS and $IMG"
