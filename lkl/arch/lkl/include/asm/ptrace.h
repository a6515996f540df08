/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_PTRACE_H
#define _ASM_LKL_PTRACE_H

#include <uapi/asm/ptrace.h>

#ifndef __ASSEMBLY__
/* Tasks never run in user mode, so their saved user registers are empty. */
struct pt_regs {
	unsigned long unused;
};

#define user_mode(regs)			0
#define kernel_mode(regs)		1
#define instruction_pointer(regs)	0UL
#define profile_pc(regs)		0UL
#define user_stack_pointer(regs)	0UL
#define current_user_stack_pointer()	0UL
#define task_pt_regs(task)		(&(task)->thread.regs)

static inline long regs_return_value(struct pt_regs *regs)
{
	return 0;
}
#endif

#endif
