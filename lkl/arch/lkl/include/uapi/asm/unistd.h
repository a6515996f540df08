/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/* LKL uses the asm-generic 64-bit system call numbers, generated from scripts/syscall.tbl. */
#include <asm/unistd_64.h>
