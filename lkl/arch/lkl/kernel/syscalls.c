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
#include <linux/fdtable.h>
#include <linux/signal.h>
#include <linux/cred.h>
#include <linux/capability.h>
#include <linux/pid.h>
#include <linux/threads.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <asm/mmu_context.h>
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
	unsigned long signals;		/* raised against the task by its requests */
	/* Told at once of signals raised while the task waits for a request. */
	void (*signal_cb)(void *data, unsigned long mask);
	void *signal_data;
	int pending;			/* submitted and not yet completed */
	/*
	 * A call nobody waits for (lkl_task_call_async()): async_done(call_arg,
	 * ret) is called on the task once it is over, instead of posting done.
	 */
	bool async;
	void (*async_done)(void *arg, long ret);
	/*
	 * On the submitted list. A task that is awake may pick a new request up
	 * before the interrupt has drained the list (it checks pending), so a
	 * request must never be pushed while it is still on the list.
	 */
	int queued;
	bool exit;			/* the host thread is gone: end the task */
	/*
	 * Created with a chosen pid: the task started with a capability its
	 * parent lent it for that, and ends up with the parent's own set.
	 */
	bool restore_caps;
	kernel_cap_t caps;
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
/* On a task's own host thread: its request (see lkl_task_syscall()). */
static struct lkl_tls_key *running_key;

static void complete_request(struct lkl_request *req, long ret)
{
	req->ret = ret;
	__atomic_store_n(&req->pending, 0, __ATOMIC_SEQ_CST);
	/* req may be freed by its host thread from here on */
	lkl_ops->sem_up(req->done);
}

static void submit_request(struct lkl_request *req)
{
	struct lkl_request *head = __atomic_load_n(&submitted, __ATOMIC_SEQ_CST);

	__atomic_store_n(&req->pending, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_exchange_n(&req->queued, 1, __ATOMIC_SEQ_CST)) {
		do {
			req->next = head;
		} while (!__atomic_compare_exchange_n(&submitted, &head, req,
						      false, __ATOMIC_SEQ_CST,
						      __ATOMIC_SEQ_CST));
	}
	lkl_trigger_irq(LKL_SYSCALL_IRQ);
}

static void submit_and_wait(struct lkl_request *req)
{
	submit_request(req);
	lkl_ops->sem_down(req->done);
}

