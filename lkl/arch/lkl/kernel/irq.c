// SPDX-License-Identifier: GPL-2.0
/*
 * Interrupts.
 *
 * Any host thread may raise an interrupt with lkl_trigger_irq(): it only
 * sets a bit and wakes the idle task, never runs kernel code itself. The
 * handlers run on whichever task holds the CPU, the next time it enables
 * interrupts (or when the idle task wakes up), exactly where a real CPU
 * would take a pending interrupt.
 */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/hardirq.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <asm/host_ops.h>
#include "lkl.h"

static unsigned long irqs_pending;	/* bit per irq; host-atomic */
static unsigned long irqs_enabled;	/* only the CPU holder touches it */
static struct lkl_sem *idle_sem;

int lkl_trigger_irq(int irq)
{
	if (irq <= 0 || irq >= NR_IRQS)
		return -EINVAL;
	__atomic_fetch_or(&irqs_pending, 1UL << irq, __ATOMIC_SEQ_CST);
	lkl_wake_idle();
	return 0;
}

void lkl_wake_idle(void)
{
	lkl_ops->sem_up(idle_sem);
}

static bool irq_pending(void)
{
	return __atomic_load_n(&irqs_pending, __ATOMIC_SEQ_CST) != 0;
}

/* Runs the pending handlers; called with interrupts disabled. */
void lkl_run_pending_irqs(void)
{
	unsigned long pending;

	while ((pending = __atomic_exchange_n(&irqs_pending, 0,
					      __ATOMIC_SEQ_CST))) {
		while (pending) {
			int irq = __ffs(pending);

			pending &= ~(1UL << irq);
			irq_enter();
			generic_handle_irq(irq);
			irq_exit();
		}
	}
}

unsigned long arch_local_save_flags(void)
{
	return irqs_enabled;
}

void arch_local_irq_restore(unsigned long flags)
{
	/*
	 * Enabling interrupts is where pending ones are taken. Handlers run
	 * with interrupts still disabled, and softirqs (which enable them in
	 * interrupt context) must not recurse here.
	 */
	if (flags == ARCH_IRQ_ENABLED && irqs_enabled == ARCH_IRQ_DISABLED &&
	    !in_interrupt() && irq_pending())
		lkl_run_pending_irqs();
	irqs_enabled = flags;
}

void lkl_cpu_relax(void)
{
	unsigned long flags;

	if (in_interrupt() || !irq_pending())
		return;
	local_irq_save(flags);
	if (flags == ARCH_IRQ_ENABLED)
		lkl_run_pending_irqs();
	local_irq_restore(flags);
}

/* Called with interrupts disabled when nothing is runnable. */
void arch_cpu_idle(void)
{
	if (READ_ONCE(lkl_halt_requested))
		lkl_halt_cpu();
	/*
	 * A counting semaphore: a wake-up posted between the check above and
	 * here is not lost, it only makes the wait return at once.
	 */
	if (!irq_pending())
		lkl_ops->sem_down(idle_sem);
}

void __init init_IRQ(void)
{
	int i;

	for (i = 0; i < NR_IRQS; i++)
		irq_set_chip_and_handler(i, &dummy_irq_chip, handle_simple_irq);
}

int arch_show_interrupts(struct seq_file *p, int prec)
{
	return 0;
}

int lkl_irq_host_init(void)
{
	idle_sem = lkl_ops->sem_alloc(0);
	return idle_sem ? 0 : -ENOMEM;
}

void lkl_irq_host_cleanup(void)
{
	if (idle_sem)
		lkl_ops->sem_free(idle_sem);
	idle_sem = NULL;
}
