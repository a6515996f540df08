/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the files of the port. */
#ifndef _LKL_KERNEL_LKL_H
#define _LKL_KERNEL_LKL_H

#include <linux/types.h>
#include <asm/host_ops.h>

/* threads.c */
extern bool lkl_halted;
extern unsigned long lkl_threads_started;
extern struct lkl_sem *lkl_thread_exit_sem;
void lkl_task_thread(void *arg);
void lkl_boot_thread(void *arg);
void lkl_release_task_threads(void);

/* irq.c */
int lkl_irq_host_init(void);
void lkl_irq_host_cleanup(void);
void lkl_wake_idle(void);

/* time.c */
void lkl_time_shutdown(void);

/* setup.c */
extern bool lkl_halt_requested;
void lkl_boot_main(void *unused);
void lkl_boot_done(void);
void __noreturn lkl_halt_cpu(void);

/* syscalls.c */
long lkl_kernel_call(long (*fn)(void *), void *arg);
void lkl_syscall_host_cleanup(void);
void lkl_fail_pending_syscalls(void);

/* The library's entry points, shared with the host side. */
#include <asm/lkl_api.h>

/* The kernel's lifecycle within the host process. */
enum lkl_state {
	LKL_STATE_NEW,		/* lkl_start_kernel() not called yet */
	LKL_STATE_BOOTING,
	LKL_STATE_RUNNING,
	LKL_STATE_HALTED,	/* halted; it cannot be started again */
};
extern enum lkl_state lkl_state;

#endif