static irqreturn_t syscall_irq(int irq, void *dev_id)
{
	struct lkl_request *req, *next;

	req = __atomic_exchange_n(&submitted, NULL, __ATOMIC_SEQ_CST);
	for (; req; req = next) {
		next = req->next;
		__atomic_store_n(&req->queued, 0, __ATOMIC_SEQ_CST);
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

/*
 * Signals the kernel raises against a task (SIGPIPE from a pipe, SIGTTOU or
 * SIGINT from a terminal, ...) are meant for the host program the task
 * serves: take them off the task and let the host fetch them with
 * lkl_pending_signals(). Every handler is a placeholder (see
 * lkl_init_task_main()), so the signals only interrupt sleeps here.
 */
/*
 * Sent by lkl_task_interrupt() only to cut a task's wait short: it is
 * flushed with the others but never reported to the host.
 */
#define LKL_INTERRUPT_SIGNAL _NSIG

static void collect_signals(struct lkl_request *req)
{
	struct sighand_struct *sighand = current->sighand;
	unsigned long mask;

	if (!signal_pending(current))
		return;
	spin_lock_irq(&sighand->siglock);
	mask = current->pending.signal.sig[0] |
	       current->signal->shared_pending.signal.sig[0];
	flush_sigqueue(&current->pending);
	flush_sigqueue(&current->signal->shared_pending);
	recalc_sigpending();
	spin_unlock_irq(&sighand->siglock);
	req->signals |= mask & ~(1UL << (LKL_INTERRUPT_SIGNAL - 1));
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

	/*
	 * Restart codes (-ERESTARTSYS and co.) are left for the caller:
	 * lkl_task_syscall() returns them, the others turn them into -EINTR.
	 */
	collect_signals(req);
	if (req->async) {
		void (*done)(void *, long) = req->async_done;
		void *arg = req->call_arg;

		req->async = false;
		req->ret = ret;
		/* Free for the next request before the caller hears of this one. */
		__atomic_store_n(&req->pending, 0, __ATOMIC_SEQ_CST);
		done(arg, ret);
		return;
	}
	complete_request(req, ret);
}

/*
 * Waits for the next request. The sleep is interruptible so that a signal
 * raised against an idle task (SIGINT from its terminal, SIGPIPE, ...)
 * reaches the host at once through the task's signal callback, instead of
 * waiting for the task's next request.
 */
static void wait_for_request(struct lkl_request *req)
{
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (__atomic_load_n(&req->pending, __ATOMIC_SEQ_CST))
			break;
		if (signal_pending(current)) {
			__set_current_state(TASK_RUNNING);
			collect_signals(req);
			if (req->signal_cb && req->signals) {
				req->signal_cb(req->signal_data, req->signals);
				req->signals = 0;
			}
			continue;
		}
		schedule();
	}
	__set_current_state(TASK_RUNNING);
}

static int syscall_worker(void *arg)
{
	struct lkl_request *req = arg;

	req->task = current;
	lkl_ops->tls_set(running_key, req);
	if (req->restore_caps) {
		struct cred *cred = prepare_creds();

		if (cred) {
			cred->cap_effective = req->caps;
			commit_creds(cred);
		}
		req->restore_caps = false;
	}
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

/*
 * Starts the kernel task for req as a child (or thread, with CLONE_THREAD)
 * of the current task, inheriting what fork() would. Only sharing flags
 * and CLONE_NEWPID (the first task of a container's pid namespace) are
 * honoured: the new task always runs syscall_worker().
 */
static pid_t spawn_worker(struct lkl_request *req, unsigned long flags,
			  pid_t *pid)
{
	struct kernel_clone_args args = {
		.set_tid = pid,
		.set_tid_size = pid ? 1 : 0,
		.flags = (flags & (CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				   CLONE_THREAD | CLONE_SYSVSEM |
				   CLONE_NEWPID)) |
			 CLONE_VM | CLONE_UNTRACED,
		.exit_signal = (flags & CLONE_THREAD) ? 0 : SIGCHLD,
		.fn = syscall_worker,
		.fn_arg = req,
	};

	if (args.flags & CLONE_THREAD)
		args.flags |= CLONE_SIGHAND;
	return kernel_clone(&args);
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
 * The tasks serving the host never run signal handlers, but a signal with
 * its default action could kill them (SIGPIPE) and an ignored one would not
 * interrupt a sleep. So every catchable signal gets a placeholder handler,
 * which makes signals wake the task and stay queued for collect_signals();
 * SIGCHLD is ignored so that ended tasks are reaped at once. Children
 * inherit these actions from pid 1.
 */
#define LKL_PLACEHOLDER_HANDLER ((__sighandler_t)2)

static void init_signal_actions(void)
{
	struct k_sigaction *ka = current->sighand->action;
	int sig;

	spin_lock_irq(&current->sighand->siglock);
	for (sig = 1; sig <= _NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		ka[sig - 1].sa.sa_handler = sig == SIGCHLD ?
			SIG_IGN : LKL_PLACEHOLDER_HANDLER;
		ka[sig - 1].sa.sa_flags = 0;
		sigemptyset(&ka[sig - 1].sa.sa_mask);
	}
	spin_unlock_irq(&current->sighand->siglock);
}

/*
 * Called from kernel_init() once the kernel is up, in place of exec'ing an
 * init program: pid 1 creates the tasks that serve host threads.
 */
void __noreturn lkl_init_task_main(void)
{
	int err;

	lkl_init_task = current;
	init_signal_actions();
	/* Room for any host pid: tasks get their host process's pid. */
	pid_max = PID_MAX_LIMIT;
	request_key = lkl_ops->tls_alloc(request_destructor);
	running_key = lkl_ops->tls_alloc(NULL);
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
		pid = spawn_worker(req, CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
					CLONE_THREAD | CLONE_SYSVSEM, NULL);
		if (pid < 0)
			complete_request(req, pid);
	}
}

struct exec_args {
	const char *name;	/* the task's new name, or NULL */
	const char *args;	/* NUL-terminated arguments, back to back */
	unsigned long args_len;
	const char *env;	/* NUL-terminated environment strings, back to back */
	unsigned long env_len;
};

static long exec_call(void *arg);
static long call_on(struct lkl_request *req, long (*fn)(void *), void *arg);

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

static long restart_to_eintr(long ret)
{
	if (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK)
		return -EINTR;
	return ret;
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
	return restart_to_eintr(req->ret);
}

long lkl_syscall(long nr, long *params)
{
	return submit(nr, params, NULL, NULL);
}

/*
 * A system call on a given task (from lkl_task_spawn()) rather than on the
 * calling thread's own; any host thread may call it, one at a time per task.
 * The task's pending signals are returned through *signals, if not NULL.
 * A call cut short by a signal returns its restart code (-ERESTARTSYS,
 * -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK): the caller
 * decides, as the host does for its own calls, whether it restarts.
 */
long lkl_task_syscall(void *handle, long nr, long *params,
		      unsigned long *signals)
{
	static long no_params[6];
	struct lkl_request *req = handle;

	if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING)
		return -ENODEV;
	if (!req || !req->task)
		return -EINVAL;
	if (lkl_ops->tls_get(running_key) == req) {
		/* From a call running on the task itself: no hand-off. */
		long ret = run_syscall(nr, params ? params : no_params);

		clear_thread_flag(TIF_NOTIFY_RESUME);
		task_work_run();
		collect_signals(req);
		if (signals) {
			*signals = req->signals;
			req->signals = 0;
		}
		return ret;
	}
	req->nr = nr;
	req->params = params ? params : no_params;
	req->call = NULL;
	submit_and_wait(req);
	if (signals) {
		*signals = req->signals;
		req->signals = 0;
	}
	return req->ret;
}

/*
 * Runs fn(arg) on the task behind handle, in kernel context on the task's
 * own host thread, without waiting: done(arg, ret) is called there once it
 * is over and the task takes requests again. lkl_task_syscall() on the same
 * task from fn is a plain call, with no hand-off between host threads.
 * -EBUSY while the task serves another request.
 */
long lkl_task_call_async(void *handle, long (*fn)(void *),
			 void (*done)(void *, long), void *arg)
{
	struct lkl_request *req = handle;

	if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING)
		return -ENODEV;
	if (!req || !req->task || !fn || !done)
		return -EINVAL;
	if (__atomic_load_n(&req->pending, __ATOMIC_SEQ_CST))
		return -EBUSY;
	req->nr = 0;
	req->call = fn;
	req->call_arg = arg;
	req->async_done = done;
	req->async = true;
	submit_request(req);
	return 0;
}

