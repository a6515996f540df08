/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_SYSCALLS_H
#define _ASM_LKL_SYSCALLS_H

#include <asm-generic/syscalls.h>

/* Entry from kernel_init(): pid 1 serves the host from here on. */
void __noreturn lkl_init_task_main(void);

#endif
