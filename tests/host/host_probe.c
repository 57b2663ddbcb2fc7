// SPDX-License-Identifier: GPL-2.0
/*
 * TEST ONLY: measures /dev/vmclock_host pages against the kernel's own
 * clock. Each HOST_PROBE_SAMPLE reads a view (and optionally a second view
 * with a guest counter transform) through its read(), takes
 * ktime_get_snapshot() and reads again: when the pages did not change, the
 * page time at the snapshot's counter value is compared with the
 * snapshot's CLOCK_REALTIME. All arithmetic here is this file's own 128-bit
 * code, independent of lib/vmclock_math.c.
 *
 * Its own pvclock_gtod notifier notes each change of the line the kernel
 * realises (mult moved, clock set, clocksource changed): a page anchored
 * before one is stale, its rewrite still pending since the oldest such.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pvclock_gtod.h>
#include <linux/sched/clock.h>
#include <linux/spinlock.h>
#include <linux/timekeeper_internal.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include "vmclock_abi.h"
#include "host_probe.h"

#define PS_PER_SEC	1000000000000LL

#define HP_CHANGES	16		/* kept; 16 changes span >= 16 ticks */

struct hp_change {
	u64 cl;				/* cycle_last at the change */
	u64 t;				/* local_clock() ns then */
};

static struct {
	raw_spinlock_t lock;		/* IRQs off */
	bool have;
	u64 interval;			/* xtime_interval, ns << shift per tick */
	struct clocksource *cs;
	unsigned int n;			/* changes so far */
	struct hp_change ch[HP_CHANGES];	/* the last ones, by n % */
} hp_line = { .lock = __RAW_SPIN_LOCK_UNLOCKED(hp_line.lock) };

/* Every timekeeping update, IRQs off under the timekeeper lock. */
static int hp_gtod_notify(struct notifier_block *nb, unsigned long was_set,
			  void *priv)
{
	struct timekeeper *tk = priv;

	raw_spin_lock(&hp_line.lock);
	if (was_set || !hp_line.have || tk->xtime_interval != hp_line.interval ||
	    tk->tkr_mono.clock != hp_line.cs) {
		struct hp_change *c = &hp_line.ch[hp_line.n++ % HP_CHANGES];

		hp_line.have = true;
		hp_line.interval = tk->xtime_interval;
		hp_line.cs = tk->tkr_mono.clock;
		c->cl = tk->tkr_mono.cycle_last;
		c->t = local_clock();
	}
	raw_spin_unlock(&hp_line.lock);
	return NOTIFY_OK;
}

static struct notifier_block hp_gtod_nb = {
	.notifier_call = hp_gtod_notify,
};

/* Page time at counter @c in ps since the epoch (floor). */
static __int128_t hp_page_ps(const struct vmclock_abi *p, u64 c)
{
	u64 cv = le64_to_cpu(p->counter_value);
	u64 frac = le64_to_cpu(p->counter_period_frac_sec);
	unsigned int shift = p->counter_period_shift;
	s64 delta = (s64)(c - cv);
	u64 mag = delta < 0 ? -(u64)delta : (u64)delta;
	__int128_t off, t;

	off = (__int128_t)(((__uint128_t)mag * frac) >> shift);	/* 2^-64 s */
	if (delta < 0)
		off = -off;
	t = (__int128_t)le64_to_cpu(p->time_frac_sec) + off;
	/* arithmetic shift floors for negative t too */
	return (__int128_t)le64_to_cpu(p->time_sec) * PS_PER_SEC +
	       ((t * PS_PER_SEC) >> 64);
}

static s64 hp_clamp(__int128_t v)
{
	if (v > S64_MAX)
		return S64_MAX;
	if (v < S64_MIN)
		return S64_MIN;
	return (s64)v;
}

static int hp_read(struct file *f, struct vmclock_abi *p)
{
	loff_t pos = 0;
	ssize_t n = kernel_read(f, p, sizeof(*p), &pos);

	if (n < 0)
		return n;
	return n == sizeof(*p) ? 0 : -EIO;
}

