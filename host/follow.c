// SPDX-License-Identifier: GPL-2.0
/*
 * Following the host's timekeeper through the pvclock_gtod notifier.
 *
 * The notifier runs on every timekeeping update (each tick, each
 * adjtimex frequency change, each step) with IRQs off under the
 * timekeeper lock. It only decides whether the published line has moved
 * beyond the tolerance and, if so, copies a handful of fields and raises
 * an irq_work; the pages are rewritten later in process context.
 *
 * The line CLOCK_REALTIME follows (kernel/time/timekeeping.c, 6.1):
 *   - each accumulation adds cycle_interval counter ticks to cycle_last
 *     and (ntp_tick - (xtime_remainder << ntp_error_shift)) ns * 2^32 to
 *     xtime + ntp_error, so that is the NTP-disciplined rate (the kernel
 *     chooses mult from exactly this quotient in timekeeping_adjust());
 *   - ntp_error (ns * 2^32) is the NTP-intended time minus xtime:
 *     positive when the clock is behind; timekeeping_apply_adjustment()
 *     keeps xtime + ntp_error continuous across mult changes, and the
 *     kernel slews xtime towards it by one mult unit.
 */
#include <linux/irq_work.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/pvclock_gtod.h>
#include <linux/sched/clock.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeper_internal.h>
#include "vmclock_host.h"

static bool ntp_error;
module_param(ntp_error, bool, 0444);
MODULE_PARM_DESC(ntp_error,
		 "bool, default N: publish CLOCK_REALTIME as realised (xtime at the current mult, rewritten when mult moves); Y: publish xtime + ntp_error at the NTP tick rate, the line the kernel slews CLOCK_REALTIME to (up to ~1 us away for seconds after a 100 ppm step)");

static unsigned int tolerance_ns = 1;
module_param(tolerance_ns, uint, 0444);
MODULE_PARM_DESC(tolerance_ns,
		 "uint, ns, default 1: rewrite the pages when the host's line has moved further than this from the published one");

#define NS32_PER_SEC	((s64)NSEC_PER_SEC << 32)	/* 1 s in ns * 2^32 */

static struct {
	raw_spinlock_t lock;		/* protects @tk; IRQs off */
	struct vmch_tk tk;
	struct irq_work irq_work;
	void (*kick)(void);

	/* The line handed out last; only the notifier touches these. */
	bool have_last;
	__int128_t last_t;			/* ns * 2^32 since the epoch */
	u64 last_cl;
	s64 last_tick;
	u64 last_interval;
	struct clocksource *last_cs;

	u64 calls, copies, ns_total, ns_max;
} fol;

static bool vmch_cs_is_counter(const struct clocksource *cs)
{
#if defined(CONFIG_X86)
	return !strcmp(cs->name, "tsc") || !strcmp(cs->name, "tsc-early");
#elif defined(CONFIG_ARM64)
	return !strcmp(cs->name, "arch_sys_counter");
#else
	return false;
#endif
}

static void vmch_copy(const struct timekeeper *tk, s64 tick, __int128_t now,
		      bool step)
{
	s64 sec = tk->xtime_sec;
	s64 nsfix = now - (__int128_t)sec * NS32_PER_SEC;

	/* ntp_error is a few ns at most: one pass each way normalises */
	while (nsfix < 0) {
		nsfix += NS32_PER_SEC;
		sec--;
	}
	while (nsfix >= NS32_PER_SEC) {
		nsfix -= NS32_PER_SEC;
		sec++;
	}

	raw_spin_lock(&fol.lock);
	fol.tk.cycle_last = tk->tkr_mono.cycle_last;
	fol.tk.interval = tk->cycle_interval;
	fol.tk.tick = tick;
	fol.tk.xtime_sec = sec;
	fol.tk.nsfix = nsfix;
	fol.tk.seq++;
	if (step)
		fol.tk.steps++;
	if (step || !fol.tk.cs_name[0]) {
		fol.tk.counter_ok = vmch_cs_is_counter(tk->tkr_mono.clock);
		strscpy(fol.tk.cs_name, tk->tkr_mono.clock->name,
			sizeof(fol.tk.cs_name));
	}
	raw_spin_unlock(&fol.lock);
}

