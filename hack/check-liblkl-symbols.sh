#!/bin/sh
# Checks that a liblkl.a exports the nine LKL symbols kbox binds to (the list and the nm
# test of the seed's lkl-api-surface document). Prints one line per symbol, OK or MISSING;
# exits 1 if any is missing or the archive cannot be read.
#
# Usage: hack/check-liblkl-symbols.sh PATH/TO/liblkl.a
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 PATH/TO/liblkl.a" >&2
  exit 2
fi
archive=$1
symbols=$(nm "$archive" 2>/dev/null) || {
  echo "check-liblkl-symbols: cannot read $archive with nm" >&2
  exit 1
}

missing=0
for sym in lkl_init lkl_start_kernel lkl_cleanup lkl_syscall \
           lkl_strerror lkl_disk_add lkl_mount_dev \
           lkl_host_ops lkl_dev_blk_ops; do
  # Defined in text, data, bss or read-only data: a function or a table we take the address of.
  if printf '%s\n' "$symbols" | grep -q " [TDBRdb] ${sym}$"; then
    printf '  %-24s OK\n' "$sym"
  else
    printf '  %-24s MISSING\n' "$sym"
    missing=1
  fi
done
exit $missing
