/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_UNISTD_H
#define _ASM_LKL_UNISTD_H

#include <uapi/asm/unistd.h>

#define __ARCH_WANT_NEW_STAT
#define __ARCH_WANT_SET_GET_RLIMIT
#define __ARCH_WANT_RENAMEAT
#define __ARCH_WANT_SYS_CLONE

#endif
