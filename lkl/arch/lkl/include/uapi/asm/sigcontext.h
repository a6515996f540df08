/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_SIGCONTEXT_H
#define _UAPI_ASM_LKL_SIGCONTEXT_H

/* Signals are never delivered to user mode inside LKL. */
struct sigcontext {
	unsigned long unused;
};

#endif
