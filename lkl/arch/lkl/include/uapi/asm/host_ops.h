/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef _UAPI_ASM_LKL_HOST_OPS_H
#define _UAPI_ASM_LKL_HOST_OPS_H

/*
 * The contract between the kernel and the host library that runs it.
 *
 * The kernel never calls the C library: everything it needs from the host
 * process (threads, semaphores, memory, clocks, timers, the console) goes
 * through this table, which the host library fills in (lkl_host_ops) and
 * the application hands to lkl_init(). This header is included both by the
 * kernel and by the host library, so it uses only basic C types.
 */

struct lkl_sem;
struct lkl_tls_key;
typedef unsigned long lkl_thread_t;

/* Large enough for the host's jmp_buf (glibc x86_64: 200 bytes). */
struct lkl_jmp_buf {
	unsigned long buf[32];
};

struct lkl_host_operations {
	/* Console output; may be NULL to drop kernel messages. */
	void (*print)(const char *str, int len);
	/* Called once the kernel has panicked; must not return. */
	void (*panic)(void);

	/* Counting semaphores: the only blocking primitive the kernel uses. */
	struct lkl_sem *(*sem_alloc)(int count);
	void (*sem_free)(struct lkl_sem *sem);
	void (*sem_up)(struct lkl_sem *sem);
	void (*sem_down)(struct lkl_sem *sem);

	/* Detached host threads; 0 means the thread could not be created. */
	lkl_thread_t (*thread_create)(void (*fn)(void *), void *arg);
	lkl_thread_t (*thread_self)(void);

	/* Thread-local storage; the destructor runs when a thread exits. */
	struct lkl_tls_key *(*tls_alloc)(void (*destructor)(void *));
	void (*tls_free)(struct lkl_tls_key *key);
	int (*tls_set)(struct lkl_tls_key *key, void *data);
	void *(*tls_get)(struct lkl_tls_key *key);

	/* Small host allocations, and the kernel's physical memory. */
	void *(*mem_alloc)(unsigned long size);
	void (*mem_free)(void *ptr);
	void *(*page_alloc)(unsigned long size);
	void (*page_free)(void *addr, unsigned long size);

	/* Fills buf with len random bytes from the host (seeds the kernel's RNG). */
	void (*get_random)(void *buf, unsigned long len);

	/* Clocks, in nanoseconds. */
	unsigned long long (*monotonic_ns)(void);
	unsigned long long (*realtime_ns)(void);

	/* One-shot timers that call fn(arg) from a host thread when they fire. */
	void *(*timer_alloc)(void (*fn)(void *), void *arg);
	void (*timer_set_oneshot)(void *timer, unsigned long long delta_ns);
	void (*timer_cancel)(void *timer);
	void (*timer_free)(void *timer);

	/*
	 * Runs fn(arg) with a jump point set in jmpb; jmp_buf_longjmp(jmpb)
	 * from fn or anything it calls returns from jmp_buf_set. Used to leave
	 * a host thread's kernel frames when its task dies or the kernel halts.
	 */
	void (*jmp_buf_set)(struct lkl_jmp_buf *jmpb, void (*fn)(void *), void *arg);
	void (*jmp_buf_longjmp)(struct lkl_jmp_buf *jmpb, int val);
};

/*
 * Block devices. A disk is a host object (usually a file descriptor) that
 * the host library serves through lkl_dev_blk_ops; the kernel copies the
 * struct in lkl_disk_add(), so the caller's copy may go away afterwards.
 */
struct lkl_dev_blk_ops;

struct lkl_disk {
	void *dev;			/* set by lkl_disk_add(): kernel-side state */
	int fd;				/* host file descriptor of the image */
	struct lkl_dev_blk_ops *ops;
};

#define LKL_BLK_REQ_READ	0
#define LKL_BLK_REQ_WRITE	1
#define LKL_BLK_REQ_FLUSH	2

struct lkl_blk_seg {
	void *base;
	unsigned long len;
};

struct lkl_blk_req {
	unsigned int type;
	unsigned int count;		/* number of segments */
	unsigned long long sector;	/* in 512-byte units */
	struct lkl_blk_seg *segs;
};

struct lkl_dev_blk_ops {
	/* Size of the disk in bytes; 0 or a negative errno. */
	int (*get_capacity)(struct lkl_disk *disk, unsigned long long *bytes);
	/* Serves one request synchronously; 0 or a negative errno. */
	int (*request)(struct lkl_disk *disk, struct lkl_blk_req *req);
};

#endif
