// SPDX-License-Identifier: GPL-2.0
/* The few system calls each architecture implements for itself. */
#include <linux/syscalls.h>
#include <linux/mm.h>
#include <linux/ptrace.h>
#include <linux/seq_file.h>

SYSCALL_DEFINE6(mmap, unsigned long, addr, unsigned long, len,
		unsigned long, prot, unsigned long, flags,
		unsigned long, fd, off_t, off)
{
	if (offset_in_page(off))
		return -EINVAL;
	return ksys_mmap_pgoff(addr, len, prot, flags, fd, off >> PAGE_SHIFT);
}

/* There is no user-mode signal frame to return from. */
SYSCALL_DEFINE0(rt_sigreturn)
{
	return -ENOSYS;
}

/* Tasks have no user registers: nothing for a debugger to read or write. */
long arch_ptrace(struct task_struct *child, long request, unsigned long addr,
		 unsigned long data)
{
	return -EIO;
}

void ptrace_disable(struct task_struct *child)
{
}

void show_regs(struct pt_regs *regs)
{
}

/* /proc/cpuinfo: one CPU that is whatever host thread holds the kernel. */
static int cpuinfo_show(struct seq_file *m, void *v)
{
	seq_puts(m, "processor\t: 0\nmodel name\t: lkl (host threads)\n\n");
	return 0;
}

static void *cpuinfo_start(struct seq_file *m, loff_t *pos)
{
	return *pos == 0 ? (void *)1 : NULL;
}

static void *cpuinfo_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return NULL;
}

static void cpuinfo_stop(struct seq_file *m, void *v)
{
}

const struct seq_operations cpuinfo_op = {
	.start	= cpuinfo_start,
	.next	= cpuinfo_next,
	.stop	= cpuinfo_stop,
	.show	= cpuinfo_show,
};
