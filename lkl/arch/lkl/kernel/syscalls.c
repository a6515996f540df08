// SPDX-License-Identifier: GPL-2.0
/*
 * System calls from the host.
 *
 * Each host thread that calls lkl_syscall() gets a kernel task of its own,
 * a thread of pid 1 (so all of them share one fd table, cwd and identity,
 * as the threads of one process do). The host thread hands its request to
 * that task and sleeps until the task has run it: the request is pushed on
 * a lock-free list and the syscall interrupt wakes the task, so host
 * threads never run kernel code themselves.
 */
#include <linux/syscalls.h>
#include <linux/task_work.h>
#include <linux/sched/task.h>
#include <linux/sched/signal.h>
#include <linux/interrupt.h>
#include <linux/list.h>
#include <linux/err.h>
#include <asm/host_ops.h>
#include <asm/syscalls.h>
#include "lkl.h"

typedef long (*syscall_fn_t)(long, long, long, long, long, long);

#undef __SYSCALL
#define __SYSCALL(nr, sym) [nr] = (syscall_fn_t)sym,
#define __SYSCALL_WITH_COMPAT(nr, native, compat) __SYSCALL(nr, native)

static const syscall_fn_t syscall_table[__NR_syscalls] = {
	[0 ... __NR_syscalls - 1] = (syscall_fn_t)sys_ni_syscall,
#include <asm/syscall_table_64.h>
};

/* One per host thread; host memory, so it outlives nothing it should not. */
struct lkl_request {
	struct lkl_sem *done;		/* posted when the request has run */
	struct task_struct *task;	/* the thread's kernel task, once it exists */
	long nr;
	long *params;
	long (*call)(void *);		/* a kernel function instead of a syscall */
	void *call_arg;
	long ret;
	int pending;			/* submitted and not yet completed */
	bool exit;			/* the host thread is gone: end the task */
	struct lkl_request *next;	/* on the submitted or unstarted list */
	struct list_head workers;	/* on the list of requests with a task */
};

/* Pushed by any host thread, drained by the syscall interrupt. */
static struct lkl_request *submitted;
/*
 * Kernel side, protected by the CPU with interrupts disabled: requests
 * whose task pid 1 has yet to create, and all requests that have a task.
 */
static struct lkl_request *unstarted;
static LIST_HEAD(worker_list);
static struct task_struct *lkl_init_task;
static struct lkl_tls_key *request_key;

static void complete_request(struct lkl_request *req, long ret)
{
	req->ret = ret;
	__atomic_store_n(&req->pending, 0, __ATOMIC_SEQ_CST);
	/* req may be freed by its host thread from here on */
	lkl_ops->sem_up(req->done);
}

