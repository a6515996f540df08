#!/usr/bin/env bash
# Builds liblkl.a: Debian's linux-source-6.12 plus kbox's LKL port (lkl/),
# configured with lkl/config, compiled with ccache. The result is cached
# outside the repository under a key made from everything it depends on,
# so a warm machine only hashes and prints. Progress goes to stderr; the
# last line on stdout is the absolute path of liblkl.a.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KBOX_CACHE_DIR:-/var/cache/kbox}
TARBALL=/usr/src/linux-source-6.12.tar.xz
JOBS=$(nproc)

say() { printf 'build-lkl: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- prerequisites -----------------------------------------------------------
missing=()
for tool in tar:tar xz:xz-utils make:make gcc:gcc flex:flex bison:bison bc:bc \
            ccache:ccache ar:binutils objcopy:binutils nm:binutils patch:patch; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ -f "$TARBALL" ] || missing+=(linux-source-6.12)
if [ ${#missing[@]} -gt 0 ]; then
  die "missing packages: ${missing[*]}; run hack/setup.sh (as root) first"
fi
mkdir -p "$CACHE" 2>/dev/null || die "cannot create cache directory $CACHE (set KBOX_CACHE_DIR)"

# --- cache key -----------------------------------------------------------------
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || stat -c %Y "$TARBALL")
key=$( {
  echo "linux-source-6.12 $kver"
  gcc --version | head -n1
  sha256sum "$ROOT/hack/build-lkl.sh"
  (cd "$ROOT" && find lkl -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} | sha256sum | cut -c1-16)
out="$CACHE/lkl-$key"
if [ -f "$out/liblkl.a" ]; then
  say "cached: $out/liblkl.a"
  echo "$out/liblkl.a"
  exit 0
fi

# One build at a time (cargo and the README's commands may race).
exec 9>"$CACHE/.build.lock"
flock 9
if [ -f "$out/liblkl.a" ]; then echo "$out/liblkl.a"; exit 0; fi

# --- source tree -----------------------------------------------------------------
tree="$CACHE/linux-$kver"
pristine="$CACHE/pristine-$kver"
if [ ! -f "$tree/.kbox-extracted" ]; then
  say "extracting $TARBALL (once per kernel package version)"
  rm -rf "$tree" "$tree.tmp"
  mkdir -p "$tree.tmp"
  tar -xJf "$TARBALL" -C "$tree.tmp" --strip-components=1
  touch "$tree.tmp/.kbox-extracted"
  mv "$tree.tmp" "$tree"
  rm -rf "$pristine"
fi
mkdir -p "$pristine"

# Overlay the port: arch/lkl is ours entirely; patched files are restored
# from their pristine copies first so that a changed patch applies cleanly.
say "overlaying lkl/arch/lkl and lkl/patches"
rm -rf "$tree/arch/lkl"
cp -a "$ROOT/lkl/arch/lkl" "$tree/arch/lkl"
for f in $(sed -n 's#^+++ b/\([^[:space:]]*\).*#\1#p' "$ROOT"/lkl/patches/*.patch | sort -u); do
  if [ -f "$pristine/$f" ]; then
    cp -p "$pristine/$f" "$tree/$f"
  else
    mkdir -p "$(dirname "$pristine/$f")"
    cp -p "$tree/$f" "$pristine/$f"
  fi
done
for p in "$ROOT"/lkl/patches/*.patch; do
  patch -s -p1 -d "$tree" < "$p" || die "patch $(basename "$p") does not apply"
done

# --- configure and build ------------------------------------------------------------
build="$CACHE/build-$kver"
mkdir -p "$build"
export CCACHE_DIR="${CCACHE_DIR:-$CACHE/ccache}"
ccache -M 4G >/dev/null
kmake() { make -C "$tree" O="$build" ARCH=lkl CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }

say "configuring (allnoconfig + lkl/config)"
kmake -s KCONFIG_ALLCONFIG="$ROOT/lkl/config" allnoconfig >&2
want=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$ROOT/lkl/config")
for line in $want; do
  grep -qx "$line" "$build/.config" || die "kernel config lacks $line (a dependency is off; see lkl/config)"
done

say "compiling the kernel with $JOBS jobs (ccache at $CCACHE_DIR)"
start=$(date +%s)
kmake -j"$JOBS" ${KBOX_KERNEL_MAKEFLAGS:-} vmlinux 2>&1 | awk '{ n++; printf "build-lkl: [%5d] %s\n", n, $0; fflush() }' >&2
[ "${PIPESTATUS[0]}" -eq 0 ] || die "kernel build failed (see the lines above)"
say "kernel compiled in $(( $(date +%s) - start ))s"

# --- package ---------------------------------------------------------------------------
stage="$out.tmp"
rm -rf "$stage"
mkdir -p "$stage"
# Keep only the library's entry points global: the kernel's own memcpy,
# printk, ... must not collide with the host program's symbols.
# The kernel link drops .note.GNU-stack; without it the host program would
# get an executable stack.
objcopy --wildcard --keep-global-symbol='lkl_*' \
  --add-section .note.GNU-stack=/dev/null --set-section-flags .note.GNU-stack=contents,readonly \
  "$build/vmlinux" "$stage/lkl.o"
undefined=$(nm -u "$stage/lkl.o" | awk '{print $2}' | grep -v '^_GLOBAL_OFFSET_TABLE_$' || true)
[ -z "$undefined" ] || die "kernel object has undefined symbols: $(echo $undefined | head -c 600)"
leaked=$(nm -g --defined-only "$stage/lkl.o" | awk '{print $3}' | grep -v '^lkl_' || true)
[ -z "$leaked" ] || die "non-lkl_ global symbols: $(echo $leaked | head -c 600)"

say "compiling the host library"
hostcflags=(-O2 -g -fPIC -Wall -Wextra -Werror -D_GNU_SOURCE
            -I"$ROOT/lkl/host/include" -I"$ROOT/lkl/arch/lkl/include/uapi")
for src in "$ROOT"/lkl/host/*.c; do
  gcc "${hostcflags[@]}" -c "$src" -o "$stage/$(basename "${src%.c}").o"
done
# The host library's syscall numbers must be the kernel's.
gcc "${hostcflags[@]}" -I"$build/arch/lkl/include/generated/uapi" -fsyntax-only \
  -include "$build/arch/lkl/include/generated/uapi/asm/unistd_64.h" \
  -DLKL_CHECK_SYSCALL_NUMBERS "$ROOT/lkl/host/include/lkl_host.h" 2>&1 >&2 ||
  die "lkl/host/include/lkl_host.h syscall numbers disagree with the kernel"

ar rcs "$stage/liblkl.a" "$stage"/*.o
symbols=$(nm "$stage/liblkl.a" 2>/dev/null)
for sym in lkl_init lkl_start_kernel lkl_cleanup lkl_syscall lkl_strerror \
           lkl_disk_add lkl_mount_dev lkl_host_ops lkl_dev_blk_ops lkl_sys_halt; do
  grep -q " [TDBRdb] ${sym}$" <<<"$symbols" || die "liblkl.a does not export $sym"
done
cp "$build/.config" "$stage/kernel.config"
rm -rf "$out"
mv "$stage" "$out"
say "built $out/liblkl.a"
echo "$out/liblkl.a"
