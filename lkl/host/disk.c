// SPDX-License-Identifier: GPL-2.0
/*
 * Disk images for the kernel: lkl_dev_blk_ops serves block requests from a
 * host file descriptor, and lkl_mount_dev()/lkl_umount_dev() mount a disk
 * inside the kernel at a path of its own. Plus lkl_strerror().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lkl_host.h"

_Static_assert(sizeof(struct lkl_disk) == 24, "struct lkl_disk layout");

static int blk_get_capacity(struct lkl_disk *disk, unsigned long long *bytes)
{
	struct stat st;

	if (fstat(disk->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(disk->fd, BLKGETSIZE64, bytes) < 0)
			return -errno;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return -ENOTBLK;
	*bytes = st.st_size;
	return 0;
}

/* Moves the whole request, resuming after short transfers and EINTR. */
static int blk_transfer(int fd, struct lkl_blk_req *req, int write)
{
	off_t off = (off_t)req->sector * 512;
	unsigned int i;

	for (i = 0; i < req->count; i++) {
		char *base = req->segs[i].base;
		size_t left = req->segs[i].len;

		while (left) {
			ssize_t n = write ? pwrite(fd, base, left, off)
					  : pread(fd, base, left, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0) {
				/* Reading past the end of a shrunk image. */
				if (write)
					return -EIO;
				memset(base, 0, left);
				n = left;
			}
			base += n;
			left -= n;
			off += n;
		}
	}
	return 0;
}

static int blk_request(struct lkl_disk *disk, struct lkl_blk_req *req)
{
	switch (req->type) {
	case LKL_BLK_REQ_READ:
		return blk_transfer(disk->fd, req, 0);
	case LKL_BLK_REQ_WRITE:
		return blk_transfer(disk->fd, req, 1);
	case LKL_BLK_REQ_FLUSH:
		return fdatasync(disk->fd) < 0 ? -errno : 0;
	default:
		return -EOPNOTSUPP;
	}
}

struct lkl_dev_blk_ops lkl_dev_blk_ops = {
	.get_capacity = blk_get_capacity,
	.request = blk_request,
};

const char *lkl_strerror(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}

static long sys6(long nr, long a, long b, long c, long d, long e)
{
	long params[6] = { a, b, c, d, e, 0 };

	return lkl_syscall(nr, params);
}

static long mkdir_p(const char *path, int mode)
{
	long err = sys6(LKL_NR_mkdirat, LKL_AT_FDCWD, (long)path, mode, 0, 0);

	return err == -EEXIST ? 0 : err;
}

static void dev_paths(unsigned int disk_id, unsigned int part, char *dev,
		      char *mnt, size_t len)
{
	snprintf(dev, len, "/dev/lkl-disk%u.%u", disk_id, part);
	snprintf(mnt, len, "/mnt/%04x%04x", disk_id, part);
}

int lkl_mount_dev(unsigned int disk_id, unsigned int part, const char *fs_type,
		  int flags, const char *opts, char *mnt_str,
		  unsigned int mnt_str_len)
{
	char dev[64], mnt[64];
	long devt, err;

	devt = lkl_disk_devt(disk_id, part);
	if (devt < 0)
		return devt;
	dev_paths(disk_id, part, dev, mnt, sizeof(dev));
	if (!mnt_str || strlen(mnt) + 1 > mnt_str_len)
		return -ENAMETOOLONG;

	err = mkdir_p("/dev", 0755);
	if (!err)
		err = sys6(LKL_NR_mknodat, LKL_AT_FDCWD, (long)dev,
			   S_IFBLK | 0600, devt, 0);
	if (err && err != -EEXIST)
		return err;
	err = mkdir_p("/mnt", 0755);
	if (!err)
		err = mkdir_p(mnt, 0700);
	if (err)
		return err;

	err = sys6(LKL_NR_mount, (long)dev, (long)mnt, (long)fs_type, flags,
		   (long)(opts && *opts ? opts : NULL));
	if (err) {
		sys6(LKL_NR_unlinkat, LKL_AT_FDCWD, (long)mnt, LKL_AT_REMOVEDIR,
		     0, 0);
		return err;
	}
	strcpy(mnt_str, mnt);
	return 0;
}

int lkl_umount_dev(unsigned int disk_id, unsigned int part, int flags,
		   long timeout_ms)
{
	struct timespec pause = { .tv_nsec = 10 * 1000 * 1000 };
	char dev[64], mnt[64];
	long err;

	dev_paths(disk_id, part, dev, mnt, sizeof(dev));
	for (;;) {
		err = sys6(LKL_NR_umount2, (long)mnt, flags, 0, 0, 0);
		if (err != -EBUSY || timeout_ms <= 0)
			break;
		sys6(LKL_NR_nanosleep, (long)&pause, 0, 0, 0, 0);
		timeout_ms -= 10;
	}
	if (err)
		return err;
	return sys6(LKL_NR_unlinkat, LKL_AT_FDCWD, (long)mnt, LKL_AT_REMOVEDIR,
		    0, 0);
}
