/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_IRQFLAGS_H
#define _ASM_LKL_IRQFLAGS_H

#define ARCH_IRQ_ENABLED	1
#define ARCH_IRQ_DISABLED	0

/*
 * Interrupts are software flags: an interrupt raised by a host thread is
 * recorded as pending and runs when the kernel next enables interrupts.
 */
unsigned long arch_local_save_flags(void);
void arch_local_irq_restore(unsigned long flags);

#include <asm-generic/irqflags.h>

#endif
