// SPDX-License-Identifier: GPL-2.0
/*
 * What upstream ptp_vmclock (Linux 6.13+) offers, for kernels without it,
 * so that chrony (refclock PHC), phc2sys and ClockBound work unchanged:
 *
 * - a PTP clock "vmclockN" whose time is the page's, as UTC (as
 *   ptp_vmclock on 6.13-6.19): gettimex64, and getcrosststamp so that
 *   PTP_SYS_OFFSET_PRECISE pairs page and system time at one counter value;
 * - /dev/vmclockN: read() of a seq-consistent copy of the region (up to
 *   one page), a read-only mmap() of it when it is exactly one page at a
 *   page boundary, and poll() that reports POLLIN once seq_count differs
 *   from what this file saw at open() or last read (the page is watched by
 *   the module's update work, so wake-ups come at update_interval_ms, also
 *   while nothing is steered and the page is otherwise read less often).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/io.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/ptp_clock_kernel.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "counter.h"
#include "kshim.h"
#include "vmclock_discipline.h"
#include "vmclock_math.h"

struct vmcd_lookalike {
	const struct vmclock_abi *page;
	u32 page_size;			/* bytes mapped at @page */
	size_t read_len;		/* bytes read() offers, <= PAGE_SIZE */
	phys_addr_t phys;
	bool mappable;			/* region is one aligned page */
	struct clocksource *(*clock)(void *ctx);	/* the counter's clocksource */
	void *ctx;

	struct ptp_clock_info ptp_info;
	struct ptp_clock *ptp;
	struct miscdevice misc;
	char name[16];
	wait_queue_head_t wq;
	atomic_t seq;			/* page seq_count last seen by the work */
};

/* The page's seq_count now, rounded down to the last complete version. */
static u32 vmcdc_seq_now(const struct vmcd_lookalike *c)
{
	return le32_to_cpu(READ_ONCE(c->page->seq_count)) & ~1U;
}

/* The counter read with its system timestamps, inside a stable page. */
struct vmcdc_sample {
	u64 *cycles;
	struct ptp_system_timestamp *sts;
};

static void vmcdc_sample_cb(void *arg)
{
	struct vmcdc_sample *smp = arg;

	ptp_read_system_prets(smp->sts);
	*smp->cycles = vmcd_counter_read();
	ptp_read_system_postts(smp->sts);
}

static int vmcdc_read(struct vmcd_lookalike *c, struct vmclock_abi *pg,
		      u64 *cycles, struct ptp_system_timestamp *sts)
{
	struct vmcdc_sample smp = { cycles, sts };

	return vmcd_page_read(c->page, c->page_size, pg,
			      cycles ? vmcdc_sample_cb : NULL, &smp);
}

/* The page's UTC at the counter value read with it, as ktime. */
static int vmcdc_time(struct vmcd_lookalike *c, ktime_t *t, u64 *cycles,
		      struct ptp_system_timestamp *sts)
{
	struct vmclock_abi pg;
	struct vmc_line line;
	struct vmc_ts ts;
	int ret, tai;

	ret = vmcdc_read(c, &pg, cycles, sts);
	if (ret)
		return ret;
	switch (vmc_page_validate(&pg, c->page_size, VMCD_COUNTER_ID)) {
	case VMC_PAGE_OK:
		break;
	case VMC_PAGE_NO_TIME:
		return -ENODEV;
	default:
		return -EINVAL;
	}
	if (pg.clock_status == VMCLOCK_STATUS_UNRELIABLE ||
	    pg.time_type == VMCLOCK_TIME_MONOTONIC ||
	    (pg.time_type == VMCLOCK_TIME_TAI && !vmc_page_tai_utc(&pg, &tai)))
		return -EINVAL;
	vmc_page_line(&pg, &line);
	ts = vmc_line_time_at(&line, *cycles);
	if (pg.time_type == VMCLOCK_TIME_TAI)
		ts.sec = vmc_utc_from_tai(ts.sec, tai);
	*t = ns_to_ktime(vmc_ts_to_ns(ts));
	return 0;
}

static int vmcdc_gettimex(struct ptp_clock_info *info, struct timespec64 *ts,
			  struct ptp_system_timestamp *sts)
{
	struct vmcd_lookalike *c = container_of(info, struct vmcd_lookalike,
					     ptp_info);
	u64 cycles;
	ktime_t t;
	int ret = vmcdc_time(c, &t, &cycles, sts);

