#!/usr/bin/env bash
# Installs, idempotently, every Debian package that building and testing kbox needs.
# Safe to run again: packages already present are skipped without touching apt.
set -euo pipefail

PACKAGES=(
  # kernel build (LKL): sources, tools, compiler cache
  linux-source-6.12 xz-utils flex bison bc make gcc libc6-dev libelf-dev ccache binutils
  # images and bundles
  e2fsprogs busybox-static debootstrap
  # reference runtimes and real clients for comparison tests and benchmarks
  runc crun proot podman conmon containerd
  # tests and benchmarks
  jq python3 strace hyperfine shellcheck
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: must run as root to install packages" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
