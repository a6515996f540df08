// SPDX-License-Identifier: GPL-2.0
/*
 * Boot and halt: the library entry points that start the kernel on a host
 * thread of its own and stop it again.
 */
#include <linux/init.h>
#include <linux/init_task.h>
#include <linux/console.h>
#include <linux/fs.h>
#include <linux/panic_notifier.h>
#include <linux/random.h>
#include <linux/reboot.h>
#include <linux/start_kernel.h>
#include <linux/string.h>
#include <linux/syscalls.h>
#include <asm/host_ops.h>
#include <asm/setup.h>
#include "lkl.h"

struct lkl_host_operations *lkl_ops;
enum lkl_state lkl_state;
bool lkl_halt_requested;

static char cmd_line[COMMAND_LINE_SIZE];
static unsigned long mem_size = 64UL << 20;
static struct lkl_sem *boot_sem;	/* pid 1 is ready for system calls */
static struct lkl_sem *halt_sem;	/* the idle task has stopped the kernel */
static bool cleaned_up;

static void lkl_console_write(struct console *con, const char *str,
			      unsigned int len)
{
	if (lkl_ops->print)
		lkl_ops->print(str, len);
}

static struct console lkl_console = {
	.name	= "lkl",
	.write	= lkl_console_write,
	.flags	= CON_PRINTBUFFER | CON_ANYTIME,
	.index	= -1,
};

static int lkl_panic_notify(struct notifier_block *nb, unsigned long event,
			    void *msg)
{
	/* The console may be past printing by now: say why, whatever the loglevel. */
	if (lkl_ops->print && msg) {
		lkl_ops->print("lkl: kernel panic: ", 19);
		lkl_ops->print(msg, strlen(msg));
		lkl_ops->print("\n", 1);
	}
	lkl_ops->panic();
	return NOTIFY_DONE;
}

static struct notifier_block lkl_panic_nb = {
	.notifier_call = lkl_panic_notify,
};

void __init setup_arch(char **cl)
{
	u8 seed[64];

	*cl = cmd_line;
	register_console(&lkl_console);
	atomic_notifier_chain_register(&panic_notifier_list, &lkl_panic_nb);
	bootmem_init(mem_size);

	/*
	 * Nothing in here produces entropy (no interrupts from hardware, no
	 * cycle counter), so a read of /dev/urandom would wait forever for the
	 * RNG to be seeded: seed it from the host, as a bootloader would.
	 */
	if (lkl_ops->get_random) {
		lkl_ops->get_random(seed, sizeof(seed));
		add_bootloader_randomness(seed, sizeof(seed));
		memzero_explicit(seed, sizeof(seed));
	}
}

/* The kernel owns no machine: "power off" only stops the library. */
void machine_halt(void)
{
	WRITE_ONCE(lkl_halt_requested, true);
}

void machine_power_off(void)
{
	machine_halt();
}

void machine_restart(char *cmd)
{
	machine_halt();
}

/*
 * With no initramfs, kernel_init() looks for a root device to mount unless
 * rootfs has an /init. Give it one: the root filesystems of containers are
 * mounted later, by the host, wherever it likes.
 */
static int __init lkl_rootfs_setup(void)
{
	struct file *f = filp_open("/init", O_CREAT | O_WRONLY, 0700);

	if (IS_ERR(f))
		return PTR_ERR(f);
	filp_close(f, NULL);
	return 0;
}
late_initcall(lkl_rootfs_setup);

void __ref lkl_boot_main(void *unused)
{
	start_kernel();
}

void lkl_boot_done(void)
{
	lkl_ops->sem_up(boot_sem);
}

int lkl_init(struct lkl_host_operations *ops)
{
	if (!ops)
		return -EINVAL;
	if (lkl_state != LKL_STATE_NEW)
		return -EBUSY;
	lkl_ops = ops;
	return 0;
}

/* "mem=" on the command line sizes the kernel's memory; 64M by default. */
static void parse_mem_size(const char *cl)
{
	const char *p = cl;

	while ((p = strstr(p, "mem="))) {
		if (p == cl || p[-1] == ' ') {
			unsigned long size = memparse(p + 4, NULL);

			if (size)
				mem_size = size;
		}
		p += 4;
	}
}

static void free_host_sems(void)
{
	struct lkl_sem **sems[] = { &boot_sem, &halt_sem, &lkl_thread_exit_sem,
				    &init_task.thread.sched_sem };
	int i;

	for (i = 0; i < ARRAY_SIZE(sems); i++) {
		if (*sems[i])
			lkl_ops->sem_free(*sems[i]);
		*sems[i] = NULL;
	}
	lkl_irq_host_cleanup();
}

int __ref lkl_start_kernel(const char *fmt, ...)
{
	va_list ap;

	if (!lkl_ops)
		return -EINVAL;
	/*
	 * Kernel state (initcalls run, memory handed out, ...) lives in this
	 * library's static data: a halted kernel cannot be booted again.
	 */
	if (lkl_state != LKL_STATE_NEW)
		return -EALREADY;

	va_start(ap, fmt);
	vscnprintf(boot_command_line, COMMAND_LINE_SIZE, fmt, ap);
	va_end(ap);
	strscpy(cmd_line, boot_command_line, COMMAND_LINE_SIZE);
	parse_mem_size(cmd_line);

	boot_sem = lkl_ops->sem_alloc(0);
	halt_sem = lkl_ops->sem_alloc(0);
	lkl_thread_exit_sem = lkl_ops->sem_alloc(0);
	init_task.thread.sched_sem = lkl_ops->sem_alloc(0);
	if (!boot_sem || !halt_sem || !lkl_thread_exit_sem ||
	    !init_task.thread.sched_sem || lkl_irq_host_init()) {
		free_host_sems();
		return -ENOMEM;
	}

	lkl_state = LKL_STATE_BOOTING;
	init_task.thread.started = true;
	lkl_threads_started = 1;
	if (!lkl_ops->thread_create(lkl_boot_thread, NULL)) {
		free_host_sems();
		lkl_state = LKL_STATE_NEW;
		return -ENOMEM;
	}

	lkl_ops->sem_down(boot_sem);
	lkl_state = LKL_STATE_RUNNING;
	return 0;
}

static long lkl_halt_call(void *unused)
{
	ksys_sync();
	WRITE_ONCE(lkl_halt_requested, true);
	return 0;
}

/* Runs on the idle task once nothing else is runnable after a halt request. */
void __noreturn lkl_halt_cpu(void)
{
	lkl_time_shutdown();
	lkl_fail_pending_syscalls();
	lkl_release_task_threads();
	lkl_ops->sem_up(halt_sem);
	lkl_ops->jmp_buf_longjmp(current->thread.exit_jb, 1);
	unreachable();
}

long lkl_sys_halt(void)
{
	unsigned long i;
	long err;

	if (lkl_state != LKL_STATE_RUNNING)
		return -EINVAL;

	err = lkl_kernel_call(lkl_halt_call, NULL);
	if (err)
		return err;
	lkl_wake_idle();
	lkl_ops->sem_down(halt_sem);

	/* Every host thread that ran kernel code has left it for good. */
	for (i = 0; i < lkl_threads_started; i++)
		lkl_ops->sem_down(lkl_thread_exit_sem);

	lkl_state = LKL_STATE_HALTED;
	return 0;
}

void lkl_cleanup(void)
{
	if (lkl_state == LKL_STATE_RUNNING)
		lkl_sys_halt();
	if (lkl_state != LKL_STATE_HALTED || cleaned_up)
		return;
	cleaned_up = true;
	lkl_syscall_host_cleanup();
	free_host_sems();
	lkl_free_memory();
}
