/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C API of kbox's liblkl.a: the kernel's entry points and the host
 * library's helpers. kbox itself declares what it uses in Rust; this header
 * serves the host library and C programs of our own.
 */
#ifndef _LKL_HOST_H
#define _LKL_HOST_H

#include <asm/host_ops.h>

/* Kernel entry points (arch/lkl). */
int lkl_init(struct lkl_host_operations *ops);
int lkl_start_kernel(const char *fmt, ...);
long lkl_sys_halt(void);
void lkl_cleanup(void);
long lkl_syscall(long nr, long *params);
int lkl_trigger_irq(int irq);
int lkl_disk_add(struct lkl_disk *disk);
long lkl_disk_devt(unsigned int disk_id, unsigned int part);

/*
 * Kernel tasks per host thread: fork the caller's task (clone flags
 * CLONE_FILES, CLONE_FS, CLONE_THREAD, CLONE_SYSVSEM say what is shared)
 * and hand it to another host thread; mark an exec (close-on-exec fds);
 * fetch the signals the kernel raised against the caller's task.
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

/* Host library (lkl/host). */
extern struct lkl_host_operations lkl_host_ops;
extern struct lkl_dev_blk_ops lkl_dev_blk_ops;
const char *lkl_strerror(int err);
int lkl_mount_dev(unsigned int disk_id, unsigned int part, const char *fs_type,
		  int flags, const char *opts, char *mnt_str,
		  unsigned int mnt_str_len);
int lkl_umount_dev(unsigned int disk_id, unsigned int part, int flags,
		   long timeout_ms);

/*
 * The asm-generic system call numbers the host library itself uses. The
 * build checks them against the kernel's generated table.
 */
#define LKL_NR_mknodat		33
#define LKL_NR_mkdirat		34
#define LKL_NR_unlinkat		35
#define LKL_NR_umount2		39
#define LKL_NR_mount		40
#define LKL_NR_nanosleep	101

#define LKL_AT_FDCWD		-100
#define LKL_AT_REMOVEDIR	0x200

#ifdef LKL_CHECK_SYSCALL_NUMBERS
_Static_assert(LKL_NR_mknodat == __NR_mknodat, "mknodat");
_Static_assert(LKL_NR_mkdirat == __NR_mkdirat, "mkdirat");
_Static_assert(LKL_NR_unlinkat == __NR_unlinkat, "unlinkat");
_Static_assert(LKL_NR_umount2 == __NR_umount2, "umount2");
_Static_assert(LKL_NR_mount == __NR_mount, "mount");
_Static_assert(LKL_NR_nanosleep == __NR_nanosleep, "nanosleep");
#endif

#endif
