/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_PROCESSOR_H
#define _ASM_LKL_PROCESSOR_H

#include <asm/host_ops.h>
#include <asm/ptrace.h>

#ifndef __ASSEMBLY__
struct task_struct;

/*
 * Per-task state of the port: each kernel task is backed by one host
 * thread that sleeps on sched_sem while the task is not running.
 */
struct thread_struct {
	struct lkl_sem *sched_sem;
	/* on the backing thread's own stack: where to leave when the task dies */
	struct lkl_jmp_buf *exit_jb;
	/* the task that switched to this one, returned by __switch_to() */
	struct task_struct *prev_sched;
	/* whether the backing host thread exists yet */
	bool started;
	int (*fn)(void *);
	void *fn_arg;
	struct pt_regs regs;
};

#define INIT_THREAD { }

/* Spinning waits for another party; let pending interrupts make progress. */
void lkl_cpu_relax(void);
#define cpu_relax()	lkl_cpu_relax()

/* No separate user address space: every host address is reachable. */
#define TASK_SIZE		(~0UL)
#define TASK_SIZE_MAX		TASK_SIZE
#define STACK_TOP		TASK_SIZE
#define STACK_TOP_MAX		STACK_TOP
#define TASK_UNMAPPED_BASE	0

#define KSTK_EIP(tsk)		(0UL)
#define KSTK_ESP(tsk)		(0UL)

static inline unsigned long __get_wchan(struct task_struct *p)
{
	return 0;
}

static inline void flush_thread(void)
{
}

#endif

#endif
