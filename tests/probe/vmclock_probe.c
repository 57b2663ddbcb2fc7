// SPDX-License-Identifier: GPL-2.0
/*
 * vmclock_probe - TEST-ONLY measuring module of the QEMU harness.
 *
 * Independent of the project's lib/ and guest/ code on purpose: it shares
 * only the page ABI header. At rate_hz it takes one ktime_get_snapshot(),
 * evaluates the vmclock page's line at the snapshot's counter value with its
 * own 128-bit arithmetic and records
 *
 *	err_ns = CLOCK_REALTIME(cycles) - page_time(cycles)	[ns, signed]
 *
 * (positive: the guest clock is ahead of the page). Samples are read as
 * text lines from /dev/vmclock_probe:
 *
 *	S <mono_raw_ns> <err_ns> <seq> <clock_status> <disruption_marker>
 *	S <mono_raw_ns> nopage <seq> <clock_status> <disruption_marker> <why>
 *	M <mono_raw_ns> <text>		(a line written to the device)
 *	L <count>			(samples lost to a full buffer)
 *
 * The device also offers a read-only mmap of the vmclock page.
 * At load the probe writes a struct vmclock_mailbox (tests/vm/mailbox.h)
 * into the mailbox page for the host-side simulator.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/io.h>
#include <linux/hrtimer.h>
#include <linux/timekeeping.h>
#include <linux/timekeeper_internal.h>
#include <linux/pvclock_gtod.h>
#include <linux/clocksource.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/string.h>

#include "../../include/vmclock_abi.h"
#include "../vm/mailbox.h"

/* Kernel interface drift; PROBE_HAVE_* come from the Kbuild header tests. */
struct probe_snap {
	u64 cycles;
	ktime_t real, raw;
};

static void probe_snapshot(struct probe_snap *p)
{
	struct system_time_snapshot snap;

#ifdef PROBE_HAVE_SNAPSHOT_ID
	ktime_get_snapshot_id(CLOCK_REALTIME, &snap);
	p->real = snap.systime;
	p->raw = snap.monoraw;
#else
	ktime_get_snapshot(&snap);
	p->real = snap.real;
	p->raw = snap.raw;
#endif
	p->cycles = snap.cycles;
}

static void probe_vma_clear_maywrite(struct vm_area_struct *vma)
{
#ifdef PROBE_HAVE_VM_FLAGS_CLEAR
	vm_flags_clear(vma, VM_MAYWRITE);
#else
	vma->vm_flags &= ~VM_MAYWRITE;
#endif
}

