/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_VMALLOC_H
#define _ASM_LKL_VMALLOC_H

/* No MMU, so no huge vmalloc mappings to describe. */

#endif
