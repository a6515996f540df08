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

/* The library's entry points (see lkl/host/include/lkl_host.h). */
int lkl_init(struct lkl_host_operations *ops);
int lkl_start_kernel(const char *fmt, ...);
long lkl_sys_halt(void);
void lkl_cleanup(void);
long lkl_syscall(long nr, long *params);
int lkl_disk_add(struct lkl_disk *disk);
long lkl_disk_devt(unsigned int disk_id, unsigned int part);
void *lkl_task_spawn(unsigned long flags, long *err);
void *lkl_task_spawn_from(void *parent, unsigned long flags, long *err);
void *lkl_task_spawn_as(void *parent, unsigned long flags, int pid, long *err);
int lkl_task_adopt(void *handle);
void lkl_task_release(void *handle);
long lkl_task_exec(void);
long lkl_task_exec_on(void *handle, const char *name);
long lkl_task_exec_with(void *handle, const char *name, const char *args,
			unsigned long args_len, const char *env,
			unsigned long env_len);
int lkl_task_set_signal_callback(void *handle,
				 void (*cb)(void *data, unsigned long mask),
				 void *data);
long lkl_task_syscall(void *handle, long nr, long *params,
		      unsigned long *signals);
long lkl_task_interrupt(void *handle);
long lkl_task_call_async(void *handle, long (*fn)(void *),
			 void (*done)(void *, long), void *arg);
unsigned long lkl_pending_signals(void);

/* The kernel's lifecycle within the host process. */
enum lkl_state {
	LKL_STATE_NEW,		/* lkl_start_kernel() not called yet */
	LKL_STATE_BOOTING,
	LKL_STATE_RUNNING,
	LKL_STATE_HALTED,	/* halted; it cannot be started again */
};
extern enum lkl_state lkl_state;

#endif