	if (!ret)
		*ts = ktime_to_timespec64(t);
	return ret;
}

static int vmcdc_crosststamp_fn(ktime_t *device, struct system_counterval_t *sc,
				void *ctx)
{
	struct vmcd_lookalike *c = ctx;
	struct clocksource *cs = c->clock(c->ctx);
	int ret = vmcdc_time(c, device, &sc->cycles, NULL);

	vmcd_counterval_set_cs(sc, cs);
	return ret ? ret : cs ? 0 : -ENODEV;
}

static int vmcdc_getcrosststamp(struct ptp_clock_info *info,
				struct system_device_crosststamp *xts)
{
	struct vmcd_lookalike *c = container_of(info, struct vmcd_lookalike,
					     ptp_info);

	return get_device_system_crosststamp(vmcdc_crosststamp_fn, c, NULL,
					     xts);
}

/* The page is the host's clock: it cannot be steered from the guest. */
static int vmcdc_adjfine(struct ptp_clock_info *info, long scaled_ppm)
{
	return -EOPNOTSUPP;
}

static int vmcdc_adjtime(struct ptp_clock_info *info, s64 delta)
{
	return -EOPNOTSUPP;
}

static int vmcdc_settime(struct ptp_clock_info *info,
			 const struct timespec64 *ts)
{
	return -EOPNOTSUPP;
}

static int vmcdc_enable(struct ptp_clock_info *info,
			struct ptp_clock_request *rq, int on)
{
	return -EOPNOTSUPP;
}

/* /dev/vmclockN ----------------------------------------------------------- */

struct vmcdc_file {
	struct vmcd_lookalike *c;
	u32 seq;	/* seq_count seen at open() or by the last read() */
};

static struct vmcd_lookalike *vmcdc_of(struct file *f)
{
	return container_of(f->private_data, struct vmcd_lookalike, misc);
}

static int vmcdc_open(struct inode *inode, struct file *f)
{
	struct vmcdc_file *fp = kzalloc(sizeof(*fp), GFP_KERNEL_ACCOUNT);

	if (!fp)
		return -ENOMEM;
	fp->c = vmcdc_of(f);
	fp->seq = vmcdc_seq_now(fp->c);
	f->private_data = fp;
	return 0;
}

/* Seekable within what read() offers, so a poll()er can pread() it. */
static loff_t vmcdc_llseek(struct file *f, loff_t off, int whence)
{
	struct vmcdc_file *fp = f->private_data;

	return fixed_size_llseek(f, off, whence, fp->c->read_len);
}

static int vmcdc_release(struct inode *inode, struct file *f)
{
	kfree(f->private_data);
	return 0;
}

/* The bytes a read() asked for, copied while the page is seen stable. */
struct vmcdc_copy {
	void *dst;
	const void *src;
	size_t len;
};

static void vmcdc_copy_cb(void *arg)
{
	struct vmcdc_copy *cp = arg;

	memcpy(cp->dst, cp->src, cp->len);
}

/* As ptp_vmclock: any part of the region, up to one page, seq-consistent. */
static ssize_t vmcdc_fread(struct file *f, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct vmcdc_file *fp = f->private_data;
	struct vmcd_lookalike *c = fp->c;
	struct vmclock_abi pg;
	struct vmcdc_copy cp;
	int ret;

	if (*ppos < 0)
		return -EINVAL;
	if (*ppos >= c->read_len || !count)
		return 0;
	cp.len = min_t(size_t, count, c->read_len - *ppos);
	cp.src = (const char *)c->page + *ppos;
	cp.dst = kmalloc(cp.len, GFP_KERNEL_ACCOUNT);
	if (!cp.dst)
		return -ENOMEM;
	ret = vmcd_page_read(c->page, c->page_size, &pg, vmcdc_copy_cb, &cp);
	if (!ret && copy_to_user(buf, cp.dst, cp.len))
		ret = -EFAULT;
	kfree(cp.dst);
	if (ret)
		return ret;
	WRITE_ONCE(fp->seq, le32_to_cpu(pg.seq_count));
	*ppos += cp.len;
	return cp.len;
}