static void submit_and_wait(struct lkl_request *req)
{
	struct lkl_request *head = __atomic_load_n(&submitted, __ATOMIC_SEQ_CST);

	__atomic_store_n(&req->pending, 1, __ATOMIC_SEQ_CST);
	do {
		req->next = head;
	} while (!__atomic_compare_exchange_n(&submitted, &head, req, false,
					      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	lkl_trigger_irq(LKL_SYSCALL_IRQ);
	lkl_ops->sem_down(req->done);
}

static irqreturn_t syscall_irq(int irq, void *dev_id)
{
	struct lkl_request *req, *next;

	req = __atomic_exchange_n(&submitted, NULL, __ATOMIC_SEQ_CST);
	for (; req; req = next) {
		next = req->next;
		if (req->task) {
			wake_up_process(req->task);
		} else {
			req->next = unstarted;
			unstarted = req;
			wake_up_process(lkl_init_task);
		}
	}
	return IRQ_HANDLED;
}

static long run_syscall(long nr, long *p)
{
	/* Halting is the host's business: lkl_sys_halt() does it properly. */
	if (nr == __NR_reboot)
		return -EPERM;
	if (nr < 0 || nr >= __NR_syscalls)
		return -ENOSYS;
	return syscall_table[nr](p[0], p[1], p[2], p[3], p[4], p[5]);
}

static void run_request(struct lkl_request *req)
{
	long ret;

	if (req->call)
		ret = req->call(req->call_arg);
	else
		ret = run_syscall(req->nr, req->params);

	/* What the return to user mode would do: deferred fput() and such. */
	clear_thread_flag(TIF_NOTIFY_RESUME);
	task_work_run();

	/* Restart codes must never reach the caller. */
	if (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK)
		ret = -EINTR;
	complete_request(req, ret);
}

static void wait_for_request(struct lkl_request *req)
{
	for (;;) {
		set_current_state(TASK_IDLE);
		if (__atomic_load_n(&req->pending, __ATOMIC_SEQ_CST))
			break;
		schedule();
	}
	__set_current_state(TASK_RUNNING);
}

static int syscall_worker(void *arg)
{
	struct lkl_request *req = arg;

	req->task = current;
	local_irq_disable();
	list_add(&req->workers, &worker_list);
	local_irq_enable();

	while (!req->exit) {
		run_request(req);
		wait_for_request(req);
	}

	local_irq_disable();
	list_del(&req->workers);
	local_irq_enable();
	complete_request(req, 0);
	return 0;
}

static struct lkl_request *pop_unstarted(void)
{
	struct lkl_request *req;

	local_irq_disable();
	req = unstarted;
	if (req)
		unstarted = req->next;
	else
		set_current_state(TASK_IDLE);
	local_irq_enable();
	return req;
}

static void request_destructor(void *data)
{
	struct lkl_request *req = data;

	if (req->task && READ_ONCE(lkl_state) == LKL_STATE_RUNNING) {
		req->exit = true;
		submit_and_wait(req);
	}
	lkl_ops->sem_free(req->done);
	lkl_ops->mem_free(req);
}

/*
 * Called from kernel_init() once the kernel is up, in place of exec'ing an
 * init program: pid 1 creates the tasks that serve host threads.
 */
void __noreturn lkl_init_task_main(void)
{
	int err;

	lkl_init_task = current;
	request_key = lkl_ops->tls_alloc(request_destructor);
	if (!request_key)
		panic("lkl: cannot allocate a host thread-local key\n");
	err = request_irq(LKL_SYSCALL_IRQ, syscall_irq, 0, "syscall", NULL);
	if (err)
		panic("lkl: cannot request the syscall irq: %d\n", err);

	lkl_boot_done();

	for (;;) {
		struct lkl_request *req = pop_unstarted();
		pid_t pid;

		if (!req) {
			schedule();
			task_work_run();
			continue;
		}
		pid = user_mode_thread(syscall_worker, req,
				       CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				       CLONE_THREAD | CLONE_SYSVSEM);
		if (pid < 0)
			complete_request(req, pid);
	}
}

static struct lkl_request *current_request(void)
{
	struct lkl_request *req = lkl_ops->tls_get(request_key);

	if (req)
		return req;
	req = lkl_ops->mem_alloc(sizeof(*req));
	if (!req)
		return ERR_PTR(-ENOMEM);
	memset(req, 0, sizeof(*req));
	req->done = lkl_ops->sem_alloc(0);
	if (!req->done || lkl_ops->tls_set(request_key, req)) {
		if (req->done)
			lkl_ops->sem_free(req->done);
		lkl_ops->mem_free(req);
		return ERR_PTR(-ENOMEM);
	}
	return req;
}

static long submit(long nr, long *params, long (*call)(void *), void *arg)
{
	static long no_params[6];
	struct lkl_request *req;

	if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING)
		return -ENODEV;
	req = current_request();
	if (IS_ERR(req))
		return PTR_ERR(req);
	req->nr = nr;
	req->params = params ? params : no_params;
	req->call = call;
	req->call_arg = arg;
	submit_and_wait(req);
	return req->ret;
}

long lkl_syscall(long nr, long *params)
{
	return submit(nr, params, NULL, NULL);
}

long lkl_kernel_call(long (*fn)(void *), void *arg)
{
	return submit(0, NULL, fn, arg);
}

/* At halt, on the idle task: nobody may stay blocked in lkl_syscall(). */
void lkl_fail_pending_syscalls(void)
{
	struct lkl_request *req, *next;

	req = __atomic_exchange_n(&submitted, NULL, __ATOMIC_SEQ_CST);
	for (; req; req = next) {
		next = req->next;
		if (!req->task)
			complete_request(req, -ESHUTDOWN);
	}
	for (req = unstarted; req; req = next) {
		next = req->next;
		complete_request(req, -ESHUTDOWN);
	}
	unstarted = NULL;
	list_for_each_entry(req, &worker_list, workers)
		if (__atomic_load_n(&req->pending, __ATOMIC_SEQ_CST))
			complete_request(req, -ESHUTDOWN);
}

void lkl_syscall_host_cleanup(void)
{
	if (request_key)
		lkl_ops->tls_free(request_key);
	request_key = NULL;
}
