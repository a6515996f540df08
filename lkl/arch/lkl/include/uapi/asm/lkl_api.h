/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_API_H
#define _UAPI_ASM_LKL_API_H

/*
 * The kernel's entry points, as the host library and C programs call them:
 * one declaration for both sides of the port (the kernel's definitions are
 * checked against it), so it uses only basic C types.
 */

#include <asm/host_ops.h>

int lkl_init(struct lkl_host_operations *ops);
int lkl_start_kernel(const char *fmt, ...);
long lkl_sys_halt(void);
void lkl_cleanup(void);
long lkl_syscall(long nr, long *params);
int lkl_trigger_irq(int irq);
int lkl_disk_add(struct lkl_disk *disk);
long lkl_disk_devt(unsigned int disk_id, unsigned int part);

/*
 * Kernel tasks for host threads and processes: fork a task (clone flags
 * CLONE_FILES, CLONE_FS, CLONE_THREAD, CLONE_SYSVSEM say what is shared,
 * optionally with a chosen pid) and hand it to another host thread; make
 * calls on a given task, also without waiting; cut a call short; mark an
 * exec; fetch the signals the kernel raised against a task.
 */
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

#endif