static int vmch_gtod_notify(struct notifier_block *nb, unsigned long was_set,
			    void *priv)
{
	struct timekeeper *tk = priv;
	u64 t0 = local_clock(), dt;
	__int128_t now, tol = (__int128_t)tolerance_ns << 32;
	s64 tick;
	bool step, change;

	now = (__int128_t)tk->xtime_sec * NS32_PER_SEC +
	      (s64)(tk->tkr_mono.xtime_nsec << tk->ntp_error_shift);
	if (ntp_error) {
		now += tk->ntp_error;
#ifdef VMCD_HAVE_TK_XTIME_REMAINDER
		tick = tk->ntp_tick -
		       (tk->xtime_remainder << tk->ntp_error_shift);
#else
		/* 7.x folds the remainder into ntp_tick (cs_tick_adj) */
		tick = tk->ntp_tick;
#endif
	} else {
		/* the clock as realised: mult per tick, exact until it moves */
		tick = tk->xtime_interval << tk->ntp_error_shift;
	}

	step = was_set || !fol.have_last || tk->tkr_mono.clock != fol.last_cs;
	change = step || tick != fol.last_tick ||
		 tk->cycle_interval != fol.last_interval;
	if (!change) {
		u64 rem, n = div64_u64_rem(tk->tkr_mono.cycle_last -
					   fol.last_cl, tk->cycle_interval,
					   &rem);
		__int128_t d = now - (fol.last_t + (__int128_t)n * tick);

		change = rem || d > tol || d < -tol;
	}
	if (change) {
		fol.have_last = true;
		fol.last_t = now;
		fol.last_cl = tk->tkr_mono.cycle_last;
		fol.last_tick = tick;
		fol.last_interval = tk->cycle_interval;
		fol.last_cs = tk->tkr_mono.clock;
		vmch_copy(tk, tick, now, step);
		irq_work_queue(&fol.irq_work);
		WRITE_ONCE(fol.copies, fol.copies + 1);
	}

	dt = local_clock() - t0;
	WRITE_ONCE(fol.calls, fol.calls + 1);
	WRITE_ONCE(fol.ns_total, fol.ns_total + dt);
	if (dt > fol.ns_max)
		WRITE_ONCE(fol.ns_max, dt);
	return NOTIFY_OK;
}

static struct notifier_block vmch_gtod_nb = {
	.notifier_call = vmch_gtod_notify,
};

static void vmch_irq_work(struct irq_work *w)
{
	fol.kick();
}

void vmch_follow_get(struct vmch_tk *tk)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&fol.lock, flags);
	*tk = fol.tk;
	raw_spin_unlock_irqrestore(&fol.lock, flags);
}

void vmch_follow_stats(struct vmch_follow_stats *st)
{
	st->calls = READ_ONCE(fol.calls);
	st->copies = READ_ONCE(fol.copies);
	st->ns_total = READ_ONCE(fol.ns_total);
	st->ns_max = READ_ONCE(fol.ns_max);
}

/* @kick runs in hard IRQ context after each copy; it must not sleep. */
int vmch_follow_start(void (*kick)(void))
{
	memset(&fol, 0, sizeof(fol));
	raw_spin_lock_init(&fol.lock);
	init_irq_work(&fol.irq_work, vmch_irq_work);
	fol.kick = kick;
	/* fires once at once, under the timekeeper lock */
	return pvclock_gtod_register_notifier(&vmch_gtod_nb);
}

void vmch_follow_stop(void)
{
	pvclock_gtod_unregister_notifier(&vmch_gtod_nb);
	irq_work_sync(&fol.irq_work);
}
