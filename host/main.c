// SPDX-License-Identifier: GPL-2.0
/*
 * vmclock_host: publishes the host's clock as vmclock pages for guests.
 *
 * /dev/vmclock_host: each file open for writing is one guest's view, a
 * page in the vmclock page ABI that the VMM maps read-only into its guest;
 * files open only for reading share one page, the host's untransformed
 * one. All views derive from one line in host counter units: the host
 * timekeeper's (follow.c), or an explicit reference set by privileged
 * userspace. Each view applies its guest's counter offset and scaling and
 * carries its own disruption marker and VM generation counter.
 *
 * Locking: vmch.lock (a mutex) protects the line, the view list and every
 * view's fields; it is held for at most VMCH_BATCH page rewrites at a time.
 * A page's odd-seq window runs with preemption off.
 */
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/random.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timex.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include "vmclock_host.h"
#include "vmclock_host_ioctl.h"

static unsigned int ntp_poll_ms = 1000;
module_param(ntp_poll_ms, uint, 0444);
MODULE_PARM_DESC(ntp_poll_ms,
		 "uint, ms, default 1000 (min 10): how often the host's NTP status, leap, TAI offset and error bounds are re-read");

static unsigned int max_views = 1024;
module_param(max_views, uint, 0444);
MODULE_PARM_DESC(max_views,
		 "uint, default 1024: most views (files open for writing, one charged page each) at once; more opens get ENOSPC. Read-only files share one page and are not counted");

static unsigned int reference_timeout_ms = 10000;
module_param(reference_timeout_ms, uint, 0444);
MODULE_PARM_DESC(reference_timeout_ms,
		 "uint, ms, default 10000 (0: never): an explicit reference not set again for this long is published free-running, its maxerror growing at >= 500 ppm");

/* Views rewritten per hold of vmch.lock (~1 us each). */
#define VMCH_BATCH		32

#if defined(CONFIG_X86)
#define VMCH_COUNTER_ID		VMCLOCK_COUNTER_X86_TSC
#elif defined(CONFIG_ARM64)
#define VMCH_COUNTER_ID		VMCLOCK_COUNTER_ARM_VCNT
#else
#define VMCH_COUNTER_ID		VMCLOCK_COUNTER_INVALID
#endif

/*
 * The kernel's maxerror grows by MAXFREQ, 500 us per second (ntp.c); the
 * page says the same with a period maxerror rate of 500 ppm = 1/2000.
 */
#define VMCH_MAXERR_RATE_DIV	2000
#define VMCH_MAXERR_STEP_NS	(500 * NSEC_PER_USEC)

/* One line in host counter units; compared with memcmp, so memset first. */
struct vmch_line {
	u64 counter_value;
	u64 period_frac;		/* 2^-(64 + period_shift) s per tick */
	u64 period_esterr;		/* same unit */
	u64 period_maxerr;		/* same unit */
	u64 time_sec;
	u64 time_frac;			/* 2^-64 s */
	u64 time_esterror_ns;
	u64 time_maxerror_ns;
	u64 flags;			/* VMCLOCK_FLAG_*, not the per-view ones */
	s16 tai_offset_sec;		/* UTC - TAI */
	u8 counter_id;
	u8 time_type;
	u8 clock_status;
	u8 leap_indicator;
	u8 period_shift;
	u8 pad;
};

struct vmch_view {
	struct list_head node;		/* in vmch.views, stale ones first */
	struct page *page;
	struct vmclock_abi *abi;
	wait_queue_head_t wq;
	u64 gen;			/* vmch.gen of the line last written */
	struct vmch_line good;		/* last line that passed validation */
	u8 verdict;			/* enum vmc_page_verdict, last write */
	u64 tsc_offset;
	u64 tsc_ratio;
	u8 tsc_frac_bits;
	u64 disruption_marker;
	u64 vm_gen;
	u64 rewrites;
};

/* One open file: a view of its own (open for writing) or vmch.host. */
struct vmch_file {
	struct vmch_view *v;
	u32 read_seq;			/* seq_count this file last read */
};

static struct {
	struct mutex lock;		/* everything below */
	struct list_head views;
	unsigned int nviews;		/* not counting @host */
	struct vmch_view host;		/* shared by read-only files */
	struct vmch_line line;		/* published, host counter units */
	struct vmch_line good;		/* last line with time data */
	u64 gen;			/* bumps when @line changes */
	bool have_line;
	bool ref_active;
	bool ref_expired;
	u64 ref_t;			/* local_clock() ns when set */
	struct vmch_line ref;
	bool ntp_ok;
	bool counter_ok;
	char cs_name[32];
	u32 tk_seq;			/* last vmch_tk.seq and .steps used */
	u32 tk_steps;
	u64 maxerr_ns;			/* published time_maxerror_nanosec */
	u64 maxerr_t;			/* local_clock() ns when published */
	struct work_struct publish_work;
	struct delayed_work poll_work;
	struct dentry *debugfs;
	/* counters for debugfs */
	u64 publishes;			/* times all views were rewritten */
	unsigned int batch_max;		/* most rewrites in one lock hold */
	u64 page_writes;
	u64 page_write_ns;
	u64 work_ns;			/* CPU in work items (rewrites, polls) */
	u64 work_ns_max;
	u64 polls;
} vmch;

