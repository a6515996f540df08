/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_PTRACE_H
#define _UAPI_ASM_LKL_PTRACE_H

/* LKL has no user mode, so there are no user registers to expose. */

#endif
