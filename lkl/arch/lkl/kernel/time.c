// SPDX-License-Identifier: GPL-2.0
/*
 * Time: a clocksource that reads the host's monotonic clock, a one-shot
 * clock event device backed by a host timer whose expiry raises the timer
 * interrupt, and the wall clock taken from the host at boot.
 */
#include <linux/clocksource.h>
#include <linux/clockchips.h>
#include <linux/interrupt.h>
#include <linux/delay.h>
#include <linux/sched/clock.h>
#include <linux/timekeeping.h>
#include <asm/host_ops.h>
#include "lkl.h"

static void *host_timer;
static u64 boot_ns;

static u64 lkl_clock_read(struct clocksource *cs)
{
	return lkl_ops->monotonic_ns();
}

static struct clocksource lkl_clocksource = {
	.name	= "lkl",
	.rating	= 400,
	.read	= lkl_clock_read,
	.mask	= CLOCKSOURCE_MASK(64),
	.flags	= CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_VALID_FOR_HRES,
};

static int lkl_timer_next(unsigned long delta, struct clock_event_device *evt)
{
	lkl_ops->timer_set_oneshot(host_timer, delta);
	return 0;
}

static int lkl_timer_shutdown(struct clock_event_device *evt)
{
	lkl_ops->timer_cancel(host_timer);
	return 0;
}

static int lkl_timer_oneshot(struct clock_event_device *evt)
{
	return 0;
}

static struct clock_event_device lkl_clockevent = {
	.name			= "lkl",
	.features		= CLOCK_EVT_FEAT_ONESHOT,
	.set_next_event		= lkl_timer_next,
	.set_state_shutdown	= lkl_timer_shutdown,
	.set_state_oneshot	= lkl_timer_oneshot,
	.set_state_oneshot_stopped = lkl_timer_shutdown,
	.rating			= 400,
	.irq			= LKL_TIMER_IRQ,
};

static irqreturn_t lkl_timer_irq(int irq, void *dev_id)
{
	struct clock_event_device *evt = dev_id;

	evt->event_handler(evt);
	return IRQ_HANDLED;
}

/* Host timer callback: runs on a host thread, so it may only raise the irq. */
static void lkl_timer_fired(void *arg)
{
	lkl_trigger_irq(LKL_TIMER_IRQ);
}

void __init time_init(void)
{
	int err;

	host_timer = lkl_ops->timer_alloc(lkl_timer_fired, NULL);
	if (!host_timer)
		panic("lkl: cannot allocate the host timer\n");

	err = request_irq(LKL_TIMER_IRQ, lkl_timer_irq, IRQF_TIMER, "timer",
			  &lkl_clockevent);
	if (err)
		panic("lkl: cannot request the timer irq: %d\n", err);

	clocksource_register_hz(&lkl_clocksource, NSEC_PER_SEC);

	lkl_clockevent.cpumask = cpumask_of(0);
	clockevents_config_and_register(&lkl_clockevent, NSEC_PER_SEC,
					1000, ULONG_MAX);
}

void lkl_time_shutdown(void)
{
	if (host_timer)
		lkl_ops->timer_free(host_timer);
	host_timer = NULL;
}

/* The wall clock starts where the host's is. */
void read_persistent_clock64(struct timespec64 *ts)
{
	*ts = ns_to_timespec64(lkl_ops->realtime_ns());
}

unsigned long long sched_clock(void)
{
	if (!boot_ns)
		boot_ns = lkl_ops->monotonic_ns();
	return lkl_ops->monotonic_ns() - boot_ns;
}

/*
 * Delays wait on the host clock. There is no loop to calibrate, and a
 * calibration that waits for timer ticks would never see one here.
 */
unsigned long calibrate_delay_is_known(void)
{
	return 1000000000UL / HZ;
}

void __delay(unsigned long loops)
{
	__ndelay(loops);
}

void __ndelay(unsigned long nsecs)
{
	u64 end = lkl_ops->monotonic_ns() + nsecs;

	while (lkl_ops->monotonic_ns() < end)
		;
}

void __udelay(unsigned long usecs)
{
	__ndelay(usecs * NSEC_PER_USEC);
}

void __const_udelay(unsigned long xloops)
{
	/* xloops is the delay in seconds times 2^32 (see asm-generic/delay.h) */
	__ndelay((xloops * NSEC_PER_SEC) >> 32);
}