/* 2^-64 s from ns * 2^32 (< 10^9 * 2^32), rounded. */
static u64 vmch_nsfix_to_frac(u64 nsfix)
{
	return vmc_div128(((__uint128_t)nsfix << 32) + NSEC_PER_SEC / 2,
			  NSEC_PER_SEC, NULL);
}

/*
 * Leap indicator. Pending leaps come from the STA_INS/STA_DEL request, which
 * the kernel acts on at the next second (time_state lags it by up to two
 * seconds, and TIME_ERROR hides it); the leap itself and its aftermath
 * come from time_state.
 */
static u8 vmch_leap(const struct vmch_ntp *ntp)
{
	if (ntp->state == TIME_OOP)
		return VMCLOCK_LEAP_POS;
	if (ntp->state == TIME_WAIT)
		return ntp->status & STA_DEL ? VMCLOCK_LEAP_POST_NEG :
					       VMCLOCK_LEAP_POST_POS;
	if (ntp->status & STA_INS)
		return VMCLOCK_LEAP_PRE_POS;
	if (ntp->status & STA_DEL)
		return VMCLOCK_LEAP_PRE_NEG;
	return VMCLOCK_LEAP_NONE;
}

/* Status, leap, TAI and error bounds of the kernel-derived line. */
/* us from adjtimex to ns; negative is no bound (false), huge saturates */
static bool vmch_us_to_ns(long us, u64 *ns)
{
	if (us < 0)
		return false;
	*ns = (u64)us > U64_MAX / NSEC_PER_USEC ? U64_MAX :
						  (u64)us * NSEC_PER_USEC;
	return true;
}

static u64 vmch_sat_add(u64 a, u64 b)
{
	return a + b < a ? U64_MAX : a + b;
}

static void vmch_ntp_fields(struct vmch_line *l, bool rebase)
{
	struct vmch_ntp ntp;
	u64 now, actual, pred, est;

	vmch.ntp_ok = !vmch_ntp_read(&ntp);
	if (!vmch.ntp_ok) {
		l->clock_status = VMCLOCK_STATUS_UNKNOWN;
		return;
	}
	l->leap_indicator = vmch_leap(&ntp);
	/* adjtimex's tai is TAI - UTC; the page holds UTC - TAI */
	if (ntp.tai >= 10 && ntp.tai <= 1000) {
		l->tai_offset_sec = -ntp.tai;
		l->flags |= VMCLOCK_FLAG_TAI_OFFSET_VALID;
	}
	if (ntp.status & STA_UNSYNC) {
		/* maxerror has no meaning any more (it is >= 16 s) */
		l->clock_status = VMCLOCK_STATUS_FREERUNNING;
		return;
	}
	/*
	 * TIME_ERROR without STA_UNSYNC: STA_CLOCKERR, or PPS time/frequency
	 * wanted without a PPS signal. The kernel says its time is in error:
	 * unreliable, no bound claimed.
	 */
	if (ntp.state == TIME_ERROR || (ntp.status & STA_CLOCKERR)) {
		l->clock_status = VMCLOCK_STATUS_UNRELIABLE;
		return;
	}
	l->clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	if (vmch_us_to_ns(ntp.esterror, &est)) {
		l->time_esterror_ns = est;
		l->flags |= VMCLOCK_FLAG_TIME_ESTERROR_VALID;
	}
	/* a negative maxerror (kernels before 6.11 took it) bounds nothing */
	if (!vmch_us_to_ns(ntp.maxerror, &actual))
		return;
	l->flags |= VMCLOCK_FLAG_TIME_MAXERROR_VALID |
		    VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;
	l->period_maxerr = l->period_frac / VMCH_MAXERR_RATE_DIV;

	/*
	 * The kernel adds 500 us to maxerror once a second; the page grows
	 * it linearly from one step ahead, so it never says less than the
	 * kernel. Keep the published value while the kernel's stays within
	 * that one step; rebase on a new anchor or a set maxerror.
	 */
	now = local_clock();
	pred = vmch_sat_add(vmch.maxerr_ns,
			    (now - vmch.maxerr_t) / VMCH_MAXERR_RATE_DIV);
	if (rebase || actual > pred ||
	    vmch_sat_add(actual, 3 * VMCH_MAXERR_STEP_NS) < pred) {
		vmch.maxerr_ns = vmch_sat_add(actual, VMCH_MAXERR_STEP_NS);
		vmch.maxerr_t = now;
	}
	l->time_maxerror_ns = vmch.maxerr_ns;
}

