/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_IRQ_H
#define _ASM_LKL_IRQ_H

#define NR_IRQS			32

/* Fixed interrupt lines raised by the host side of the port. */
#define LKL_TIMER_IRQ		1
#define LKL_SYSCALL_IRQ		2

#ifndef __ASSEMBLY__
int lkl_trigger_irq(int irq);
void lkl_run_pending_irqs(void);
#endif

#include <asm-generic/irq.h>

#endif