/*
 * Has cb(data, mask) called, on a kernel thread, with the signals raised
 * against the task while it is idle. cb must not call into the kernel.
 */
int lkl_task_set_signal_callback(void *handle,
				 void (*cb)(void *data, unsigned long mask),
				 void *data)
{
	struct lkl_request *req = handle;

	if (!req || !req->task)
		return -EINVAL;
	req->signal_data = data;
	__atomic_store_n(&req->signal_cb, cb, __ATOMIC_SEQ_CST);
	return 0;
}

static long interrupt_call(void *arg)
{
	struct lkl_request *req = arg;
	struct task_struct *task = READ_ONCE(req->task);

	if (task)
		send_sig(LKL_INTERRUPT_SIGNAL, task, 1);
	return 0;
}

/*
 * Cuts short the interruptible wait of the call the task is serving, as a
 * signal would (the call returns a restart code); a task between calls
 * just drops it. Any host thread may call it, also while another thread is
 * in lkl_task_syscall() on the task.
 */
long lkl_task_interrupt(void *handle)
{
	struct lkl_request *req = handle;

	if (!req || !req->task)
		return -EINVAL;
	return submit(0, NULL, interrupt_call, req);
}

/*
 * lkl_task_exec_on() that also records the program's arguments and
 * environment (as /proc/PID/cmdline and environ show them: NUL-terminated
 * strings back to back).
 */
long lkl_task_exec_with(void *handle, const char *name, const char *args,
			unsigned long args_len, const char *env,
			unsigned long env_len)
{
	struct exec_args ea = {
		.name = name, .args = args, .args_len = args_len,
		.env = env, .env_len = env_len,
	};

	return restart_to_eintr(call_on(handle, exec_call, &ea));
}

/* lkl_task_exec() for a given task, naming it after the program (if not NULL). */
long lkl_task_exec_on(void *handle, const char *name)
{
	return lkl_task_exec_with(handle, name, NULL, 0, NULL, 0);
}

long lkl_kernel_call(long (*fn)(void *), void *arg)
{
	return submit(0, NULL, fn, arg);
}

static long noop_call(void *arg)
{
	return 0;
}