/* The line from the host timekeeper; false when there is no time data. */
static bool vmch_kernel_line(struct vmch_line *l, bool *step)
{
	struct vmch_tk tk;
	struct vmc_period p;
	bool rebase;

	vmch_follow_get(&tk);
	*step = tk.steps != vmch.tk_steps;
	rebase = *step || tk.seq != vmch.tk_seq;
	vmch.tk_steps = tk.steps;
	vmch.tk_seq = tk.seq;

	if (tk.counter_ok != vmch.counter_ok || strcmp(tk.cs_name, vmch.cs_name))
		pr_info("host clocksource %s: %s\n", tk.cs_name,
			tk.counter_ok ? "publishing time" :
			"not the CPU counter, pages carry no time data");
	vmch.counter_ok = tk.counter_ok;
	strscpy(vmch.cs_name, tk.cs_name, sizeof(vmch.cs_name));
	if (!tk.counter_ok)
		return false;
	if (vmc_period_from_scaled_ns(tk.tick, 32, tk.interval, &p)) {
		pr_warn_ratelimited("tick %llu ns<<32 per %llu ticks not representable\n",
				    tk.tick, tk.interval);
		return false;
	}
	l->counter_id = VMCH_COUNTER_ID;
	l->time_type = VMCLOCK_TIME_UTC;
	l->counter_value = tk.cycle_last;
	l->period_frac = p.frac;
	l->period_shift = p.shift;
	l->time_sec = tk.xtime_sec;
	l->time_frac = vmch_nsfix_to_frac(tk.nsfix);
	vmch_ntp_fields(l, rebase);
	return true;
}

/*
 * Host line to guest units: guest = ((host * ratio) >> fb) + offset.
 * The period divides by ratio * 2^-fb; the anchor moves to the guest
 * counter value the hardware shows, dropping the truncated fraction of a
 * guest tick from the time.
 */
