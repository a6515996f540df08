/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_SETUP_H
#define _ASM_LKL_SETUP_H

#include <uapi/asm-generic/setup.h>

#ifndef __ASSEMBLY__
void bootmem_init(unsigned long mem_size);
void lkl_free_memory(void);
#endif

#endif