struct spawn_args {
	struct lkl_request *child;
	unsigned long flags;
	pid_t pid;		/* the new task's pid, or 0 for any */
};

/*
 * Choosing a pid takes CAP_CHECKPOINT_RESTORE, which the parent (a
 * container's process, often unprivileged) may lack: it is lent for the
 * fork only, and the child drops it again as it starts (restore_caps).
 */
static pid_t spawn_with_pid(struct spawn_args *sa)
{
	const struct cred *saved;
	struct cred *lent = prepare_creds();
	pid_t pid;

	if (!lent)
		return -ENOMEM;
	sa->child->caps = current_cred()->cap_effective;
	sa->child->restore_caps = true;
	cap_raise(lent->cap_effective, CAP_CHECKPOINT_RESTORE);
	saved = override_creds(lent);
	pid = spawn_worker(sa->child, sa->flags, &sa->pid);
	revert_creds(saved);
	put_cred(lent);
	return pid;
}

static long spawn_call(void *arg)
{
	struct spawn_args *sa = arg;
	pid_t pid = -EINVAL;

	if (sa->pid > 0)
		pid = spawn_with_pid(sa);
	/* Taken already (or out of range): any pid will do. */
	if (pid == -EEXIST || pid == -EINVAL) {
		sa->child->restore_caps = false;
		pid = spawn_worker(sa->child, sa->flags, NULL);
	}
	return pid < 0 ? pid : 0;
}

/*
 * Forks the calling host thread's kernel task: the new task gets a copy of
 * (or, per CLONE_FILES / CLONE_FS / CLONE_THREAD, shares) its file table,
 * root, cwd, umask and credentials, exactly as fork() or clone() would.
 * Returns a handle that another host thread takes over with
 * lkl_task_adopt(), or NULL with *err set.
 */
/* Runs fn(arg) on req's task; the caller owns req for the duration. */
static long call_on(struct lkl_request *req, long (*fn)(void *), void *arg)
{
	if (READ_ONCE(lkl_state) != LKL_STATE_RUNNING)
		return -ENODEV;
	if (!req || !req->task)
		return -EINVAL;
	req->call = fn;
	req->call_arg = arg;
	submit_and_wait(req);
	return req->ret;
}

static void *spawn_on(struct lkl_request *parent, unsigned long flags,
		      pid_t pid, long *err);

void *lkl_task_spawn(unsigned long flags, long *err)
{
	struct lkl_request *self = current_request();

	if (IS_ERR(self)) {
		*err = PTR_ERR(self);
		return NULL;
	}
	/* The thread's own task may not exist yet: a no-op call creates it. */
	if (!self->task) {
		long ret = lkl_kernel_call(noop_call, NULL);

		if (ret) {
			*err = ret;
			return NULL;
		}
	}
	return spawn_on(self, flags, 0, err);
}

/* lkl_task_spawn() for a given task. */
void *lkl_task_spawn_from(void *parent, unsigned long flags, long *err)
{
	return spawn_on(parent, flags, 0, err);
}

/*
 * lkl_task_spawn_from() with the new task's pid chosen (kbox gives a task
 * its host process's pid, so that /proc inside agrees with getpid()); a pid
 * taken already in the kernel falls back to any free one.
 */
void *lkl_task_spawn_as(void *parent, unsigned long flags, int pid, long *err)
{
	return spawn_on(parent, flags, pid, err);
}

static void *spawn_on(struct lkl_request *parent, unsigned long flags,
		      pid_t pid, long *err)
{
	struct spawn_args sa = { .flags = flags, .pid = pid };
	struct lkl_request *child;
	long ret;

	child = lkl_ops->mem_alloc(sizeof(*child));
	if (!child) {
		*err = -ENOMEM;
		return NULL;
	}
	memset(child, 0, sizeof(*child));
	child->done = lkl_ops->sem_alloc(0);
	if (!child->done) {
		lkl_ops->mem_free(child);
		*err = -ENOMEM;
		return NULL;
	}
	/* The new task's first request is a no-op that proves it is up. */
	child->call = noop_call;
	child->pending = 1;
	sa.child = child;
	ret = restart_to_eintr(call_on(parent, spawn_call, &sa));
	if (ret) {
		lkl_ops->sem_free(child->done);
		lkl_ops->mem_free(child);
		*err = ret;
		return NULL;
	}
	lkl_ops->sem_down(child->done);
	*err = 0;
	return child;
}