static int vmch_scale(const struct vmch_line *h, u64 ratio, u8 fb,
		      u64 offset, struct vmch_line *g)
{
	int k = fls64(ratio) - 1, shift;
	__uint128_t prod;
	u64 q, rem, dt;

	*g = *h;
	/* frac * 2^k / ratio lies in (frac / 2, frac]: one more bit maybe */
	q = vmc_div128(((__uint128_t)h->period_frac << k) + ratio / 2, ratio, NULL);
	if (q < (1ULL << 63)) {
		k++;
		q = vmc_div128(((__uint128_t)h->period_frac << k) + ratio / 2, ratio,
			       NULL);
	}
	shift = h->period_shift + k - fb;
	if (shift < 0 || shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return -ERANGE;
	g->period_frac = q;
	g->period_shift = shift;
	g->period_esterr = vmc_div128((__uint128_t)h->period_esterr << k, ratio, NULL);
	g->period_maxerr = vmc_div128((__uint128_t)h->period_maxerr << k, ratio, NULL);

	prod = (__uint128_t)h->counter_value * ratio;
	g->counter_value = (u64)(prod >> fb) + offset;
	rem = (u64)prod & ((1ULL << fb) - 1);	/* 2^-fb guest ticks */
	dt = ((__uint128_t)rem * q) >> (fb + shift);	/* 2^-64 s */
	if (dt > g->time_frac)
		g->time_sec--;
	g->time_frac -= dt;
	return 0;
}

/* The page for line @g of view @v, in page byte order. */
static void vmch_page_fill(struct vmclock_abi *n, const struct vmch_view *v,
			   const struct vmch_line *g)
{
	memset(n, 0, sizeof(*n));
	n->magic = cpu_to_le32(VMCLOCK_MAGIC);
	n->size = cpu_to_le32(PAGE_SIZE);
	n->version = cpu_to_le16(VMCLOCK_VERSION);
	n->counter_id = g->counter_id;
	n->time_type = g->time_type;
	n->disruption_marker = cpu_to_le64(v->disruption_marker);
	n->flags = cpu_to_le64(g->flags | VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT);
	n->clock_status = g->clock_status;
	n->leap_second_smearing_hint = VMCLOCK_SMEARING_STRICT;
	n->tai_offset_sec = cpu_to_le16(g->tai_offset_sec);
	n->leap_indicator = g->leap_indicator;
	n->counter_period_shift = g->period_shift;
	n->counter_value = cpu_to_le64(g->counter_value);
	n->counter_period_frac_sec = cpu_to_le64(g->period_frac);
	n->counter_period_esterror_rate_frac_sec = cpu_to_le64(g->period_esterr);
	n->counter_period_maxerror_rate_frac_sec = cpu_to_le64(g->period_maxerr);
	n->time_sec = cpu_to_le64(g->time_sec);
	n->time_frac_sec = cpu_to_le64(g->time_frac);
	n->time_esterror_nanosec = cpu_to_le64(g->time_esterror_ns);
	n->time_maxerror_nanosec = cpu_to_le64(g->time_maxerror_ns);
	n->vm_generation_counter = cpu_to_le64(v->vm_gen);
}

/*
 * The page view @v would show for host line @h, checked with the guests'
 * own validator; the verdict (VMC_PAGE_BAD_PERIOD when the transform
 * cannot encode the period at all).
 */
static enum vmc_page_verdict vmch_view_page(const struct vmch_view *v,
					    const struct vmch_line *h,
					    struct vmch_line *g,
					    struct vmclock_abi *n)
{
	if (vmch_scale(h, v->tsc_ratio, v->tsc_frac_bits, v->tsc_offset, g))
		return VMC_PAGE_BAD_PERIOD;
	vmch_page_fill(n, v, g);
	return vmc_page_validate(n, PAGE_SIZE, VMCH_COUNTER_ID);
}

/* A line no guest may use: @g kept as an encoding, time data withdrawn. */
static void vmch_unreliable(struct vmch_line *g)
{
	g->clock_status = VMCLOCK_STATUS_UNRELIABLE;
	g->flags = 0;
	g->time_esterror_ns = 0;
	g->time_maxerror_ns = 0;
	g->period_esterr = 0;
	g->period_maxerr = 0;
	g->leap_indicator = VMCLOCK_LEAP_NONE;
}

/* Everything from disruption_marker on is rewritten as one block. */
#define VMCH_BODY	offsetof(struct vmclock_abi, disruption_marker)

/*
 * Rewrites @v's page from vmch.line. A page the guests would refuse is
 * never published: the view's last valid line goes out as unreliable.
 */
static void vmch_view_write(struct vmch_view *v)
{
	struct vmclock_abi *p = v->abi, n;
	struct vmch_line g;
	u64 t0 = local_clock();
	u32 seq;

	lockdep_assert_held(&vmch.lock);
	v->verdict = vmch_view_page(v, &vmch.line, &g, &n);
	if (v->verdict == VMC_PAGE_OK) {
		v->good = g;
	} else {
		pr_warn_ratelimited("view transform %llu/2^%u cannot carry the line (%s): published unreliable\n",
				    v->tsc_ratio, v->tsc_frac_bits,
				    vmc_page_verdict_str(v->verdict));
		g = v->good;
		vmch_unreliable(&g);
		vmch_page_fill(&n, v, &g);
	}

	/*
	 * Odd while writing; readers spin until it is even again (100 ms in
	 * ptp_vmclock), so the window is never preempted nor migrated.
	 */
	preempt_disable();
	seq = le32_to_cpu(p->seq_count) | 1;
	WRITE_ONCE(p->seq_count, cpu_to_le32(seq));
	/* odd seq_count visible before any field changes */
	smp_wmb();
	memcpy((u8 *)p + VMCH_BODY, (u8 *)&n + VMCH_BODY,
	       sizeof(n) - VMCH_BODY);
	/* all fields visible before seq_count becomes even */
	smp_wmb();
	WRITE_ONCE(p->seq_count, cpu_to_le32(seq + 1));
	preempt_enable();
	wake_up_interruptible(&v->wq);

	/* current views at the tail: the stale ones stay in front */
	v->gen = vmch.gen;
	list_move_tail(&v->node, &vmch.views);
	v->rewrites++;
	vmch.page_writes++;
	vmch.page_write_ns += local_clock() - t0;
}

/*
 * The reference as published: after reference_timeout_ms without a new
 * one, free-running with a maxerror rate of at least 500 ppm (the kernel's
 * own MAXFREQ growth), so a guest's bound grows with the counter's age.
 */
static void vmch_ref_line(struct vmch_line *l)
{
	u64 age = local_clock() - vmch.ref_t;

	*l = vmch.ref;
	vmch.ref_expired = reference_timeout_ms &&
			   age > (u64)reference_timeout_ms * NSEC_PER_MSEC;
	if (!vmch.ref_expired)
		return;
	if (l->clock_status != VMCLOCK_STATUS_UNRELIABLE)
		l->clock_status = VMCLOCK_STATUS_FREERUNNING;
	if (l->flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID) {
		l->period_maxerr = max(l->period_maxerr,
				       l->period_frac / VMCH_MAXERR_RATE_DIV);
		l->flags |= VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;
	}
}

/*
 * Recompute the line; a new line makes every view stale. Without time
 * data the last good line stays, marked unreliable: counter_id and
 * time_type never change (the ABI calls them constant).
 */
static void vmch_update(bool force)
{
	struct vmch_line l = {};
	bool step = false;

	lockdep_assert_held(&vmch.lock);
	if (vmch.ref_active) {
		vmch_ref_line(&l);
	} else if (vmch_kernel_line(&l, &step)) {
		vmch.good = l;
	} else {
		l = vmch.good;
		vmch_unreliable(&l);
	}
	if (!force && !step && vmch.have_line &&
	    !memcmp(&l, &vmch.line, sizeof(l)))
		return;
	vmch.line = l;
	vmch.have_line = true;
	vmch.gen++;
	vmch.publishes++;
}

/*
 * Rewrite the stale views, VMCH_BATCH per hold of the lock, so that a
 * VMM's ioctl never waits behind all of them. Called and returns with
 * vmch.lock held; drops it in between.
 */
static void vmch_sync_views(void)
{
	struct vmch_view *v;
	unsigned int n;

	lockdep_assert_held(&vmch.lock);
	for (;;) {
		for (n = 0; n < VMCH_BATCH; n++) {
			v = list_first_entry(&vmch.views, struct vmch_view,
					     node);
			if (v->gen == vmch.gen)
				break;
			vmch_view_write(v);
		}
		vmch.batch_max = max(vmch.batch_max, n);
		if (n < VMCH_BATCH)
			return;
		mutex_unlock(&vmch.lock);
		cond_resched();
		mutex_lock(&vmch.lock);
	}
}

static void vmch_account(u64 t0)
{
	u64 dt = local_clock() - t0;

	vmch.work_ns += dt;
	if (dt > vmch.work_ns_max)
		vmch.work_ns_max = dt;
}

static void vmch_publish_fn(struct work_struct *w)
{
	u64 t0 = local_clock();

	mutex_lock(&vmch.lock);
	vmch_update(false);
	vmch_sync_views();
	vmch_account(t0);
	mutex_unlock(&vmch.lock);
}

static void vmch_poll_fn(struct work_struct *w)
{
	u64 t0 = local_clock();

	mutex_lock(&vmch.lock);
	vmch.polls++;
	vmch_update(false);
	vmch_sync_views();
	vmch_account(t0);
	mutex_unlock(&vmch.lock);
	schedule_delayed_work(&vmch.poll_work,
			      msecs_to_jiffies(max(ntp_poll_ms, 10U)));
}

/* From the notifier's irq_work: hard IRQ context. */
static void vmch_kick(void)
{
	queue_work(system_highpri_wq, &vmch.publish_work);
}

/* File operations ------------------------------------------------------- */

/* A view's page and fields; the caller links it in. */
static int vmch_view_init(struct vmch_view *v, gfp_t gfp)
{
	v->page = alloc_page(gfp | __GFP_ZERO);
	if (!v->page)
		return -ENOMEM;
	v->abi = page_address(v->page);
	v->abi->magic = cpu_to_le32(VMCLOCK_MAGIC);
	v->abi->size = cpu_to_le32(PAGE_SIZE);
	v->abi->version = cpu_to_le16(VMCLOCK_VERSION);
	v->abi->counter_id = VMCH_COUNTER_ID;
	v->abi->time_type = VMCLOCK_TIME_UTC;
	init_waitqueue_head(&v->wq);
	v->tsc_ratio = 1;			/* identity, frac_bits 0 */
	/* random starts: a new view never repeats an old view's values */
	v->disruption_marker = get_random_u64();
	v->vm_gen = get_random_u64();
	return 0;
}

/*
 * Read-only files share vmch.host. A file open for writing (a VMM: the
 * node's group or ACL) gets its own view: one page, charged to the
 * opener's memory cgroup, at most max_views of them.
 */
static int vmch_open(struct inode *inode, struct file *f)
{
	struct vmch_file *vf;
	struct vmch_view *v;
	int ret = -ENOMEM;

	vf = kzalloc(sizeof(*vf), GFP_KERNEL_ACCOUNT);
	if (!vf)
		return -ENOMEM;
	f->private_data = vf;
	if (!(f->f_mode & FMODE_WRITE)) {
		vf->v = &vmch.host;
		return 0;
	}

	v = kzalloc(sizeof(*v), GFP_KERNEL_ACCOUNT);
	if (!v)
		goto free_file;
	ret = vmch_view_init(v, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto free_view;

	mutex_lock(&vmch.lock);
	if (vmch.nviews >= max_views) {
		mutex_unlock(&vmch.lock);
		pr_warn_ratelimited("%u views open (max_views): open refused\n",
				    max_views);
		ret = -ENOSPC;
		goto free_page;
	}
	vmch.nviews++;
	v->good = vmch.good;
	list_add_tail(&v->node, &vmch.views);
	vmch_view_write(v);
	mutex_unlock(&vmch.lock);
	vf->v = v;
	return 0;

free_page:
	__free_page(v->page);
free_view:
	kfree(v);
free_file:
	kfree(vf);
	return ret;
}

static int vmch_release(struct inode *inode, struct file *f)
{
	struct vmch_file *vf = f->private_data;
	struct vmch_view *v = vf->v;

	kfree(vf);
	if (v == &vmch.host)
		return 0;
	mutex_lock(&vmch.lock);
	list_del(&v->node);
	vmch.nviews--;
	mutex_unlock(&vmch.lock);
	/* a page still pinned elsewhere (get_user_pages) lives on until put */
	__free_page(v->page);
	kfree(v);
	return 0;
}

/* A seq-consistent copy of the page's fields (sizeof(struct vmclock_abi)). */
static ssize_t vmch_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct vmch_file *vf = iocb->ki_filp->private_data;
	struct vmclock_abi *abi = vf->v->abi;
	const size_t max = sizeof(struct vmclock_abi);
	/* a time, as ptp_vmclock: a writer's window is never preempted */
	unsigned long timeout = jiffies + msecs_to_jiffies(100);
	struct vmclock_abi copy;
	loff_t pos = iocb->ki_pos;
	size_t n;
	u32 seq;

	if (pos < 0)
		return -EINVAL;
	if (pos >= max || !iov_iter_count(to))
		return 0;
	for (;;) {
		seq = le32_to_cpu(READ_ONCE(abi->seq_count));
		if (!(seq & 1)) {
			/* fields read after seq_count, pairs with the writer */
			smp_rmb();
			memcpy(&copy, abi, max);
			/* and seq_count read again after the fields */
			smp_rmb();
			if (seq == le32_to_cpu(READ_ONCE(abi->seq_count)))
				break;
		}
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		cond_resched();
		cpu_relax();
	}
	n = copy_to_iter((u8 *)&copy + pos, min(max - pos, iov_iter_count(to)),
			 to);
	if (!n)
		return -EFAULT;
	WRITE_ONCE(vf->read_seq, seq);
	iocb->ki_pos = pos + n;
	return n;
}

static __poll_t vmch_poll(struct file *f, poll_table *wait)
{
	struct vmch_file *vf = f->private_data;
	struct vmch_view *v = vf->v;

	poll_wait(f, &v->wq, wait);
	if (le32_to_cpu(READ_ONCE(v->abi->seq_count)) != READ_ONCE(vf->read_seq))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/*
 * The page again after MADV_DONTNEED or a fork. The mapping holds the
 * file, the file the view, so the page outlives close() of the fd.
 */
static vm_fault_t vmch_fault(struct vm_fault *vmf)
{
	struct page *page = vmf->vma->vm_private_data;

	if (vmf->pgoff)
		return VM_FAULT_SIGBUS;
	get_page(page);
	vmf->page = page;
	return 0;
}

static const struct vm_operations_struct vmch_vm_ops = {
	.fault = vmch_fault,
};

/* Exactly one page, read-only, never to be made writable or executable. */
static int vmch_mmap(struct file *f, struct vm_area_struct *vma)
{
	struct vmch_file *vf = f->private_data;

	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != PAGE_SIZE)
		return -EINVAL;
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
	/*
	 * No VM_MAYWRITE: neither mprotect() nor FOLL_FORCE (ptrace,
	 * /proc/PID/mem) can write it, not even as a private COW copy.
	 */
#ifdef VMCD_HAVE_VM_FLAGS_CLEAR
	vm_flags_mod(vma, VM_DONTEXPAND | VM_DONTDUMP,
		     VM_MAYWRITE | VM_MAYEXEC);
#else
	vma->vm_flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
#endif
	vma->vm_private_data = vf->v->page;
	vma->vm_ops = &vmch_vm_ops;
	return 0;
}

/* ioctls ---------------------------------------------------------------- */

static long vmch_get_info(struct vmch_view *v, void __user *arg)
{
	struct vmclock_host_info info = { .size = sizeof(info) };

	mutex_lock(&vmch.lock);
	info.flags = (vmch.ref_active ? VMCLOCK_HOST_INFO_REFERENCE : 0) |
		     (vmch.counter_ok ? VMCLOCK_HOST_INFO_COUNTER_OK : 0) |
		     (vmch.ntp_ok ? VMCLOCK_HOST_INFO_NTP_OK : 0) |
		     (v == &vmch.host ? VMCLOCK_HOST_INFO_SHARED : 0) |
		     (vmch.ref_active && vmch.ref_expired ?
		      VMCLOCK_HOST_INFO_REFERENCE_EXPIRED : 0);
	info.page_verdict = v->verdict;
	info.tsc_offset = v->tsc_offset;
	info.tsc_ratio = v->tsc_ratio;
	info.tsc_frac_bits = v->tsc_frac_bits;
	info.counter_id = v->abi->counter_id;
	info.clock_status = v->abi->clock_status;
	info.disruption_marker = v->disruption_marker;
	info.vm_generation_counter = v->vm_gen;
	info.rewrites = v->rewrites;
	strscpy(info.clocksource, vmch.cs_name, sizeof(info.clocksource));
	mutex_unlock(&vmch.lock);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static bool vmch_zero(const u8 *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

static long vmch_set_tsc(struct vmch_view *v, const void __user *arg)
{
	struct vmclock_host_tsc t;
	struct vmch_view try;
	struct vmclock_abi n;
	struct vmch_line g;
	int log2r;

	if (copy_from_user(&t, arg, sizeof(t)))
		return -EFAULT;
	if (t.size != sizeof(t) || t.flags || !vmch_zero(t.pad, sizeof(t.pad)))
		return -EINVAL;
	if (!t.ratio || t.frac_bits > 63)
		return -EINVAL;
	/* floor(log2(ratio * 2^-frac_bits)) */
	log2r = fls64(t.ratio) - 1 - t.frac_bits;
	if (log2r < VMCLOCK_HOST_TSC_RATIO_MIN_LOG2 ||
	    log2r > VMCLOCK_HOST_TSC_RATIO_MAX_LOG2 ||
	    (log2r == VMCLOCK_HOST_TSC_RATIO_MAX_LOG2 &&
	     t.ratio != 1ULL << (t.frac_bits + VMCLOCK_HOST_TSC_RATIO_MAX_LOG2)))
		return -EINVAL;

	/* the page it makes from the current line must pass validation */
	try.tsc_ratio = t.ratio;
	try.tsc_frac_bits = t.frac_bits;
	try.tsc_offset = t.offset;
	mutex_lock(&vmch.lock);
	try.disruption_marker = v->disruption_marker;
	try.vm_gen = v->vm_gen;
	if (vmch_view_page(&try, &vmch.line, &g, &n) != VMC_PAGE_OK) {
		mutex_unlock(&vmch.lock);
		return -EINVAL;
	}
	v->tsc_offset = t.offset;
	v->tsc_ratio = t.ratio;
	v->tsc_frac_bits = t.frac_bits;
	vmch_view_write(v);
	mutex_unlock(&vmch.lock);
	return 0;
}

static long vmch_bump(struct vmch_view *v, bool generation)
{
	mutex_lock(&vmch.lock);
	v->disruption_marker++;
	if (generation)
		v->vm_gen++;
	vmch_view_write(v);
	mutex_unlock(&vmch.lock);
	return 0;
}

static long vmch_set_reference(const void __user *arg)
{
	struct vmclock_host_reference r;
	struct vmclock_abi pg = {};
	struct vmch_line l = {};

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	if (r.size != sizeof(r) || r.flags || !vmch_zero(r.pad, sizeof(r.pad)))
		return -EINVAL;
	if (r.page_flags & ~VMCLOCK_HOST_REF_PAGE_FLAGS)
		return -EINVAL;
	if (r.time_type != VMCLOCK_TIME_UTC && r.time_type != VMCLOCK_TIME_TAI)
		return -EINVAL;

	/* the page it would make must pass the guests' own validation */
	pg.magic = cpu_to_le32(VMCLOCK_MAGIC);
	pg.size = cpu_to_le32(PAGE_SIZE);
	pg.version = cpu_to_le16(VMCLOCK_VERSION);
	pg.counter_id = VMCH_COUNTER_ID;
	pg.time_type = r.time_type;
	pg.flags = cpu_to_le64(r.page_flags);
	pg.clock_status = r.clock_status;
	pg.tai_offset_sec = cpu_to_le16(r.tai_offset_sec);
	pg.leap_indicator = r.leap_indicator;
	pg.counter_period_shift = r.counter_period_shift;
	pg.counter_period_frac_sec = cpu_to_le64(r.counter_period_frac_sec);
	if (vmc_page_validate(&pg, PAGE_SIZE, VMCH_COUNTER_ID) != VMC_PAGE_OK)
		return -EINVAL;
	/* time_type is constant (UTC): TAI goes out converted, by its offset */
	if (r.time_type == VMCLOCK_TIME_TAI &&
	    !(r.page_flags & VMCLOCK_FLAG_TAI_OFFSET_VALID))
		return -EINVAL;
	/*
	 * Guests accept either sign; this producer's ABI promises Linux's
	 * (UTC - TAI, -10..-1000 s), so the other is a caller's mistake.
	 */
	if ((r.page_flags & VMCLOCK_FLAG_TAI_OFFSET_VALID) &&
	    (r.tai_offset_sec > -10 || r.tai_offset_sec < -1000))
		return -EINVAL;

	l.counter_value = r.counter_value;
	l.period_frac = r.counter_period_frac_sec;
	l.period_esterr = r.counter_period_esterror_rate_frac_sec;
	l.period_maxerr = r.counter_period_maxerror_rate_frac_sec;
	l.time_sec = r.time_type == VMCLOCK_TIME_TAI ?
		     vmc_utc_from_tai(r.time_sec, -r.tai_offset_sec) : r.time_sec;
	l.time_frac = r.time_frac_sec;
	l.time_esterror_ns = r.time_esterror_nanosec;
	l.time_maxerror_ns = r.time_maxerror_nanosec;
	l.flags = r.page_flags;
	l.tai_offset_sec = r.tai_offset_sec;
	l.counter_id = VMCH_COUNTER_ID;
	l.time_type = VMCLOCK_TIME_UTC;
	l.clock_status = r.clock_status;
	l.leap_indicator = r.leap_indicator;
	l.period_shift = r.counter_period_shift;

	mutex_lock(&vmch.lock);
	vmch.ref = l;
	vmch.ref_t = local_clock();
	vmch.ref_active = true;
	vmch_update(true);
	vmch_sync_views();
	mutex_unlock(&vmch.lock);
	return 0;
}

static long vmch_clear_reference(void)
{
	mutex_lock(&vmch.lock);
	if (vmch.ref_active) {
		vmch.ref_active = false;
		vmch.ref_expired = false;
		vmch_update(true);
		vmch_sync_views();
	}
	mutex_unlock(&vmch.lock);
	return 0;
}

static long vmch_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	struct vmch_file *vf = f->private_data;
	struct vmch_view *v = vf->v;
	void __user *uarg = (void __user *)arg;
	bool writer = f->f_mode & FMODE_WRITE;

	switch (cmd) {
	case VMCLOCK_HOST_GET_INFO:
		return vmch_get_info(v, uarg);
	case VMCLOCK_HOST_SET_TSC:
		return writer ? vmch_set_tsc(v, uarg) : -EPERM;
	case VMCLOCK_HOST_BUMP_DISRUPTION:
		return writer ? vmch_bump(v, false) : -EPERM;
	case VMCLOCK_HOST_BUMP_GENERATION:
		return writer ? vmch_bump(v, true) : -EPERM;
	case VMCLOCK_HOST_SET_REFERENCE:
		if (!writer || !capable(CAP_SYS_TIME))
			return -EPERM;
		return vmch_set_reference(uarg);
	case VMCLOCK_HOST_CLEAR_REFERENCE:
		if (!writer || !capable(CAP_SYS_TIME))
			return -EPERM;
		return vmch_clear_reference();
	}
	return -ENOTTY;
}

static const struct file_operations vmch_fops = {
	.owner = THIS_MODULE,
	.open = vmch_open,
	.release = vmch_release,
	.read_iter = vmch_read_iter,
	.poll = vmch_poll,
	.mmap = vmch_mmap,
	.unlocked_ioctl = vmch_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice vmch_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmclock_host",
	.fops = &vmch_fops,
	.mode = 0444,	/* VMMs get write access by group or ACL */
};

/* debugfs: counters for the scale benchmark ---------------------------- */

static int vmch_stats_show(struct seq_file *s, void *unused)
{
	struct vmch_follow_stats fs;

	vmch_follow_stats(&fs);
	mutex_lock(&vmch.lock);
	seq_printf(s, "views %u\n", vmch.nviews);
	seq_printf(s, "notifier_calls %llu\n", fs.calls);
	seq_printf(s, "notifier_copies %llu\n", fs.copies);
	seq_printf(s, "notifier_ns_total %llu\n", fs.ns_total);
	seq_printf(s, "notifier_ns_max %llu\n", fs.ns_max);
	seq_printf(s, "publishes %llu\n", vmch.publishes);
	seq_printf(s, "publish_batch_max %u\n", vmch.batch_max);
	seq_printf(s, "page_writes %llu\n", vmch.page_writes);
	seq_printf(s, "page_write_ns_total %llu\n", vmch.page_write_ns);
	seq_printf(s, "work_ns_total %llu\n", vmch.work_ns);
	seq_printf(s, "work_ns_max %llu\n", vmch.work_ns_max);
	seq_printf(s, "ntp_polls %llu\n", vmch.polls);
	seq_printf(s, "reference %d\n", vmch.ref_active);
	seq_printf(s, "clocksource %s\n", vmch.cs_name);
	mutex_unlock(&vmch.lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmch_stats);

/* Nominal line until the host has given one: 1 GHz, no time data. */
static void vmch_line_init(struct vmch_line *l)
{
	memset(l, 0, sizeof(*l));
	l->counter_id = VMCH_COUNTER_ID;
	l->time_type = VMCLOCK_TIME_UTC;
	l->period_frac = 0x89705f4136b4a597ULL;	/* 2^93 / 10^9 */
	l->period_shift = 29;
	l->clock_status = VMCLOCK_STATUS_UNRELIABLE;
}

static int __init vmch_init(void)
{
	int ret;

	mutex_init(&vmch.lock);
	INIT_LIST_HEAD(&vmch.views);
	INIT_WORK(&vmch.publish_work, vmch_publish_fn);
	INIT_DELAYED_WORK(&vmch.poll_work, vmch_poll_fn);
	vmch_line_init(&vmch.good);
	vmch.host.good = vmch.good;

	/* before anything is allocated: a refusal has nothing to undo */
	ret = vmch_ntp_init();
	/* Found, but calling it could fault (no ENDBR64 under IBT): refuse. */
	if (ret == -EOPNOTSUPP)
		return ret;
	if (ret)
		pr_warn("host NTP state unreadable (%d): clock_status unknown\n",
			ret);

	ret = vmch_view_init(&vmch.host, GFP_KERNEL);
	if (ret)
		return ret;
	list_add_tail(&vmch.host.node, &vmch.views);
	/* the notifier fires once inside: the host line is there at once */
	ret = vmch_follow_start(vmch_kick);
	if (ret)
		goto free_host;
	/* no file ever sees a page without a line */
	mutex_lock(&vmch.lock);
	vmch_update(true);
	vmch_sync_views();
	mutex_unlock(&vmch.lock);
	ret = misc_register(&vmch_misc);
	if (ret)
		goto stop_follow;
	vmch.debugfs = debugfs_create_dir("vmclock_host", NULL);
	debugfs_create_file("stats", 0444, vmch.debugfs, NULL,
			    &vmch_stats_fops);
	schedule_delayed_work(&vmch.poll_work, 0);
	return 0;

stop_follow:
	vmch_follow_stop();
	cancel_work_sync(&vmch.publish_work);
free_host:
	__free_page(vmch.host.page);
	return ret;
}

static void __exit vmch_exit(void)
{
	misc_deregister(&vmch_misc);
	debugfs_remove_recursive(vmch.debugfs);
	vmch_follow_stop();
	cancel_work_sync(&vmch.publish_work);
	cancel_delayed_work_sync(&vmch.poll_work);
	/* no file is open (each holds the module): no map of it remains */
	__free_page(vmch.host.page);
}

module_init(vmch_init);
module_exit(vmch_exit);

MODULE_DESCRIPTION("vmclock pages with the host's clock for guests");
MODULE_LICENSE("GPL");
MODULE_VERSION(VMCLOCK_PKG_VERSION);
