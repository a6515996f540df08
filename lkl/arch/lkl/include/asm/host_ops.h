/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_LKL_HOST_OPS_H
#define _ASM_LKL_HOST_OPS_H

#include <uapi/asm/host_ops.h>

extern struct lkl_host_operations *lkl_ops;

#endif