/* Makes the calling host thread the one served by a spawned task. */
int lkl_task_adopt(void *handle)
{
	struct lkl_request *req = handle;

	if (!req || !req->task)
		return -EINVAL;
	if (lkl_ops->tls_get(request_key))
		return -EBUSY;
	return lkl_ops->tls_set(request_key, req) ? -ENOMEM : 0;
}

/*
 * Drops a spawned task nobody adopted (or one whose host thread will not
 * make further calls): the task exits and the handle is freed.
 */
void lkl_task_release(void *handle)
{
	request_destructor(handle);
}

/*
 * Gives the task an address space of its own holding only the program's
 * argument and environment strings, as exec lays them out, so that
 * /proc/PID/cmdline and /proc/PID/environ show them (the program itself runs
 * on the host). Forks share it (CLONE_VM) until their own exec, as in Linux.
 */
static int set_exec_strings(const struct exec_args *ea)
{
	unsigned long len = ea->args_len + ea->env_len;
	struct mm_struct *mm, *old_mm, *active_mm;
	unsigned long addr;

	if (!ea->args_len)
		return 0;
	mm = mm_alloc();
	if (!mm)
		return -ENOMEM;
	/* What exec does to switch to a new address space. */
	task_lock(current);
	local_irq_disable();
	old_mm = current->mm;
	active_mm = current->active_mm;
	current->active_mm = mm;
	current->mm = mm;
	local_irq_enable();
	activate_mm(active_mm, mm);
	task_unlock(current);
	if (old_mm)
		mmput(old_mm);
	else
		mmdrop_lazy_tlb(active_mm);

	addr = vm_mmap(NULL, 0, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(addr))
		return (int)addr;
	memcpy((void *)addr, ea->args, ea->args_len);
	memcpy((void *)(addr + ea->args_len), ea->env, ea->env_len);
	spin_lock(&mm->arg_lock);
	mm->arg_start = addr;
	mm->arg_end = addr + ea->args_len;
	mm->env_start = mm->arg_end;
	mm->env_end = mm->env_start + ea->env_len;
	spin_unlock(&mm->arg_lock);
	return 0;
}

static long exec_call(void *arg)
{
	const struct exec_args *ea = arg;
	int err = unshare_files();

	if (err)
		return err;
	do_close_on_exec(current->files);
	if (!ea)
		return 0;
	/* What /proc/PID/comm and ps show: the program's name, as exec sets it. */
	if (ea->name)
		set_task_comm(current, ea->name);
	return set_exec_strings(ea);
}

/* What a successful execve() does to the task: close-on-exec descriptors. */
long lkl_task_exec(void)
{
	return lkl_kernel_call(exec_call, NULL);
}

/* Signals raised against the calling thread's task since the last call. */
unsigned long lkl_pending_signals(void)
{
	struct lkl_request *req;
	unsigned long mask;

	if (!request_key)
		return 0;
	req = lkl_ops->tls_get(request_key);
	if (!req)
		return 0;
	mask = req->signals;
	req->signals = 0;
	return mask;
}

/* At halt, on the idle task: nobody may stay blocked in lkl_syscall(). */
void lkl_fail_pending_syscalls(void)
{
	struct lkl_request *req, *next;

	req = __atomic_exchange_n(&submitted, NULL, __ATOMIC_SEQ_CST);
	for (; req; req = next) {
		next = req->next;
		__atomic_store_n(&req->queued, 0, __ATOMIC_SEQ_CST);
		if (!req->task)
			complete_request(req, -ESHUTDOWN);
	}
	for (req = unstarted; req; req = next) {
		next = req->next;
		complete_request(req, -ESHUTDOWN);
	}
	unstarted = NULL;
	/* _safe: an async caller may free its request from async_done(). */
	list_for_each_entry_safe(req, next, &worker_list, workers) {
		if (!__atomic_load_n(&req->pending, __ATOMIC_SEQ_CST))
			continue;
		if (req->async) {
			req->async = false;
			__atomic_store_n(&req->pending, 0, __ATOMIC_SEQ_CST);
			req->async_done(req->call_arg, -ESHUTDOWN);
		} else {
			complete_request(req, -ESHUTDOWN);
		}
	}
}

void lkl_syscall_host_cleanup(void)
{
	if (request_key)
		lkl_ops->tls_free(request_key);
	request_key = NULL;
	if (running_key)
		lkl_ops->tls_free(running_key);
	running_key = NULL;
}