static __poll_t vmcdc_poll(struct file *f, poll_table *wait)
{
	struct vmcdc_file *fp = f->private_data;

	poll_wait(f, &fp->c->wq, wait);
	return vmcdc_seq_now(fp->c) != READ_ONCE(fp->seq) ?
	       EPOLLIN | EPOLLRDNORM : 0;
}

/*
 * Read-only and exactly the region: offered only when the region is one
 * page at a page boundary (a whole page mapped over anything else would
 * show its neighbours), never writable or executable, not even later
 * through mprotect().
 */
static int vmcdc_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct vmcdc_file *fp = f->private_data;

	if (!fp->c->mappable)
		return -ENODEV;
	if ((vma->vm_flags & (VM_READ | VM_WRITE)) != VM_READ)
		return -EROFS;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_end - vma->vm_start != PAGE_SIZE || vma->vm_pgoff)
		return -EINVAL;
	vmcd_vma_clear_flags(vma, VM_MAYWRITE | VM_MAYEXEC);
	return io_remap_pfn_range(vma, vma->vm_start,
				  PHYS_PFN(fp->c->phys), PAGE_SIZE,
				  vma->vm_page_prot);
}

static const struct file_operations vmcdc_fops = {
	.owner = THIS_MODULE,
	.open = vmcdc_open,
	.release = vmcdc_release,
	.read = vmcdc_fread,
	.poll = vmcdc_poll,
	.mmap = vmcdc_mmap,
	.llseek = vmcdc_llseek,
};

/* Setup ----------------------------------------------------------------- */

struct vmcd_lookalike *vmcd_lookalike_create(const struct vmcd_region *r,
					     const struct vmclock_abi *page,
					     u32 page_size, unsigned int index,
					     struct clocksource *(*clock)(void *),
					     void *ctx)
{
	struct vmcd_lookalike *c;
	int ret;

	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return ERR_PTR(-ENOMEM);
	c->page = page;
	c->page_size = page_size;
	c->read_len = min_t(size_t, page_size, PAGE_SIZE);
	c->phys = r->res.start;
	c->mappable = resource_size(&r->res) == PAGE_SIZE &&
		      PAGE_ALIGNED(r->res.start);
	c->clock = clock;
	c->ctx = ctx;
	init_waitqueue_head(&c->wq);
	atomic_set(&c->seq, le32_to_cpu(READ_ONCE(page->seq_count)));
	snprintf(c->name, sizeof(c->name), "vmclock%u", index);

	c->misc.minor = MISC_DYNAMIC_MINOR;
	c->misc.name = c->name;
	c->misc.fops = &vmcdc_fops;
	c->misc.mode = 0444;
	ret = misc_register(&c->misc);
	if (ret)
		goto out_free;

	c->ptp_info = (struct ptp_clock_info){
		.owner = THIS_MODULE,
		.max_adj = 0,
		.adjfine = vmcdc_adjfine,
		.adjtime = vmcdc_adjtime,
		.gettimex64 = vmcdc_gettimex,
		.settime64 = vmcdc_settime,
		.enable = vmcdc_enable,
		.getcrosststamp = vmcdc_getcrosststamp,
	};
	strscpy(c->ptp_info.name, c->name, sizeof(c->ptp_info.name));
	c->ptp = ptp_clock_register(&c->ptp_info, NULL);
	if (IS_ERR(c->ptp)) {
		ret = PTR_ERR(c->ptp);
		goto out_misc;
	}
	pr_info("compatibility interfaces: /dev/%s%s and PTP clock %d\n",
		c->name, c->mappable ? "" : " (no mmap: region is not one aligned page)",
		ptp_clock_index(c->ptp));
	return c;

out_misc:
	misc_deregister(&c->misc);
out_free:
	kfree(c);
	return ERR_PTR(ret);
}

/* Does someone wait (poll, epoll) for the region's seq_count to change? */
bool vmcd_lookalike_watched(struct vmcd_lookalike *c)
{
	return wq_has_sleeper(&c->wq);
}

/* Called by the update work with each page it read: wakes poll()ers. */
void vmcd_lookalike_seen(struct vmcd_lookalike *c, u32 seq)
{
	if ((u32)atomic_xchg(&c->seq, seq) != seq)
		wake_up_interruptible(&c->wq);
}

void vmcd_lookalike_destroy(struct vmcd_lookalike *c)
{
	ptp_clock_unregister(c->ptp);
	misc_deregister(&c->misc);
	kfree(c);
}
