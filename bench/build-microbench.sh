#!/usr/bin/env bash
# Compiles bench/microbench.c into a static bench/microbench (skipped when up to date).
# Usage: bench/build-microbench.sh        Prints the binary's path on stdout.
set -euo pipefail
PROG=build-microbench
# shellcheck source=hack/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../hack/lib.sh"

src=$KBOX_ROOT/bench/microbench.c
bin=$KBOX_ROOT/bench/microbench
need_cmd gcc gcc
case $(gcc -print-file-name=libc.a) in /*) ;; *) die "static libc missing (Debian package libc6-dev): run hack/setup.sh" ;; esac
if [ "$bin" -nt "$src" ] && [ "$bin" -nt "${BASH_SOURCE[0]}" ]; then
  log "up to date: $bin"
else
  log "compiling $bin"
  gcc -O2 -Wall -Wextra -static -o "$bin.tmp" "$src" || die "gcc failed on $src"
  mv -f "$bin.tmp" "$bin"
fi
printf '%s\n' "$bin"
