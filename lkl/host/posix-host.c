// SPDX-License-Identifier: GPL-2.0
/*
 * lkl_host_ops for POSIX hosts: pthreads, POSIX semaphores, mmap'd kernel
 * memory, clock_gettime, and one timer thread per kernel timer.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lkl_host.h"

_Static_assert(sizeof(jmp_buf) <= sizeof(struct lkl_jmp_buf),
	       "struct lkl_jmp_buf cannot hold the host's jmp_buf");
_Static_assert(sizeof(lkl_thread_t) >= sizeof(pthread_t),
	       "lkl_thread_t cannot hold a pthread_t");

struct lkl_sem {
	sem_t sem;
};

/* Kernel messages go to stderr only when LKL_DEBUG is set. */
static void host_print(const char *str, int len)
{
	static int verbose = -1;

	if (verbose < 0)
		verbose = getenv("LKL_DEBUG") != NULL;
	if (verbose && write(STDERR_FILENO, str, len) < 0)
		return;
}

static void host_panic(void)
{
	static const char msg[] = "lkl: the in-process kernel panicked\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		abort();
	abort();
}

static struct lkl_sem *host_sem_alloc(int count)
{
	struct lkl_sem *s = malloc(sizeof(*s));

	if (s && sem_init(&s->sem, 0, count) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static void host_sem_free(struct lkl_sem *s)
{
	sem_destroy(&s->sem);
	free(s);
}

static void host_sem_up(struct lkl_sem *s)
{
	sem_post(&s->sem);
}

static void host_sem_down(struct lkl_sem *s)
{
	while (sem_wait(&s->sem) != 0 && errno == EINTR)
		;
}

struct thread_start {
	void (*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start start = *(struct thread_start *)p;

	free(p);
	start.fn(start.arg);
	return NULL;
}

static lkl_thread_t host_thread_create(void (*fn)(void *), void *arg)
{
	struct thread_start *start = malloc(sizeof(*start));
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	if (!start)
		return 0;
	start->fn = fn;
	start->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Kernel code runs on these stacks; deep paths (ext4, block) need room. */
	pthread_attr_setstacksize(&attr, 1 << 20);
	err = pthread_create(&thread, &attr, thread_trampoline, start);
	pthread_attr_destroy(&attr);
	if (err) {
		free(start);
		return 0;
	}
	return (lkl_thread_t)thread;
}

static lkl_thread_t host_thread_self(void)
{
	return (lkl_thread_t)pthread_self();
}

struct lkl_tls_key {
	pthread_key_t key;
};

static struct lkl_tls_key *host_tls_alloc(void (*destructor)(void *))
{
	struct lkl_tls_key *k = malloc(sizeof(*k));

	if (k && pthread_key_create(&k->key, destructor) != 0) {
		free(k);
		return NULL;
	}
	return k;
}

static void host_tls_free(struct lkl_tls_key *k)
{
	pthread_key_delete(k->key);
	free(k);
}

static int host_tls_set(struct lkl_tls_key *k, void *data)
{
	return pthread_setspecific(k->key, data) ? -1 : 0;
}

static void *host_tls_get(struct lkl_tls_key *k)
{
	return pthread_getspecific(k->key);
}

static void *host_mem_alloc(unsigned long size)
{
	return malloc(size);
}

static void host_mem_free(void *p)
{
	free(p);
}

/*
 * The block becomes the kernel's "physical" memory, and the page allocator's
 * setup walks every page block from physical address 0 up to its start: at
 * the usual mmap addresses (0x7f...) that walk alone costs tens of
 * milliseconds per boot. So a low address (from 4 GiB, clear of the program
 * and of 32-bit mappings) is tried first, without replacing any mapping.
 */
#define LOW_BLOCK_BASE (1UL << 32)
#define LOW_BLOCK_TRIES 16

static void *host_page_alloc(unsigned long size)
{
	const int prot = PROT_READ | PROT_WRITE;
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	unsigned long step = (size + (1UL << 30) - 1) & ~((1UL << 30) - 1);
	void *p;
	int i;

	for (i = 0; i < LOW_BLOCK_TRIES; i++) {
		void *want = (void *)(LOW_BLOCK_BASE + i * step);

		p = mmap(want, size, prot, flags | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == want)
			return p;
		if (p != MAP_FAILED)	/* a kernel that took it as a hint */
			munmap(p, size);
	}
	p = mmap(NULL, size, prot, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void host_page_free(void *addr, unsigned long size)
{
	munmap(addr, size);
}

static void host_get_random(void *buf, unsigned long len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		p += n;
		len -= n;
	}
}

static unsigned long long clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned long long host_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static unsigned long long host_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/*
 * A timer is a thread that sleeps until its deadline (0: disarmed) and
 * then calls fn; re-arming or cancelling just moves the deadline.
 */
struct host_timer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long long deadline;
	int stop;
	void (*fn)(void *);
	void *arg;
};

static void *timer_thread(void *p)
{
	struct host_timer *t = p;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		unsigned long long now = host_monotonic_ns();

		if (!t->deadline) {
			pthread_cond_wait(&t->cond, &t->lock);
		} else if (now < t->deadline) {
			struct timespec ts = {
				.tv_sec = t->deadline / 1000000000ULL,
				.tv_nsec = t->deadline % 1000000000ULL,
			};

			pthread_cond_timedwait(&t->cond, &t->lock, &ts);
		} else {
			t->deadline = 0;
			pthread_mutex_unlock(&t->lock);
			t->fn(t->arg);
			pthread_mutex_lock(&t->lock);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static void *host_timer_alloc(void (*fn)(void *), void *arg)
{
	struct host_timer *t = calloc(1, sizeof(*t));
	pthread_condattr_t cattr;

	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	if (pthread_create(&t->thread, NULL, timer_thread, t) != 0) {
		pthread_cond_destroy(&t->cond);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return NULL;
	}
	return t;
}

static void host_timer_set_oneshot(void *timer, unsigned long long delta_ns)
{
	struct host_timer *t = timer;

	pthread_mutex_lock(&t->lock);
	t->deadline = host_monotonic_ns() + (delta_ns ? delta_ns : 1);
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void host_timer_cancel(void *timer)
{
	struct host_timer *t = timer;

	pthread_mutex_lock(&t->lock);
	t->deadline = 0;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

static void host_timer_free(void *timer)
{
	struct host_timer *t = timer;

	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void host_jmp_buf_set(struct lkl_jmp_buf *jmpb, void (*fn)(void *),
			     void *arg)
{
	if (!_setjmp(*(jmp_buf *)jmpb->buf))
		fn(arg);
}

static void host_jmp_buf_longjmp(struct lkl_jmp_buf *jmpb, int val)
{
	_longjmp(*(jmp_buf *)jmpb->buf, val);
}

struct lkl_host_operations lkl_host_ops = {
	.print = host_print,
	.panic = host_panic,
	.sem_alloc = host_sem_alloc,
	.sem_free = host_sem_free,
	.sem_up = host_sem_up,
	.sem_down = host_sem_down,
	.thread_create = host_thread_create,
	.thread_self = host_thread_self,
	.tls_alloc = host_tls_alloc,
	.tls_free = host_tls_free,
	.tls_set = host_tls_set,
	.tls_get = host_tls_get,
	.mem_alloc = host_mem_alloc,
	.mem_free = host_mem_free,
	.page_alloc = host_page_alloc,
	.page_free = host_page_free,
	.get_random = host_get_random,
	.monotonic_ns = host_monotonic_ns,
	.realtime_ns = host_realtime_ns,
	.timer_alloc = host_timer_alloc,
	.timer_set_oneshot = host_timer_set_oneshot,
	.timer_cancel = host_timer_cancel,
	.timer_free = host_timer_free,
	.jmp_buf_set = host_jmp_buf_set,
	.jmp_buf_longjmp = host_jmp_buf_longjmp,
};
