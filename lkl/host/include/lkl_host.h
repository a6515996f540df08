/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C API of kbox's liblkl.a: the kernel's entry points and the host
 * library's helpers. kbox itself declares what it uses in Rust; this header
 * serves the host library and C programs of our own.
 */
#ifndef _LKL_HOST_H
#define _LKL_HOST_H

#include <asm/host_ops.h>

/* Kernel entry points (arch/lkl). */
#include <asm/lkl_api.h>

/* Host library (lkl/host). */
extern struct lkl_host_operations lkl_host_ops;
extern struct lkl_dev_blk_ops lkl_dev_blk_ops;
const char *lkl_strerror(int err);
int lkl_mount_dev(unsigned int disk_id, unsigned int part, const char *fs_type,
		  int flags, const char *opts, char *mnt_str,
		  unsigned int mnt_str_len);
int lkl_umount_dev(unsigned int disk_id, unsigned int part, int flags,
		   long timeout_ms);

/*
 * The asm-generic system call numbers the host library itself uses. The
 * build checks them against the kernel's generated table.
 */
#define LKL_NR_mknodat		33
#define LKL_NR_mkdirat		34
#define LKL_NR_unlinkat		35
#define LKL_NR_umount2		39
#define LKL_NR_mount		40
#define LKL_NR_nanosleep	101

#define LKL_AT_FDCWD		-100
#define LKL_AT_REMOVEDIR	0x200

#ifdef LKL_CHECK_SYSCALL_NUMBERS
_Static_assert(LKL_NR_mknodat == __NR_mknodat, "mknodat");
_Static_assert(LKL_NR_mkdirat == __NR_mkdirat, "mkdirat");
_Static_assert(LKL_NR_unlinkat == __NR_unlinkat, "unlinkat");
_Static_assert(LKL_NR_umount2 == __NR_umount2, "umount2");
_Static_assert(LKL_NR_mount == __NR_mount, "mount");
_Static_assert(LKL_NR_nanosleep == __NR_nanosleep, "nanosleep");
#endif

#endif
