// SPDX-License-Identifier: GPL-2.0
/*
 * A C client of liblkl.a that declares the API itself, as any program
 * binding the library would (no header of ours): it boots the kernel on an
 * ext4 image, reads a known file, writes and fsyncs a new one, unmounts
 * and halts. Usage: c_client IMAGE KNOWN_PATH EXPECTED_CONTENT
 * Exit status 0 on success; prints the failing step otherwise.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lkl_disk {
	void *dev;
	int fd;
	void *ops;
};

extern char lkl_host_ops[];
extern char lkl_dev_blk_ops[];
int lkl_init(void *ops);
int lkl_start_kernel(const char *fmt, ...);
void lkl_cleanup(void);
const char *lkl_strerror(int err);
long lkl_syscall(long nr, long *params);
int lkl_disk_add(struct lkl_disk *disk);
int lkl_mount_dev(unsigned int disk_id, unsigned int part, const char *fs_type,
		  int flags, const char *opts, char *mnt_str, unsigned int len);
long lkl_sys_halt(void);

/* asm-generic numbers */
#define NR_openat 56
#define NR_close 57
#define NR_read 63
#define NR_write 64
#define NR_fsync 82
#define NR_umount2 39
#define AT_FDCWD_ -100

static long sc(long nr, long a, long b, long c, long d)
{
	long p[6] = { a, b, c, d, 0, 0 };

	return lkl_syscall(nr, p);
}

#define CHECK(what, expr) do {						\
	long _r = (expr);						\
	if (_r < 0) {							\
		fprintf(stderr, "c_client: %s: %s\n", what,		\
			lkl_strerror((int)_r));				\
		exit(1);						\
	}								\
} while (0)

int main(int argc, char **argv)
{
	struct lkl_disk disk = { 0 };
	char mnt[256], path[512], buf[4096];
	long fd, n, id;

	if (argc != 4) {
		fprintf(stderr, "usage: c_client IMAGE KNOWN_PATH CONTENT\n");
		return 2;
	}
	disk.fd = open(argv[1], O_RDWR);
	if (disk.fd < 0) {
		perror(argv[1]);
		return 1;
	}
	disk.ops = lkl_dev_blk_ops;

	CHECK("disk_add", id = lkl_disk_add(&disk));
	CHECK("init", lkl_init(lkl_host_ops));
	CHECK("start_kernel", lkl_start_kernel("%s", "mem=32M loglevel=4"));
	CHECK("mount", lkl_mount_dev(id, 0, "ext4", 0, NULL, mnt, sizeof(mnt)));

	snprintf(path, sizeof(path), "%s/%s", mnt, argv[2]);
	CHECK("open known file", fd = sc(NR_openat, AT_FDCWD_, (long)path, O_RDONLY, 0));
	CHECK("read", n = sc(NR_read, fd, (long)buf, sizeof(buf) - 1, 0));
	buf[n] = 0;
	if (strcmp(buf, argv[3]) != 0) {
		fprintf(stderr, "c_client: read %ld bytes: '%s', expected '%s'\n", n, buf, argv[3]);
		return 1;
	}
	CHECK("close", sc(NR_close, fd, 0, 0, 0));

	snprintf(path, sizeof(path), "%s/c-client-wrote-this", mnt);
	CHECK("create", fd = sc(NR_openat, AT_FDCWD_, (long)path, O_CREAT | O_WRONLY | O_TRUNC, 0644));
	CHECK("write", sc(NR_write, fd, (long)"hello from C\n", 13, 0));
	CHECK("fsync", sc(NR_fsync, fd, 0, 0, 0));
	CHECK("close", sc(NR_close, fd, 0, 0, 0));

	CHECK("umount", sc(NR_umount2, (long)mnt, 0, 0, 0));
	CHECK("halt", lkl_sys_halt());
	lkl_cleanup();
	close(disk.fd);
	printf("c_client: ok\n");
	return 0;
}