static void probe_hrtimer_setup(struct hrtimer *t,
				enum hrtimer_restart (*fn)(struct hrtimer *))
{
#ifdef PROBE_HAVE_HRTIMER_SETUP
	hrtimer_setup(t, fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
#else
	hrtimer_init(t, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	t->function = fn;
#endif
}

static unsigned long page_phys = 0x1f000000;
module_param(page_phys, ulong, 0444);
MODULE_PARM_DESC(page_phys, "guest-physical address of the vmclock page (default 0x1f000000)");

static unsigned long mailbox_phys = 0x1f001000;
module_param(mailbox_phys, ulong, 0444);
MODULE_PARM_DESC(mailbox_phys, "guest-physical address of the harness mailbox page (default 0x1f001000)");

static unsigned int rate_hz = 100;
module_param(rate_hz, uint, 0444);
MODULE_PARM_DESC(rate_hz, "samples per second, 1..1000 (default 100)");

/*
 * The harness's simulator keeps writing the true line while it publishes
 * counter_id 0xff ("no time data"), so the probe can still measure what
 * the clock does while a discipline must not follow the page.
 */
/*
 * With truth_phys (the simulator's truth page, 0x1f002000) the probe
 * measures against that page, which always carries the true line, so the
 * clock is measured while the published page is malformed or poisoned.
 */
static unsigned long truth_phys;
module_param(truth_phys, ulong, 0444);
MODULE_PARM_DESC(truth_phys, "guest-physical address of the simulator's truth page; 0: measure against the published page (default 0)");

static bool any_counter_id;
module_param(any_counter_id, bool, 0444);
MODULE_PARM_DESC(any_counter_id, "measure against the time fields whatever counter_id says (default N)");

/* A sample line is < 100 bytes; 8192 samples is 80 s at 100 Hz. */
#define PROBE_RING	8192
/* Bounded seq retries: a writer holds seq odd for microseconds only. */
#define PROBE_SEQ_TRIES	1000

enum sample_kind { SAMPLE_ERR, SAMPLE_NOPAGE, SAMPLE_MARK, SAMPLE_STEP };

struct probe_sample {
	u8 kind;
	u8 status;
	s64 raw_ns;
	s64 err_ns;
	u32 seq;
	u64 marker;
	const char *why;
	char text[48];
};

struct probe_tk_info {
	u32 raw_mult, raw_shift, mono_mult, mono_shift;
	u64 cycle_interval, ntp_tick;
	char name[16];
};

static struct vmclock_abi *page;
static struct vmclock_abi *truth;	/* NULL without truth_phys */
static struct vmclock_mailbox *mailbox;
static struct probe_tk_info tk_info;
static struct hrtimer probe_timer;
static ktime_t probe_period;

static DEFINE_SPINLOCK(ring_lock);
static DECLARE_WAIT_QUEUE_HEAD(ring_wait);
static struct probe_sample *ring;
static unsigned int ring_head, ring_tail;	/* head: next write */
static unsigned long ring_lost;

/* Called once at registration, timekeeper lock held, IRQs off: copy only. */
static int probe_tk_notify(struct notifier_block *nb, unsigned long was_set,
			   void *priv)
{
	struct timekeeper *tk = priv;

	tk_info.raw_mult = tk->tkr_raw.mult;
	tk_info.raw_shift = tk->tkr_raw.shift;
	tk_info.mono_mult = tk->tkr_mono.mult;
	tk_info.mono_shift = tk->tkr_mono.shift;
	tk_info.cycle_interval = tk->cycle_interval;
	tk_info.ntp_tick = tk->ntp_tick;
	strscpy(tk_info.name, tk->tkr_mono.clock->name, sizeof(tk_info.name));
	return NOTIFY_OK;
}

static struct notifier_block probe_tk_nb = {
	.notifier_call = probe_tk_notify,
};

/*
 * Steps of CLOCK_REALTIME, counted by the probe itself, not by the code
 * under test: whoever sets the clock (ADJ_SETOFFSET, settimeofday, the
 * kernel's own leap second) moves the timekeeper's realtime - monotonic
 * offset, and the timekeeper then calls this with was_set. A TAI change
 * or a frequency change moves nothing here. Timekeeper lock held, IRQs
 * off: only note it; the sampling timer reports it.
 */
static ktime_t step_offs_real;
static bool step_have_offs;
static atomic_t step_count;
static atomic64_t step_sum_ns;

static int probe_step_notify(struct notifier_block *nb, unsigned long was_set,
			     void *priv)
{
	struct timekeeper *tk = priv;
	s64 d = ktime_to_ns(ktime_sub(tk->offs_real, step_offs_real));

	if (step_have_offs && d) {
		atomic64_add(d, &step_sum_ns);
		atomic_inc(&step_count);
	}
	step_offs_real = tk->offs_real;
	step_have_offs = true;
	return NOTIFY_OK;
}

static struct notifier_block probe_step_nb = {
	.notifier_call = probe_step_notify,
};

static void ring_push(const struct probe_sample *s)
{
	unsigned long flags;

	spin_lock_irqsave(&ring_lock, flags);
	if (ring_head - ring_tail >= PROBE_RING) {
		ring_lost++;
	} else {
		ring[ring_head % PROBE_RING] = *s;
		ring_head++;
	}
	spin_unlock_irqrestore(&ring_lock, flags);
	wake_up_interruptible(&ring_wait);
}

/*
 * Page time at @cycles in ns since the epoch of UTC, rounded to nearest.
 * delta is signed: counter_value may lie ahead of @cycles.
 */
static s64 page_time_ns(const struct vmclock_abi *p, u64 cycles)
{
	s64 delta = (s64)(cycles - le64_to_cpu(p->counter_value));
	__uint128_t frac_ns;
	__int128_t t;
	s64 sec;

	/* 2^-64 s units: time_sec * 2^64 + time_frac + delta * period */
	t = ((__int128_t)delta *
	     (__int128_t)le64_to_cpu(p->counter_period_frac_sec)) >>
	    p->counter_period_shift;
	t += (__int128_t)le64_to_cpu(p->time_frac_sec);
	t += (__int128_t)le64_to_cpu(p->time_sec) << 64;
	sec = (s64)(t >> 64);
	/* Fraction to ns, +2^63 rounds to nearest; may carry into a second. */
	frac_ns = ((__uint128_t)(u64)t * NSEC_PER_SEC + (1ULL << 63)) >> 64;
	if (p->time_type == VMCLOCK_TIME_TAI)
		sec += (s16)le16_to_cpu(p->tai_offset_sec);	/* UTC - TAI */
	return sec * NSEC_PER_SEC + (s64)frac_ns;
}

/* Seq-consistent copy of @src; false if the page never settled. */
static bool page_copy(const struct vmclock_abi *src, struct vmclock_abi *out)
{
	int i;

	for (i = 0; i < PROBE_SEQ_TRIES; i++) {
		u32 s1 = le32_to_cpu(READ_ONCE(src->seq_count));

		if (s1 & 1) {
			cpu_relax();
			continue;
		}
		virt_rmb();	/* seq before the fields (producer: wmb) */
		memcpy(out, src, sizeof(*out));
		virt_rmb();	/* fields before the seq re-check */
		if (le32_to_cpu(READ_ONCE(src->seq_count)) == s1)
			return true;
	}
	return false;
}

static const char *page_invalid(const struct vmclock_abi *p)
{
	if (le32_to_cpu(p->magic) != VMCLOCK_MAGIC)
		return "magic";
	if (le32_to_cpu(p->size) < sizeof(*p))
		return "size";
	if (le16_to_cpu(p->version) != VMCLOCK_VERSION)
		return "version";
	if (p->counter_id != VMCLOCK_COUNTER_X86_TSC && !any_counter_id)
		return "counter_id";
	if (p->time_type != VMCLOCK_TIME_UTC &&
	    p->time_type != VMCLOCK_TIME_TAI)
		return "time_type";
	if (p->counter_period_shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return "shift";
	if (!p->counter_period_frac_sec)
		return "zero_period";
	return NULL;
}

static enum hrtimer_restart probe_tick(struct hrtimer *t)
{
	struct probe_snap snap;
	struct probe_sample s = { 0 };
	struct vmclock_abi p;

	probe_snapshot(&snap);
	WRITE_ONCE(mailbox->hb_tsc, snap.cycles);
	s.raw_ns = ktime_to_ns(snap.raw);
	if (atomic_read(&step_count)) {
		struct probe_sample j = { .kind = SAMPLE_STEP };

		j.raw_ns = s.raw_ns;
		j.seq = atomic_xchg(&step_count, 0);
		j.err_ns = atomic64_xchg(&step_sum_ns, 0);
		ring_push(&j);
	}
	if (!page_copy(truth ? truth : page, &p)) {
		s.kind = SAMPLE_NOPAGE;
		s.why = "seq_stuck";
		s.seq = le32_to_cpu(READ_ONCE((truth ? truth : page)->seq_count));
	} else {
		s.seq = le32_to_cpu(p.seq_count);
		s.status = p.clock_status;
		s.marker = le64_to_cpu(p.disruption_marker);
		s.why = page_invalid(&p);
		if (s.why) {
			s.kind = SAMPLE_NOPAGE;
		} else {
			s.kind = SAMPLE_ERR;
			s.err_ns = ktime_to_ns(snap.real) -
				   page_time_ns(&p, snap.cycles);
		}
	}
	ring_push(&s);
	hrtimer_forward_now(t, probe_period);
	return HRTIMER_RESTART;
}

static int probe_format(const struct probe_sample *s, char *buf, size_t len)
{
	switch (s->kind) {
	case SAMPLE_ERR:
		return scnprintf(buf, len, "S %lld %lld %u %u %llu\n",
				 s->raw_ns, s->err_ns, s->seq, s->status,
				 s->marker);
	case SAMPLE_STEP:	/* J <mono_raw_ns> <steps> <sum of steps, ns> */
		return scnprintf(buf, len, "J %lld %u %lld\n", s->raw_ns,
				 s->seq, s->err_ns);
	case SAMPLE_NOPAGE:
		return scnprintf(buf, len, "S %lld nopage %u %u %llu %s\n",
				 s->raw_ns, s->seq, s->status, s->marker,
				 s->why);
	default:
		return scnprintf(buf, len, "M %lld %s\n", s->raw_ns, s->text);
	}
}

/* Blocks until a sample is there; returns whole lines only. */
static ssize_t probe_read(struct file *f, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	char line[128];
	size_t done = 0;
	int ret;

	ret = wait_event_interruptible(ring_wait,
				       READ_ONCE(ring_head) != READ_ONCE(ring_tail));
	if (ret)
		return ret;

	while (done < count) {
		struct probe_sample s;
		unsigned long lost;
		int n;

		spin_lock_irq(&ring_lock);
		lost = ring_lost;
		if (!lost && ring_head == ring_tail) {
			spin_unlock_irq(&ring_lock);
			break;
		}
		if (lost)
			ring_lost = 0;
		else
			s = ring[ring_tail % PROBE_RING];
		spin_unlock_irq(&ring_lock);

		if (lost)
			n = scnprintf(line, sizeof(line), "L %lu\n", lost);
		else
			n = probe_format(&s, line, sizeof(line));
		if (n > count - done) {
			if (lost) {	/* put the count back */
				spin_lock_irq(&ring_lock);
				ring_lost += lost;
				spin_unlock_irq(&ring_lock);
			}
			break;
		}
		if (copy_to_user(ubuf + done, line, n))
			return done ? done : -EFAULT;
		if (!lost) {
			spin_lock_irq(&ring_lock);
			ring_tail++;
			spin_unlock_irq(&ring_lock);
		}
		done += n;
	}
	return done;
}

/* A written line becomes an "M <mono_raw_ns> <text>" marker in the stream. */
static ssize_t probe_write(struct file *f, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	struct probe_sample s = { .kind = SAMPLE_MARK };
	size_t n = min(count, sizeof(s.text) - 1);

	if (copy_from_user(s.text, ubuf, n))
		return -EFAULT;
	s.text[n] = 0;
	strreplace(s.text, '\n', ' ');
	strim(s.text);
	s.raw_ns = ktime_get_raw_ns();
	ring_push(&s);
	return count;
}

static __poll_t probe_poll(struct file *f, poll_table *wait)
{
	poll_wait(f, &ring_wait, wait);
	return READ_ONCE(ring_head) != READ_ONCE(ring_tail) ?
	       EPOLLIN | EPOLLRDNORM : 0;
}

/* Read-only mapping of the vmclock page for the userspace cross-check. */
static int probe_mmap(struct file *f, struct vm_area_struct *vma)
{
	if (vma->vm_end - vma->vm_start != PAGE_SIZE || vma->vm_pgoff)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	probe_vma_clear_maywrite(vma);
	return remap_pfn_range(vma, vma->vm_start, page_phys >> PAGE_SHIFT,
			       PAGE_SIZE, vma->vm_page_prot);
}

static const struct file_operations probe_fops = {
	.owner = THIS_MODULE,
	.read = probe_read,
	.write = probe_write,
	.poll = probe_poll,
	.mmap = probe_mmap,
	.llseek = noop_llseek,
};

static struct miscdevice probe_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vmclock_probe",
	.fops = &probe_fops,
	.mode = 0444,
};

static void probe_write_mailbox(void)
{
	struct probe_snap snap;
	struct vmclock_mailbox *mb = mailbox;

	probe_snapshot(&snap);
	WRITE_ONCE(mb->magic, 0);
	virt_wmb();	/* the host sees no magic while the fields change */
	mb->seq = READ_ONCE(mb->seq) + 1;
	mb->tsc = snap.cycles;
	mb->realtime_ns = ktime_to_ns(snap.real);
	mb->mono_raw_ns = ktime_to_ns(snap.raw);
	mb->raw_mult = tk_info.raw_mult;
	mb->raw_shift = tk_info.raw_shift;
	memcpy(mb->clocksource, tk_info.name, sizeof(mb->clocksource));
	mb->cycle_interval = tk_info.cycle_interval;
	mb->ntp_tick = tk_info.ntp_tick;
	mb->mono_mult = tk_info.mono_mult;
	mb->mono_shift = tk_info.mono_shift;
	WRITE_ONCE(mb->hb_tsc, snap.cycles);
	virt_wmb();	/* fields before the magic that publishes them */
	WRITE_ONCE(mb->magic, VMCLOCK_MAILBOX_MAGIC);
}

static int __init probe_init(void)
{
	int ret;

	if (!rate_hz || rate_hz > 1000 || (page_phys | mailbox_phys) & ~PAGE_MASK)
		return -EINVAL;

	ring = kvcalloc(PROBE_RING, sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;

	page = memremap(page_phys, PAGE_SIZE, MEMREMAP_WB);
	if (!page) {
		ret = -ENOMEM;
		goto err_free_ring;
	}
	mailbox = memremap(mailbox_phys, PAGE_SIZE, MEMREMAP_WB);
	if (!mailbox) {
		ret = -ENOMEM;
		goto err_unmap_page;
	}

	if (truth_phys) {
		truth = memremap(truth_phys, PAGE_SIZE, MEMREMAP_WB);
		if (!truth) {
			ret = -ENOMEM;
			goto err_unmap_mailbox;
		}
	}

	/* Fires once at registration with the timekeeper. */
	ret = pvclock_gtod_register_notifier(&probe_tk_nb);
	if (ret)
		goto err_unmap_truth;
	pvclock_gtod_unregister_notifier(&probe_tk_nb);
	pr_info("clocksource %s raw mult %u shift %u\n", tk_info.name,
		tk_info.raw_mult, tk_info.raw_shift);

	ret = pvclock_gtod_register_notifier(&probe_step_nb);
	if (ret)
		goto err_unmap_truth;

	ret = misc_register(&probe_misc);
	if (ret)
		goto err_step_nb;

	probe_write_mailbox();

	probe_period = ns_to_ktime(NSEC_PER_SEC / rate_hz);
	probe_hrtimer_setup(&probe_timer, probe_tick);
	hrtimer_start(&probe_timer, probe_period, HRTIMER_MODE_REL);
	return 0;

err_step_nb:
	pvclock_gtod_unregister_notifier(&probe_step_nb);
err_unmap_truth:
	if (truth)
		memunmap(truth);
err_unmap_mailbox:
	memunmap(mailbox);
err_unmap_page:
	memunmap(page);
err_free_ring:
	kvfree(ring);
	return ret;
}

static void __exit probe_exit(void)
{
	hrtimer_cancel(&probe_timer);
	misc_deregister(&probe_misc);
	pvclock_gtod_unregister_notifier(&probe_step_nb);
	if (truth)
		memunmap(truth);
	memunmap(mailbox);
	memunmap(page);
	kvfree(ring);
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_DESCRIPTION("vmclock test harness: independent page-vs-CLOCK_REALTIME probe (test only)");
MODULE_LICENSE("GPL");