static int hp_sample(struct host_probe_sample *s)
{
	struct vmclock_abi a1, a2, g1 = {}, g2 = {};
	struct file *f, *g = NULL;
	struct system_time_snapshot snap;
	struct hp_change ch[HP_CHANGES];
	unsigned int nch = 0, i;
	unsigned long flags;
	__int128_t host_ps;
	u64 gc, cv, now;
	int ret = -EAGAIN;

	f = fget(s->fd);
	if (!f)
		return -EBADF;
	if (s->gfd >= 0) {
		g = fget(s->gfd);
		if (!g) {
			fput(f);
			return -EBADF;
		}
	}
	for (s->tries = 1; s->tries <= 100; s->tries++) {
		ret = hp_read(f, &a1);
		if (!ret && g)
			ret = hp_read(g, &g1);
		if (ret)
			break;
		/*
		 * Before the snapshot: a change missed here is younger than
		 * the snapshot, and a line that young is still within a ps.
		 */
		raw_spin_lock_irqsave(&hp_line.lock, flags);
		nch = hp_line.n;
		memcpy(ch, hp_line.ch, sizeof(ch));
		raw_spin_unlock_irqrestore(&hp_line.lock, flags);
		ktime_get_snapshot(&snap);
		ret = hp_read(f, &a2);
		if (!ret && g)
			ret = hp_read(g, &g2);
		if (ret)
			break;
		ret = -EAGAIN;
		if (a1.seq_count == a2.seq_count && g1.seq_count == g2.seq_count) {
			ret = 0;
			break;
		}
	}
	if (ret)
		goto out;
	if (a1.counter_id == VMCLOCK_COUNTER_INVALID) {
		ret = -ENODATA;
		goto out;
	}
	s->cycles = snap.cycles;
	s->real_ns = ktime_to_ns(snap.real);
	s->raw_ns = ktime_to_ns(snap.raw);
	s->seq = le32_to_cpu(a1.seq_count);
	s->gseq = le32_to_cpu(g1.seq_count);
	/*
	 * Pending since the oldest kept change after the page's anchor (all
	 * kept ones after it: since the oldest kept, a lower bound). The
	 * clock read may be another CPU's: never negative.
	 */
	s->pending_ns = -1;
	cv = le64_to_cpu(a1.counter_value);
	now = local_clock();
	for (i = nch > HP_CHANGES ? nch - HP_CHANGES : 0; i < nch; i++) {
		const struct hp_change *c = &ch[i % HP_CHANGES];

		if ((s64)(c->cl - cv) > 0) {
			s->pending_ns = now > c->t ? now - c->t : 0;
			break;
		}
	}
	host_ps = hp_page_ps(&a1, snap.cycles);
	s->err_ps = hp_clamp(host_ps - (__int128_t)s->real_ns * 1000);
	s->gdiff_ps = 0;
	if (g) {
		/* the guest's counter at the same instant, as KVM derives it */
		gc = (u64)(((__uint128_t)snap.cycles * s->ratio) >> s->frac_bits) +
		     s->offset;
		s->gdiff_ps = hp_clamp(hp_page_ps(&g1, gc) - host_ps);
	}
out:
	if (g)
		fput(g);
	fput(f);
	return ret;
}

static long hp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct host_probe_sample s;
	int ret;

	if (cmd != HOST_PROBE_SAMPLE)
		return -ENOTTY;
	if (copy_from_user(&s, (void __user *)arg, sizeof(s)))
		return -EFAULT;
	if (s.frac_bits > 63)
		return -EINVAL;
	ret = hp_sample(&s);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &s, sizeof(s)) ? -EFAULT : 0;
}

static const struct file_operations hp_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = hp_ioctl,
};

static struct miscdevice hp_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmclock_host_probe",
	.fops = &hp_fops,
};

static int __init hp_init(void)
{
	int ret = pvclock_gtod_register_notifier(&hp_gtod_nb);

	if (ret)
		return ret;
	ret = misc_register(&hp_misc);
	if (ret)
		pvclock_gtod_unregister_notifier(&hp_gtod_nb);
	return ret;
}
module_init(hp_init);

static void __exit hp_exit(void)
{
	misc_deregister(&hp_misc);
	pvclock_gtod_unregister_notifier(&hp_gtod_nb);
}
module_exit(hp_exit);
MODULE_DESCRIPTION("TEST ONLY: measures vmclock_host pages against CLOCK_REALTIME");
MODULE_LICENSE("GPL");
