// SPDX-License-Identifier: GPL-2.0
/*
 * Tasks as host threads.
 *
 * Every kernel task is backed by one host thread, created the first time
 * the scheduler switches to the task. A task that is not running sleeps on
 * its own host semaphore; __switch_to() wakes the next task's thread and
 * puts the previous one to sleep, so exactly one host thread runs kernel
 * code at any time: that hand-off is the port's only "CPU".
 */
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/sched/signal.h>
#include <asm/host_ops.h>
#include "lkl.h"

struct task_struct *lkl_current_task = &init_task;

/* Set once the kernel halts: threads woken after that leave at once. */
bool lkl_halted;

/*
 * Host threads ever started for tasks (including the boot thread), and a
 * semaphore each of them posts as the very last thing it does, so the
 * halt can wait until no host thread touches kernel memory any more.
 */
unsigned long lkl_threads_started;
struct lkl_sem *lkl_thread_exit_sem;

static void task_thread_exit(void)
{
	lkl_ops->sem_up(lkl_thread_exit_sem);
}

struct task_struct *__switch_to(struct task_struct *prev,
				struct task_struct *next)
{
	struct thread_struct *pt = &prev->thread;
	/* Read before waking next: a dead prev may be freed right after. */
	struct lkl_sem *prev_sem = pt->sched_sem;
	struct lkl_jmp_buf *exit_jb = pt->exit_jb;
	bool dead = READ_ONCE(prev->__state) == TASK_DEAD;

	next->thread.prev_sched = prev;
	lkl_current_task = next;

	if (!next->thread.started) {
		next->thread.started = true;
		lkl_threads_started++;
		if (!lkl_ops->thread_create(lkl_task_thread, next))
			panic("lkl: cannot create a host thread for %s\n",
			      next->comm);
	}
	lkl_ops->sem_up(next->thread.sched_sem);

	/* No kernel code may run on this thread from here on... */
	if (dead)
		lkl_ops->jmp_buf_longjmp(exit_jb, 1);

	lkl_ops->sem_down(prev_sem);

	/* ...until some task switches back to prev. */
	if (READ_ONCE(lkl_halted))
		lkl_ops->jmp_buf_longjmp(exit_jb, 1);

	return current->thread.prev_sched;
}

static void task_run(void *arg)
{
	struct task_struct *task = arg;
	int (*fn)(void *) = task->thread.fn;

	lkl_ops->sem_down(task->thread.sched_sem);
	if (READ_ONCE(lkl_halted))
		return;

	/* What ret_from_fork does on a real CPU: finish the switch. */
	schedule_tail(task->thread.prev_sched);
	fn(task->thread.fn_arg);
	/* Our task functions never return to a user mode: end the task. */
	do_exit(0);
}

/* Host thread body for every task except the boot (idle) task. */
void lkl_task_thread(void *arg)
{
	struct task_struct *task = arg;
	struct lkl_jmp_buf exit_jb;

	task->thread.exit_jb = &exit_jb;
	lkl_ops->jmp_buf_set(&exit_jb, task_run, task);
	task_thread_exit();
}

/* Body of the host thread that boots the kernel and then idles. */
void lkl_boot_thread(void *arg)
{
	struct lkl_jmp_buf exit_jb;

	init_task.thread.exit_jb = &exit_jb;
	lkl_ops->jmp_buf_set(&exit_jb, lkl_boot_main, NULL);
	task_thread_exit();
}

/*
 * The generic version copies the whole task, thread struct included: a fork
 * that then fails before copy_thread() would release the parent's host
 * semaphore with the child (arch_release_task_struct()). The child starts
 * with no host resources of its own instead.
 */
int arch_dup_task_struct(struct task_struct *dst, struct task_struct *src)
{
	*dst = *src;
	dst->thread.sched_sem = NULL;
	dst->thread.exit_jb = NULL;
	dst->thread.started = false;
	return 0;
}

int copy_thread(struct task_struct *p, const struct kernel_clone_args *args)
{
	/* Only kernel-started tasks: nothing here ever forks a user context. */
	if (!args->fn)
		return -EINVAL;

	p->thread.fn = args->fn;
	p->thread.fn_arg = args->fn_arg;
	p->thread.started = false;
	p->thread.exit_jb = NULL;
	p->thread.sched_sem = lkl_ops->sem_alloc(0);
	if (!p->thread.sched_sem)
		return -ENOMEM;
	return 0;
}

void arch_release_task_struct(struct task_struct *tsk)
{
	if (tsk->thread.sched_sem) {
		lkl_ops->sem_free(tsk->thread.sched_sem);
		tsk->thread.sched_sem = NULL;
	}
}

/*
 * Wakes every host thread still parked on a task so that it leaves; called
 * by the idle task once the kernel has stopped scheduling.
 */
void lkl_release_task_threads(void)
{
	struct task_struct *g, *t;

	WRITE_ONCE(lkl_halted, true);
	for_each_process_thread(g, t) {
		if (t == current || !t->thread.started || t->exit_state)
			continue;
		lkl_ops->sem_up(t->thread.sched_sem);
	}
}

void show_stack(struct task_struct *task, unsigned long *sp, const char *loglvl)
{
}
