/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_BITSPERLONG_H
#define _UAPI_ASM_LKL_BITSPERLONG_H

/* The library is only built for 64-bit hosts (x86_64). */
#define __BITS_PER_LONG 64

#include <asm-generic/bitsperlong.h>

#endif
