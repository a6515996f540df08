// SPDX-License-Identifier: GPL-2.0
/*
 * Disks served by the host: a blk-mq driver that hands every request to
 * the host library's lkl_dev_blk_ops (pread/pwrite/fdatasync on an image
 * file) and completes it on the spot. Disks added before boot are
 * registered by an initcall; disks added later are registered at once, on
 * the calling host thread's kernel task.
 */
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/init.h>
#include <linux/kdev_t.h>
#include <asm/host_ops.h>
#include "../kernel/lkl.h"

#define LKL_MAX_DISKS		16
#define LKL_DISK_MINORS		16
#define LKL_MAX_SEGMENTS	128

struct lkl_blkdev {
	struct lkl_disk disk;		/* the caller's description, copied */
	unsigned long long capacity;	/* bytes */
	struct blk_mq_tag_set tag_set;
	struct gendisk *gd;
	int id;
	bool registered;
};

/* Static: lkl_disk_add() may run before the kernel (or lkl_init()) has. */
static struct lkl_blkdev lkl_disks[LKL_MAX_DISKS];
static int lkl_disk_count;
static int lkl_blk_major;

static int lkl_blk_transfer(struct lkl_blkdev *dev, struct request *rq)
{
	struct lkl_blk_seg segs[LKL_MAX_SEGMENTS];
	struct lkl_blk_req req = {
		.sector = blk_rq_pos(rq),
		.segs = segs,
	};
	struct req_iterator iter;
	struct bio_vec bv;

	switch (req_op(rq)) {
	case REQ_OP_FLUSH:
		req.type = LKL_BLK_REQ_FLUSH;
		return dev->disk.ops->request(&dev->disk, &req);
	case REQ_OP_READ:
		req.type = LKL_BLK_REQ_READ;
		break;
	case REQ_OP_WRITE:
		req.type = LKL_BLK_REQ_WRITE;
		break;
	default:
		return -EOPNOTSUPP;
	}

	rq_for_each_segment(bv, rq, iter) {
		/* max_segments bounds this; a split bvec never exceeds it. */
		if (WARN_ON_ONCE(req.count == LKL_MAX_SEGMENTS))
			return -EIO;
		segs[req.count].base = bvec_virt(&bv);
		segs[req.count].len = bv.bv_len;
		req.count++;
	}
	return dev->disk.ops->request(&dev->disk, &req);
}

static blk_status_t lkl_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct lkl_blkdev *dev = rq->q->queuedata;
	int err;

	blk_mq_start_request(rq);
	err = lkl_blk_transfer(dev, rq);
	blk_mq_end_request(rq, err == -EOPNOTSUPP ? BLK_STS_NOTSUPP :
			       err ? BLK_STS_IOERR : BLK_STS_OK);
	return BLK_STS_OK;
}

static const struct blk_mq_ops lkl_mq_ops = {
	.queue_rq = lkl_queue_rq,
};

static const struct block_device_operations lkl_blk_fops = {
	.owner = THIS_MODULE,
};

static int lkl_blk_register(struct lkl_blkdev *dev)
{
	struct queue_limits lim = {
		.logical_block_size	= 512,
		.max_hw_sectors		= 256,
		.max_segments		= LKL_MAX_SEGMENTS / 2,
		.max_segment_size	= PAGE_SIZE,
		.features		= BLK_FEAT_WRITE_CACHE,
	};
	struct gendisk *gd;
	int err;

	if (!lkl_blk_major) {
		err = register_blkdev(0, "lkl-disk");
		if (err < 0)
			return err;
		lkl_blk_major = err;
	}

	dev->tag_set.ops = &lkl_mq_ops;
	dev->tag_set.nr_hw_queues = 1;
	dev->tag_set.queue_depth = 32;
	dev->tag_set.numa_node = NUMA_NO_NODE;
	dev->tag_set.flags = BLK_MQ_F_SHOULD_MERGE;
	err = blk_mq_alloc_tag_set(&dev->tag_set);
	if (err)
		return err;

	gd = blk_mq_alloc_disk(&dev->tag_set, &lim, dev);
	if (IS_ERR(gd)) {
		blk_mq_free_tag_set(&dev->tag_set);
		return PTR_ERR(gd);
	}
	gd->major = lkl_blk_major;
	gd->first_minor = dev->id * LKL_DISK_MINORS;
	gd->minors = LKL_DISK_MINORS;
	gd->fops = &lkl_blk_fops;
	gd->private_data = dev;
	snprintf(gd->disk_name, DISK_NAME_LEN, "vd%c", 'a' + dev->id);
	set_capacity(gd, dev->capacity >> SECTOR_SHIFT);

	err = add_disk(gd);
	if (err) {
		put_disk(gd);
		blk_mq_free_tag_set(&dev->tag_set);
		return err;
	}
	dev->gd = gd;
	WRITE_ONCE(dev->registered, true);
	return 0;
}

static long lkl_blk_register_call(void *arg)
{
	return lkl_blk_register(arg);
}

static int __init lkl_blk_init(void)
{
	int i, err;

	for (i = 0; i < READ_ONCE(lkl_disk_count); i++) {
		err = lkl_blk_register(&lkl_disks[i]);
		if (err)
			pr_err("lkl: cannot register disk %d: %d\n", i, err);
	}
	return 0;
}
device_initcall(lkl_blk_init);

int lkl_disk_add(struct lkl_disk *disk)
{
	struct lkl_blkdev *dev;
	unsigned long long capacity;
	int id, err;

	if (!disk || !disk->ops || !disk->ops->request ||
	    !disk->ops->get_capacity)
		return -EINVAL;
	err = disk->ops->get_capacity(disk, &capacity);
	if (err)
		return err;
	if (capacity < SECTOR_SIZE)
		return -EINVAL;

	id = __atomic_fetch_add(&lkl_disk_count, 1, __ATOMIC_SEQ_CST);
	if (id >= LKL_MAX_DISKS) {
		__atomic_fetch_sub(&lkl_disk_count, 1, __ATOMIC_SEQ_CST);
		return -ENOSPC;
	}
	dev = &lkl_disks[id];
	dev->disk = *disk;
	dev->disk.dev = dev;
	dev->capacity = capacity;
	dev->id = id;
	disk->dev = dev;

	/* Before boot the initcall registers it; afterwards, do it now. */
	if (READ_ONCE(lkl_state) == LKL_STATE_RUNNING) {
		err = lkl_kernel_call(lkl_blk_register_call, dev);
		if (err)
			return err;
	}
	return id;
}

/* The device number of a disk (or partition), encoded as mknod() takes it. */
long lkl_disk_devt(unsigned int id, unsigned int part)
{
	if (id >= LKL_MAX_DISKS || part >= LKL_DISK_MINORS ||
	    !READ_ONCE(lkl_disks[id].registered))
		return -ENXIO;
	return new_encode_dev(MKDEV(lkl_blk_major,
				    id * LKL_DISK_MINORS + part));
}
