// SPDX-License-Identifier: GPL-2.0
/*
 * vmclock_discipline: lock the guest's CLOCK_REALTIME to the linear
 * function a hypervisor publishes on a vmclock page.
 *
 * Every update_interval_ms a work item reads the page (seq protocol),
 * validates it, takes one ktime_get_snapshot() and so measures the offset
 * of CLOCK_REALTIME against the page *at the same counter value*, exactly.
 * The servo (lib/vmclock_math.c) turns that into a frequency: feed-forward
 * from the page's period against the kernel's own nominal second, plus a
 * linear slew of the whole offset over one interval, bounded by
 * slew_max_ppm, which also absorbs the phase steps a stock kernel makes
 * on every frequency change. Offsets beyond step_threshold_ns are stepped.
 * Status, error bounds, leap second and TAI offset go to the kernel's NTP
 * state through do_adjtimex() (see adjtimex.c).
 *
 * Sign convention: offset_ns > 0 means CLOCK_REALTIME is ahead of the page.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/irq_work.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/kobject.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pvclock_gtod.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/suspend.h>
#include <linux/sysfs.h>
#include <linux/time.h>
#include <linux/timekeeper_internal.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include <asm/timex.h>

#include "counter.h"
#include "kshim.h"
#include "vmclock_discipline.h"
#include "vmclock_disc.h"
#include "vmclock_math.h"

/* Module parameters: the initial values of the sysfs knobs. */
static unsigned int device_index;
module_param(device_index, uint, 0444);
MODULE_PARM_DESC(device_index,
		 "Which vmclock device to follow, from 0 in firmware order (uint, default 0)");

static bool enabled = true;
module_param(enabled, bool, 0444);
MODULE_PARM_DESC(enabled,
		 "Discipline the clock from load on (bool, default Y; runtime: sysfs enabled)");

static unsigned long long step_threshold_ns = 100 * NSEC_PER_MSEC;
module_param(step_threshold_ns, ullong, 0444);
MODULE_PARM_DESC(step_threshold_ns,
		 "Step instead of slewing when |offset| exceeds this, ns (u64, default 100000000)");

static bool step_after_sync = true;
module_param(step_after_sync, bool, 0444);
MODULE_PARM_DESC(step_after_sync,
		 "Allow steps after the first synchronisation; N steps only at start and after a disruption (bool, default Y)");

static unsigned int slew_max_ppm = 1000;
module_param(slew_max_ppm, uint, 0444);
MODULE_PARM_DESC(slew_max_ppm,
		 "Largest frequency offset used to slew the phase, ppm (uint, 1..50000, default 1000)");

static unsigned int resync_slew_max_ppm = 5000;
module_param(resync_slew_max_ppm, uint, 0444);
MODULE_PARM_DESC(resync_slew_max_ppm,
		 "slew_max_ppm from a disruption until the next lock, ppm (uint, 1..50000, default 5000)");

static unsigned int update_interval_ms = 100;
module_param(update_interval_ms, uint, 0444);
MODULE_PARM_DESC(update_interval_ms,
		 "Time between page reads and clock updates, ms (uint, 10..10000, default 100)");

static unsigned int idle_interval_ms = 1000;
module_param(idle_interval_ms, uint, 0444);
MODULE_PARM_DESC(idle_interval_ms,
		 "Time between page reads until the clock is taken (no time data since load, disabled), ms (uint, 10..60000, default 1000)");

static unsigned int max_extrapolation_s = 86400;
module_param(max_extrapolation_s, uint, 0444);
MODULE_PARM_DESC(max_extrapolation_s,
		 "Refuse a page whose counter_value lies more than this in the past, s (uint, 0 = no limit, default 86400)");

static int compat = -1;
module_param(compat, int, 0444);
MODULE_PARM_DESC(compat,
		 "Offer a PTP clock and /dev/vmclockN for chrony, phc2sys, ClockBound: 1 on, 0 off, -1 only on kernels without ptp_vmclock (int, default -1)");

static const char * const vmcd_status_str[] = {
	[VMCLOCK_STATUS_UNKNOWN] = "unknown",
	[VMCLOCK_STATUS_INITIALIZING] = "initializing",
	[VMCLOCK_STATUS_SYNCHRONIZED] = "synchronized",
	[VMCLOCK_STATUS_FREERUNNING] = "freerunning",
	[VMCLOCK_STATUS_UNRELIABLE] = "unreliable",
};

static const char * const vmcd_time_type_str[] = {
	[VMCLOCK_TIME_UTC] = "utc",
	[VMCLOCK_TIME_TAI] = "tai",
	[VMCLOCK_TIME_MONOTONIC] = "monotonic",
};

static const char * const vmcd_leap_str[] = {
	[VMCLOCK_LEAP_NONE] = "none",
	[VMCLOCK_LEAP_PRE_POS] = "insert-pending",
	[VMCLOCK_LEAP_PRE_NEG] = "delete-pending",
	[VMCLOCK_LEAP_POS] = "inserting",
	[VMCLOCK_LEAP_POST_POS] = "inserted",
	[VMCLOCK_LEAP_POST_NEG] = "deleted",
};

struct vmcd {
	struct vmcd_region region;
	const struct vmclock_abi *page;	/* memremap()ed, never written */
	u32 page_size;
	struct delayed_work work;	/* the one owner of the kernel's clock */
	bool stopping;			/* unload: release, do not requeue */

	/* Timekeeper facts, written by the notifier under the tk lock. */
	struct notifier_block gtod_nb;
	seqcount_t tk_seq;
	const struct clocksource *tk_clock;
	u64 tk_cycle_interval;		/* counter ticks per NTP interval */
	u32 tk_raw_mult;		/* raw rate: mult / 2^shift ns a tick */
	u32 tk_raw_shift;
	u64 tk_cycle_last;		/* a point of the accumulation grid */
	bool tk_on_counter;		/* clocksource is the page's counter */
	unsigned int tk_changes;
	char tk_clock_name[32];
	bool tk_have_offs;
	s64 tk_offs_real;		/* realtime - monotonic, ns */
	s64 tk_offs_boot;		/* boottime - monotonic, ns */
	u64 tk_clock_sets;		/* steps of it not made by this module */
	s64 tk_clock_set_ns;		/* the last one, ns (+: forward) */
	/* the worker while it changes the clock (its own steps and TAI) */
	struct task_struct *own_task;
	struct irq_work clock_set_work;	/* kicks the worker after either */

	/* System sleep: resumes counted by the PM notifier. */
	struct notifier_block pm_nb;
	atomic_t pm_resumes;

	struct vmcd_lookalike *lookalike;	/* NULL when off */

	struct kobject kobj;		/* /sys/kernel/vmclock_discipline/vmclockN */
	struct completion kobj_released;	/* its release() has run */

	struct mutex lock;		/* everything below */
	struct vmc_disc_cfg cfg;	/* the knobs */
	struct vmc_disc disc;		/* the decisions' state */
	enum vmc_disc_state state;
	const char *page_error;		/* last reason a page was refused */

	u32 idle_interval_ms;		/* the watch, until the clock is taken */
	bool watched;			/* a poll() on /dev/vmclockN waited */

	/* status */
	u32 backoff_ms;			/* after unreadable pages, else 0 */
	s64 offset_ns;
	s64 freq_ppb16;			/* applied, relative to the raw rate */
	bool freq_known;		/* false: the kernel's rate is not ours */
	long long set_freq;		/* adjtimex freq (ppm << 16) and tick */
	long long set_tick;		/* (us) after this module's last rate */
	u64 foreign_changes;		/* others' rate changes found */
	u64 seen_clock_sets;		/* tk_clock_sets the worker has seen */
	u64 clock_sets;			/* ... of which not the kernel's leap */
	s64 seen_offs_boot;		/* tk_offs_boot the worker has seen */
	s64 slept_ns;			/* injected since the last resume counted */
	bool slept_resynced;		/* ... and resynchronised from */
	int seen_pm_resumes;
	u64 resumes;
	s64 ff_ppb16;			/* the page's rate, relative to raw */
	u64 maxerror_ns;
	u64 updates;
	u64 steps;
	u64 disruptions;
	u64 page_errors;
};

static struct vmcd *vmcd;

/* Longest wait between reads of a page whose seq_count stays odd, ms */
#define VMCD_BACKOFF_MAX_MS	10000

/* Messages a page can trigger at every update: bad pages, and the rest. */
static DEFINE_RATELIMIT_STATE(vmcd_rs, 10 * HZ, 5);
/* large frequency changes that missed the tick grid */
static DEFINE_RATELIMIT_STATE(vmcd_grid_rs, 60 * HZ, 3);
static DEFINE_RATELIMIT_STATE(vmcd_info_rs, 60 * HZ, 10);
/* another writer of the kernel's rate */
static DEFINE_RATELIMIT_STATE(vmcd_foreign_rs, 60 * HZ, 2);
/* disruption uevents to udev (poll() on the attribute is never limited) */
static DEFINE_RATELIMIT_STATE(vmcd_uevent_rs, 60 * HZ, 10);

#define vmcd_info_rl(fmt, ...)						\
do {									\
	if (__ratelimit(&vmcd_info_rs))					\
		pr_info(fmt, ##__VA_ARGS__);				\
} while (0)

/* Timekeeper ------------------------------------------------------------ */

/*
 * Runs on every timekeeping update with IRQs off under the timekeeper
 * lock: only note the accumulation point, and which clocksource runs with
 * its cycles per NTP interval and raw rate.
 */
static int vmcd_gtod_notify(struct notifier_block *nb, unsigned long was_set,
			    void *priv)
{
	struct vmcd *d = container_of(nb, struct vmcd, gtod_nb);
	struct clocksource *cs = vmcd_tk_clock(priv);
	u64 interval = vmcd_tk_cycle_interval(priv);
	u32 mult = vmcd_tk_raw_mult(priv);
	s64 offs = vmcd_tk_offs_real(priv);
	s64 boot = vmcd_tk_offs_boot(priv);

	bool changed = cs != d->tk_clock || interval != d->tk_cycle_interval ||
		       mult != d->tk_raw_mult;
	/*
	 * The kernel resumed and added its estimate of the time asleep to
	 * CLOCK_REALTIME and CLOCK_BOOTTIME (nothing else moves the latter):
	 * S3, hibernation, s2idle where it freezes the tick.
	 */
	bool slept = d->tk_have_offs && boot != d->tk_offs_boot;
	/*
	 * CLOCK_REALTIME stepped (settimeofday, ADJ_SETOFFSET, the kernel's
	 * leap second), not by this module's worker (the notifier runs in
	 * the caller's context), not on resume and not with a clocksource
	 * change (each handled as such)
	 */
	bool set = was_set && d->tk_have_offs && offs != d->tk_offs_real &&
		   !changed && !slept && READ_ONCE(d->own_task) != current;

	raw_write_seqcount_begin(&d->tk_seq);
	d->tk_cycle_last = vmcd_tk_cycle_last(priv);
	if (set) {
		d->tk_clock_sets++;
		d->tk_clock_set_ns = offs - d->tk_offs_real;
	}
	d->tk_offs_real = offs;
	d->tk_offs_boot = boot;
	d->tk_have_offs = true;
	if (changed) {
		d->tk_clock = cs;
		d->tk_cycle_interval = interval;
		d->tk_raw_mult = mult;
		d->tk_raw_shift = vmcd_tk_raw_shift(priv);
		d->tk_on_counter = !strcmp(cs->name, VMCD_CLOCKSOURCE);
		strscpy(d->tk_clock_name, cs->name, sizeof(d->tk_clock_name));
		d->tk_changes++;
	}
	raw_write_seqcount_end(&d->tk_seq);
	/* not the worker from here: the timekeeper lock is held */
	if (set || slept)
		irq_work_queue(&d->clock_set_work);
	return NOTIFY_DONE;
}

/* Steps of CLOCK_REALTIME made by others, and the sleep time injected. */
struct vmcd_tk_events {
	u64 sets;
	s64 set_ns;		/* the last step, ns (+: forward) */
	s64 offs_boot;		/* CLOCK_BOOTTIME - CLOCK_MONOTONIC, ns */
};

static void vmcd_tk_events(struct vmcd *d, struct vmcd_tk_events *ev)
{
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		ev->sets = d->tk_clock_sets;
		ev->set_ns = d->tk_clock_set_ns;
		ev->offs_boot = d->tk_offs_boot;
	} while (read_seqcount_retry(&d->tk_seq, seq));
}

/* The timekeeper's clocksource if it is the page's counter, else NULL. */
static struct clocksource *vmcd_counter_clock(void *ctx)
{
	struct vmcd *d = ctx;
	struct clocksource *cs;
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		cs = d->tk_on_counter ? (struct clocksource *)d->tk_clock : NULL;
	} while (read_seqcount_retry(&d->tk_seq, seq));
	return cs;
}

/* The timekeeper's clocksource name, copied consistently into @buf. */
static const char *vmcd_tk_name(struct vmcd *d, char *buf, size_t len)
{
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		strscpy(buf, d->tk_clock_name, len);
	} while (read_seqcount_retry(&d->tk_seq, seq));
	return buf;
}

/*
 * About the counter ticks in a second (0 if the timekeeper is not on the
 * page's counter), and in @raw the clocksource's raw period.
 */
static u64 vmcd_tk_ticks_per_sec(struct vmcd *d, unsigned int *changes,
				 struct vmc_period *raw)
{
	unsigned int seq;
	u32 mult, shift;
	u64 ticks;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		ticks = d->tk_on_counter ?
			d->tk_cycle_interval * NTP_INTERVAL_FREQ : 0;
		mult = d->tk_raw_mult;
		shift = d->tk_raw_shift;
		*changes = d->tk_changes;
	} while (read_seqcount_retry(&d->tk_seq, seq));
	if (ticks && vmc_period_from_scaled_ns(mult, shift, 1, raw))
		ticks = 0;
	return ticks;
}

/*
 * A 6.1 kernel books a frequency change into ntp_error as delta-mult times
 * the counter ticks since the last accumulation, and pays that out by
 * running one mult unit (~150 ppb) off the commanded rate: less than that
 * when the commanded mult's fraction is near the unit it rounds to, so a
 * payout can take seconds. Accumulations happen on a fixed grid
 * (cycle_last advances by whole cycle_intervals), so changing the
 * frequency just after a grid point leaves almost nothing to pay.
 *
 * A change of VMCD_GRID_STRICT_PPB16 or more (a slew's start and end, a
 * disruption) books up to delta times one tick when late: 1.4 us for
 * 550 ppm 2.5 ms after the point, and holds in the next ~15 s drifted up
 * to 68 ns in 2 s. It waits with a wider margin and retries at the next
 * point when the sleep overslept (TCG guests oversleep 0.2-2.5 ms). A
 * smaller one books under 4 ns (1 ppm * 4 ms at HZ=250) wherever it lands
 * and takes one cheap wait, unless what it books now is under
 * VMCD_GRID_SKIP_PS. (Skipping the wait for every change under 100 ppb
 * took a nohz-idle guest's p99 from 17-18 to 23 ns: there the time since
 * the last accumulation is not one tick, so the booking is measured.)
 */
#define VMCD_GRID_STRICT_PPB16	(1000 * VMC_PPB16_PER_PPB)	/* 1 ppm */
#define VMCD_GRID_TRIES		8
/*
 * A change booking under this, ps, goes ahead without a wait: 250 ps is
 * 60 ppb 4 ms after the last accumulation (HZ=250), 20 ppb at 12.5 ms.
 */
#define VMCD_GRID_SKIP_PS	250ULL

/* The accumulation grid as the notifier last saw it. */
struct vmcd_grid {
	u64 last;		/* cycle_last: a grid point */
	u64 interval;		/* counter ticks between points */
	u32 mult, shift;	/* raw: counter ticks to ns */
	bool on;		/* the timekeeper runs on the page's counter */
};

static void vmcd_grid_read(struct vmcd *d, struct vmcd_grid *g)
{
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		g->on = d->tk_on_counter;
		g->last = d->tk_cycle_last;
		g->interval = d->tk_cycle_interval;
		g->mult = d->tk_raw_mult;
		g->shift = d->tk_raw_shift;
	} while (read_seqcount_retry(&d->tk_seq, seq));
}

/*
 * Wait for the next grid point: sleep to @margin_us before it, then spin
 * across it for at most 2 * @margin_us. True when the caller is within
 * 1/256 of a tick after a point (16 us at HZ=250) or just saw one pass.
 */
static bool vmcd_wait_grid(struct vmcd *d, u32 margin_us)
{
	u64 last, interval, partial, prev, left, c0, wait_ns, deadline;
	struct vmcd_grid g;

	vmcd_grid_read(d, &g);
	if (!g.on || !g.interval)
		return true;	/* no grid to align to */
	last = g.last;
	interval = g.interval;
	c0 = vmcd_counter_read();
	partial = (c0 - last) % interval;
	if (partial < interval / 256)
		return true;
	left = interval - partial;	/* counter ticks to the grid point */
	wait_ns = mul_u64_u32_shr(left, g.mult, g.shift);
	if (wait_ns > (margin_us + 100) * NSEC_PER_USEC) {
		usleep_range(wait_ns / NSEC_PER_USEC - margin_us - 50,
			     wait_ns / NSEC_PER_USEC - margin_us);
		if (vmcd_counter_read() - c0 >= left)
			return false;	/* overslept across the grid point */
	}
	prev = (vmcd_counter_read() - last) % interval;
	deadline = ktime_get_mono_fast_ns() + 2ULL * margin_us * NSEC_PER_USEC;
	while (ktime_get_mono_fast_ns() < deadline) {
		partial = (vmcd_counter_read() - last) % interval;
		if (partial < prev)
			return true;	/* wrapped: just past the grid point */
		prev = partial;
		cpu_relax();
	}
	return false;
}

/*
 * What a change of @delta_ppb16 made now would book into ntp_error: true
 * when under VMCD_GRID_SKIP_PS (|delta| times the time since the last
 * accumulation), so that it need not wait for the grid. Under nohz the
 * last accumulation may be long past, and this says so.
 */
static bool vmcd_booking_small(struct vmcd *d, s64 delta_ppb16)
{
	struct vmcd_grid g;
	u64 since_ns, now;

	vmcd_grid_read(d, &g);
	now = vmcd_counter_read();
	if (!g.on || (s64)(now - g.last) < 0)
		return false;	/* a snapshot newer than our read: wait */
	since_ns = mul_u64_u32_shr(now - g.last, g.mult, g.shift);
	if (since_ns > NSEC_PER_SEC)
		return false;
	/* ppb16 * ns / (65536 * 1e9) = ns booked: compare in ppb16 * ns */
	return abs(delta_ppb16) * since_ns <
	       VMCD_GRID_SKIP_PS * VMC_PPB16_PER_PPB * 1000000;
}

/*
 * Before a frequency change of @delta_ppb16: a small one goes ahead at
 * once when it books under VMCD_GRID_SKIP_PS, else takes one cheap wait
 * (~200 us of spinning) and goes ahead whatever it gave; a large one
 * retries up to VMCD_GRID_TRIES points (8 ticks: ~32 ms at HZ=250, up to
 * ~50 ms with oversleeps; 2 ms of spinning at most per point).
 */
static void vmcd_align_to_tick(struct vmcd *d, s64 delta_ppb16)
{
	int i;

	if (abs(delta_ppb16) < VMCD_GRID_STRICT_PPB16) {
		if (!vmcd_booking_small(d, delta_ppb16))
			vmcd_wait_grid(d, 200);
		return;
	}
	for (i = 0; i < VMCD_GRID_TRIES; i++)
		if (vmcd_wait_grid(d, 1000))
			return;
	if (__ratelimit(&vmcd_grid_rs))
		pr_info("%lld ppb change missed the tick grid %d times: slow payout\n",
			div_s64(delta_ppb16, VMC_PPB16_PER_PPB), VMCD_GRID_TRIES);
}

/* Clock control: the worker's alone ---------------------------------- */

/* One adjtimex call; its result checked and reported (rate-limited). */
static int vmcd_adjtimex_checked(struct __kernel_timex *tx, const char *what)
{
	int ret = vmcd_adjtimex(tx);

	if (ret < 0)
		pr_err_ratelimited("adjtimex (%s) failed: %d; clock not changed\n",
				   what, ret);
	return ret < 0 ? ret : 0;
}

/*
 * Frequency @ppb16 relative to the raw rate as adjtimex fields: the
 * tick (100 ppm a unit, +-10%) for the bulk beyond +-400 ppm, freq
 * (ppm * 2^16, +-500 ppm) for the rest.
 */
static void vmcd_fill_freq(struct __kernel_timex *tx, s64 ppb16)
{
	const s64 tick_unit = 100000LL * VMC_PPB16_PER_PPB;
	const s64 freq_only = 400000LL * VMC_PPB16_PER_PPB;
	s64 ticks = 0;

	if (ppb16 > freq_only || ppb16 < -freq_only)
		ticks = DIV_ROUND_CLOSEST(ppb16, tick_unit);
	tx->modes |= ADJ_FREQUENCY | ADJ_TICK;
	tx->tick = USER_TICK_USEC + ticks;
	tx->freq = DIV_ROUND_CLOSEST(ppb16 - ticks * tick_unit, 1000);
}

/*
 * Take the clock from any earlier NTP state: cancel a pending adjtime()
 * slew and the kernel PLL's pending offset (which can only be zeroed
 * with STA_PLL set), then leave PLL mode. Status ends as STA_UNSYNC.
 */
static int vmcd_take_clock(void)
{
	struct __kernel_timex tx = { .modes = 0 };
	int ret;

	ret = vmcd_adjtimex_checked(&tx, "read");
	if (ret)
		return ret;
	if (tx.status & (STA_PLL | STA_FLL))
		pr_warn("the kernel PLL is in use: another NTP client seems to discipline this clock; stop it, the two will fight\n");
	tx = (struct __kernel_timex){ .modes = ADJ_OFFSET_SINGLESHOT };
	ret = vmcd_adjtimex_checked(&tx, "cancel adjtime");
	if (ret)
		return ret;
	tx = (struct __kernel_timex){
		.modes = ADJ_STATUS | ADJ_OFFSET | ADJ_NANO,
		.status = STA_PLL | STA_FREQHOLD | STA_UNSYNC,
	};
	ret = vmcd_adjtimex_checked(&tx, "cancel PLL offset");
	if (ret)
		return ret;
	tx = (struct __kernel_timex){
		.modes = ADJ_STATUS | ADJ_NANO,
		.status = STA_UNSYNC,
	};
	return vmcd_adjtimex_checked(&tx, "leave PLL");
}

/* Relative step by @ns, exactly (timekeeping_inject_offset) */
static int vmcd_step(s64 ns)
{
	struct timespec64 ts = ns_to_timespec64(ns);	/* tv_nsec >= 0 */
	struct __kernel_timex tx = {
		.modes = ADJ_SETOFFSET | ADJ_NANO,
		.time.tv_sec = ts.tv_sec,
		.time.tv_usec = ts.tv_nsec,
	};

	return vmcd_adjtimex_checked(&tx, "step");
}

/*
 * Another writer of the kernel's rate while the module steers it (an NTP
 * daemon left running: chronyd sets freq without the kernel PLL, so the
 * warning at take misses it): the two would fight. Each update compares
 * freq and tick with what the module's last command left, and looks for
 * the kernel PLL or FLL switched on. Found: counted, polled, warned about
 * (rate-limited); the module goes on steering.
 */
static void vmcd_check_foreign(struct vmcd *d)
{
	struct __kernel_timex tx = { .modes = 0 };

	if (!d->disc.taken || !d->freq_known || vmcd_adjtimex(&tx) < 0)
		return;
	if (tx.freq == d->set_freq && tx.tick == d->set_tick &&
	    !(tx.status & (STA_PLL | STA_FLL)))
		return;
	d->foreign_changes++;
	d->freq_known = false;	/* the next change is a large one */
	if (__ratelimit(&vmcd_foreign_rs))
		pr_warn("the clock's rate was changed by someone else (freq %lld tick %lld status 0x%x; this module left freq %lld tick %lld): another NTP client (chronyd, ntpd, systemd-timesyncd) is steering CLOCK_REALTIME; stop it, or set enabled=0 to leave it the clock\n",
			tx.freq, tx.tick, tx.status, d->set_freq, d->set_tick);
	sysfs_notify(&d->kobj, NULL, "foreign_changes");
}

/*
 * Carry out one decision, in its order: take, step, then one adjtimex for
 * frequency, status, bounds and TAI. 0 only when all of it happened.
 */
static int __vmcd_carry_out(struct vmcd *d, const struct vmc_disc_out *o)
{
	struct __kernel_timex tx = { .modes = 0 };
	s64 delta;
	int ret;

	if (o->take) {
		d->freq_known = false;
		ret = vmcd_take_clock();
		if (ret)
			return ret;
	}
	if (o->step) {
		ret = vmcd_step(o->step_ns);
		if (ret)
			return ret;
		d->steps++;
		vmcd_info_rl("stepped the clock by %lld ns\n", o->step_ns);
	}
	if (!o->set_freq)
		return 0;
	vmcd_fill_freq(&tx, o->freq_ppb16);
	tx.modes |= ADJ_STATUS | ADJ_NANO;
	tx.status = (o->unsync ? STA_UNSYNC : 0) |
		    (o->leap > 0 ? STA_INS : o->leap < 0 ? STA_DEL : 0);
	if (o->set_bounds) {
		tx.modes |= ADJ_MAXERROR | ADJ_ESTERROR;
		tx.maxerror = o->maxerror_us;
		tx.esterror = o->esterror_us;
	}
	if (o->set_tai) {
		tx.modes |= ADJ_TAI;
		tx.constant = o->tai;
	}
	/* after a take the kernel runs at whatever rate it had: a large change */
	delta = d->freq_known ? o->freq_ppb16 - d->freq_ppb16 :
		VMCD_GRID_STRICT_PPB16;
	if (o->follow || abs(delta) >= VMCD_GRID_STRICT_PPB16)
		vmcd_align_to_tick(d, delta);
	/* a change made while this update waited would be overwritten unseen */
	vmcd_check_foreign(d);
	ret = vmcd_adjtimex_checked(&tx, "frequency and status");
	if (ret)
		return ret;
	d->freq_ppb16 = o->freq_ppb16;
	d->freq_known = true;
	/* as the kernel reads them back (its freq is rounded) */
	d->set_freq = tx.freq;
	d->set_tick = tx.tick;
	return 0;
}

/* Its steps and TAI changes are not "someone else's" to the notifier. */
static int vmcd_carry_out(struct vmcd *d, const struct vmc_disc_out *o)
{
	int ret;

	WRITE_ONCE(d->own_task, current);
	ret = __vmcd_carry_out(d, o);
	WRITE_ONCE(d->own_task, NULL);
	return ret;
}

/* Page ----------------------------------------------------------------- */

static void vmcd_snapshot_cb(void *snap)
{
	vmcd_get_snapshot(snap);
}

/*
 * Was that step the kernel's own leap second (ntp's state says one just
 * happened, and it was one second)? Then it is not someone else's.
 */
static bool vmcd_kernel_leap(s64 ns)
{
	struct __kernel_timex tx = { .modes = 0 };
	int state = vmcd_adjtimex(&tx);

	return (state == TIME_OOP || state == TIME_WAIT) &&
	       (ns == NSEC_PER_SEC || ns == -NSEC_PER_SEC);
}

/*
 * Tell userspace: poll() on @attr wakes, and a KOBJ_CHANGE uevent says
 * EVENT=@event and @key=@count (rate-limited).
 */
static void vmcd_tell(struct vmcd *d, const char *attr, const char *event,
		      const char *key, u64 count)
{
	char ev[32], cnt[40];
	char *envp[3];

	snprintf(ev, sizeof(ev), "EVENT=%s", event);
	snprintf(cnt, sizeof(cnt), "%s=%llu", key, count);
	envp[0] = ev;
	envp[1] = cnt;
	envp[2] = NULL;
	sysfs_notify(&d->kobj, NULL, attr);
	if (__ratelimit(&vmcd_uevent_rs))
		kobject_uevent_env(&d->kobj, KOBJ_CHANGE, envp);
}

/* Someone else stepped the clock: count, log, tell userspace. */
static void vmcd_clock_was_set(struct vmcd *d, s64 ns)
{
	d->clock_sets++;
	vmcd_info_rl("clock stepped by %lld ns by someone else: resynchronising\n",
		     ns);
	vmcd_tell(d, "clock_sets", "clock_set", "CLOCK_SETS", d->clock_sets);
}

/*
 * The system resumed (the clock was stopped, then stepped by the kernel's
 * estimate of the time asleep): count, log, tell userspace.
 */
static void vmcd_resumed(struct vmcd *d, int n)
{
	d->resumes += n;
	vmcd_info_rl("resumed after %lld ms asleep (the kernel's count)%s\n",
		     div_s64(d->slept_ns, NSEC_PER_MSEC),
		     d->disc.taken ? ": clock resynchronised" : "");
	vmcd_tell(d, "resumes", "resume", "RESUMES", d->resumes);
}

static void vmcd_disrupted(struct vmcd *d)
{
	d->disruptions++;
	vmcd_info_rl("%s: disruption %llu (marker %llu, generation %llu): resynchronising\n",
		     d->region.name, d->disruptions, d->disc.marker,
		     d->disc.gen);
	vmcd_tell(d, "disruptions", "disruption", "DISRUPTIONS",
		  d->disruptions);
}

/* What this update decided, for status and the log. */
static void vmcd_note(struct vmcd *d, const struct vmc_disc_out *o)
{
	char name[32];

	if (o->have_offset) {
		d->offset_ns = o->offset_ns;
		d->ff_ppb16 = o->ff_ppb16;
	}
	if (o->follow)
		d->maxerror_ns = o->maxerror_ns;
	if (o->state == VMC_DS_BAD_PAGE) {
		d->page_errors++;
		if ((d->page_error != o->why || d->state != VMC_DS_BAD_PAGE) &&
		    __ratelimit(&vmcd_rs))
			pr_err("%s: page refused: %s; not followed\n",
			       d->region.name, o->why);
		d->page_error = o->why;
	} else if (o->follow) {
		d->page_error = NULL;
	}
	if (o->state == VMC_DS_WAIT_CLOCKSOURCE &&
	    d->state != VMC_DS_WAIT_CLOCKSOURCE)
		vmcd_info_rl("clocksource is %s, not the page's counter (%s): discipline paused\n",
			     vmcd_tk_name(d, name, sizeof(name)),
			     VMCD_CLOCKSOURCE);
	if (o->first_lock)
		vmcd_info_rl("locked to %s: offset %lld ns\n", d->region.name,
			     o->offset_ns);
	if (d->state != o->state)
		vmcd_info_rl("state %s -> %s\n", vmc_disc_state_str(d->state),
			     vmc_disc_state_str(o->state));
	d->state = o->state;
}

/* Read, decide, carry out; false when the page could not be read. */
static bool vmcd_update(struct vmcd *d)
{
	struct vmcd_snap snap = { 0 };
	struct vmclock_abi pg;
	struct vmc_disc_out out;
	struct vmc_disc_in in = {
		.page = &pg,
		.region_size = d->page_size,
		.counter_id = VMCD_COUNTER_ID,
	};
	struct vmcd_tk_events ev;
	bool set = false, slept, resumed;
	unsigned int tk1, tk2;
	u64 ticks;
	int ret, pm;

	d->updates++;
	vmcd_check_foreign(d);
	/*
	 * The PM count before the notifier's facts: a resume counted between
	 * the two reads would have its injection seen only next time.
	 */
	pm = atomic_read(&d->pm_resumes);
	vmcd_tk_events(d, &ev);
	if (ev.sets != d->seen_clock_sets) {
		set = ev.sets - d->seen_clock_sets > 1 ||
		      !vmcd_kernel_leap(ev.set_ns);
		d->seen_clock_sets = ev.sets;
	}
	slept = ev.offs_boot != d->seen_offs_boot;
	if (slept) {
		d->slept_ns += ev.offs_boot - d->seen_offs_boot;
		d->seen_offs_boot = ev.offs_boot;
	}
	resumed = pm != d->seen_pm_resumes;
	/*
	 * A resume is resynchronised from as a step by someone else is: at
	 * the kernel's sleep-time injection (the notifier's kick, before the
	 * PM notifier's), else at the PM notifier's resume (none injected:
	 * the clock stood still for up to the RTC's 1 s resolution).
	 */
	in.clock_set = set || slept || (resumed && !d->slept_resynced);
	if (slept)
		d->slept_resynced = true;
	ticks = vmcd_tk_ticks_per_sec(d, &tk1, &in.raw);
	in.page_read = !vmcd_page_read(d->page, d->page_size, &pg,
				       vmcd_snapshot_cb, &snap);
	/* before the wake-up: a woken poll() leaves the queue at once */
	d->watched = d->lookalike && vmcd_lookalike_watched(d->lookalike);
	if (in.page_read && d->lookalike)
		vmcd_lookalike_seen(d->lookalike, le32_to_cpu(pg.seq_count));
	/* the snapshot must come from the page's counter, unchanged */
	in.counter_ok = ticks && vmcd_tk_ticks_per_sec(d, &tk2, &in.raw) ==
				 ticks && tk1 == tk2;
	in.ticks_per_sec = ticks;
	in.cycles = snap.cycles;
	in.real_ns = snap.real_ns;
	in.raw_ns = snap.raw_ns;

	vmc_disc_update(&d->disc, &d->cfg, &in, &out);
	if (out.disruption)
		vmcd_disrupted(d);
	if (resumed) {
		vmcd_resumed(d, pm - d->seen_pm_resumes);
		d->seen_pm_resumes = pm;
		d->slept_ns = 0;
		d->slept_resynced = false;
	}
	if (set && out.clock_set)
		vmcd_clock_was_set(d, ev.set_ns);
	vmcd_note(d, &out);
	pr_debug("update raw=%lld offset=%lld ff=%lld bias=%lld freq=%lld (ppb16) state=%s\n",
		 snap.raw_ns, out.offset_ns, out.ff_ppb16,
		 d->disc.servo.bias_ppb16, out.freq_ppb16,
		 vmc_disc_state_str(out.state));
	ret = vmcd_carry_out(d, &out);
	vmc_disc_applied(&d->disc, &out, !ret, ktime_get_raw_ns());
	return in.page_read;
}

/* Give the clock up (unload): the hold, STA_UNSYNC. */
static void vmcd_release(struct vmcd *d)
{
	struct vmc_disc_out out = { 0 };
	int ret;

	vmc_disc_release(&d->disc, &out);
	if (!out.set_freq)
		return;
	ret = vmcd_carry_out(d, &out);
	vmc_disc_applied(&d->disc, &out, !ret, 0);
	if (!ret)
		pr_info("released the clock: frequency %lld ppb kept, STA_UNSYNC set\n",
			div_s64(out.freq_ppb16, VMC_PPB16_PER_PPB));
}

/*
 * Milliseconds to the next read. While the clock is not taken (no page
 * to follow since load or enabling: QEMU's, Firecracker's and EC2's pages
 * carry no time data; disabled) the page is only watched, for a
 * disruption and for time data, at idle_interval_ms: both are acted on up
 * to that much later. Not while a reader of /dev/vmclockN waits for the
 * page to change (its poll() is woken from here); one that starts waiting
 * meanwhile sees the next change up to idle_interval_ms late.
 */
static u32 vmcd_next_ms(const struct vmcd *d)
{
	if (d->backoff_ms)
		return d->backoff_ms;
	if (!d->disc.taken && !d->watched)
		return max(d->cfg.interval_ms, d->idle_interval_ms);
	return d->cfg.interval_ms;
}

/*
 * The only place the kernel's clock is changed from, so always with the
 * worker's own credentials and never beside another change.
 */
static void vmcd_work(struct work_struct *work)
{
	struct vmcd *d = container_of(work, struct vmcd, work.work);
	unsigned long delay;
	bool stop = READ_ONCE(d->stopping);

	mutex_lock(&d->lock);
	if (stop) {
		vmcd_release(d);
	} else if (vmcd_update(d)) {
		d->backoff_ms = 0;
	} else {
		/*
		 * Each failed read spun for 100 ms: while the producer keeps
		 * seq_count odd, look again at doubling intervals, up to 10 s.
		 */
		d->backoff_ms = clamp_t(u32, d->backoff_ms * 2,
					d->cfg.interval_ms * 2,
					VMCD_BACKOFF_MAX_MS);
	}
	/* not when stopping: unload may have freed the lookalike already */
	delay = stop ? 0 : msecs_to_jiffies(vmcd_next_ms(d));
	mutex_unlock(&d->lock);
	if (!stop)
		queue_delayed_work(system_highpri_wq, &d->work, delay);
}

/* Run the worker now (a knob changed). */
static void vmcd_kick(struct vmcd *d)
{
	if (!READ_ONCE(d->stopping))
		mod_delayed_work(system_highpri_wq, &d->work, 0);
}

/* Hard IRQ context, after the notifier saw someone else's step or a resume. */
static void vmcd_clock_set_fn(struct irq_work *w)
{
	vmcd_kick(container_of(w, struct vmcd, clock_set_work));
}

/*
 * After system sleep (or an aborted attempt at it): count it and resync
 * at once. Process context, tasks thawed.
 */
static int vmcd_pm_notify(struct notifier_block *nb, unsigned long action,
			  void *unused)
{
	struct vmcd *d = container_of(nb, struct vmcd, pm_nb);

	switch (action) {
	case PM_POST_SUSPEND:
	case PM_POST_HIBERNATION:
	case PM_POST_RESTORE:
		atomic_inc(&d->pm_resumes);
		vmcd_kick(d);
		break;
	}
	return NOTIFY_DONE;
}

/* sysfs ------------------------------------------------------------------ */

#define to_vmcd(k) container_of(k, struct vmcd, kobj)

/* Read-only status attributes: one value each, under the lock. */
#define VMCD_RO(name, fmt, ...)					\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	struct vmcd *d = to_vmcd(kobj);					\
	ssize_t n;							\
									\
	mutex_lock(&d->lock);						\
	n = sysfs_emit(buf, fmt "\n", __VA_ARGS__);				\
	mutex_unlock(&d->lock);						\
	return n;							\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

static const char *vmcd_str(const char * const *tab, size_t n, u8 v,
			    bool have)
{
	return !have ? "none" : v < n && tab[v] ? tab[v] : "invalid";
}

VMCD_RO(state, "%s", vmc_disc_state_str(d->state));
VMCD_RO(offset_ns, "%lld", d->offset_ns);
VMCD_RO(freq_ppb, "%lld", div_s64(d->freq_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(ref_freq_ppb, "%lld", div_s64(d->ff_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(bias_ppb, "%lld", div_s64(d->disc.servo.bias_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(hold_bias_ppb, "%lld",
	div_s64(d->disc.servo.hold_bias_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(maxerror_ns, "%llu", d->maxerror_ns);
VMCD_RO(steps, "%llu", d->steps);
VMCD_RO(disruptions, "%llu", d->disruptions);
VMCD_RO(updates, "%llu", d->updates);
VMCD_RO(page_errors, "%llu", d->page_errors);
VMCD_RO(foreign_changes, "%llu", d->foreign_changes);
VMCD_RO(clock_sets, "%llu", d->clock_sets);
VMCD_RO(resumes, "%llu", d->resumes);
VMCD_RO(last_page_error, "%s", d->page_error ? d->page_error : "none");
VMCD_RO(page_status, "%s",
	vmcd_str(vmcd_status_str, ARRAY_SIZE(vmcd_status_str),
		 d->disc.clock_status, d->disc.have_time));
VMCD_RO(time_scale, "%s",
	vmcd_str(vmcd_time_type_str, ARRAY_SIZE(vmcd_time_type_str),
		 d->disc.time_type, d->disc.have_time));
VMCD_RO(leap, "%s",
	vmcd_str(vmcd_leap_str, ARRAY_SIZE(vmcd_leap_str), d->disc.leap,
		 d->disc.have_time));
VMCD_RO(device, "%s %pR", d->region.name, &d->region.res);
static ssize_t clocksource_show(struct kobject *kobj,
				struct kobj_attribute *attr, char *buf)
{
	char name[32];

	return sysfs_emit(buf, "%s\n",
			  vmcd_tk_name(to_vmcd(kobj), name, sizeof(name)));
}

static struct kobj_attribute clocksource_attr = __ATTR_RO(clocksource);

/*
 * Writable knobs: parse, range-check, store under the lock; @kick: run
 * the worker now (an interval changed: the next read is not its old one)
 */
#define VMCD_RW(name, type, min, max, field, kick)			\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	struct vmcd *d = to_vmcd(kobj);					\
	ssize_t n;							\
									\
	mutex_lock(&d->lock);						\
	n = sysfs_emit(buf, "%llu\n", (unsigned long long)d->field);	\
	mutex_unlock(&d->lock);						\
	return n;							\
}									\
static ssize_t name##_store(struct kobject *kobj,			\
			    struct kobj_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	struct vmcd *d = to_vmcd(kobj);					\
	type v;								\
	int ret = kstrto##type(buf, 0, &v);				\
									\
	if (ret)							\
		return ret;						\
	if (v < (min) || v > (max))					\
		return -ERANGE;						\
	mutex_lock(&d->lock);						\
	d->field = v;							\
	mutex_unlock(&d->lock);						\
	if (kick)							\
		vmcd_kick(d);						\
	return count;							\
}									\
static struct kobj_attribute name##_attr = __ATTR_RW(name)

VMCD_RW(step_threshold_ns, u64, 1000, U64_MAX, cfg.step_threshold_ns, false);
VMCD_RW(slew_max_ppm, u32, 1, 50000, cfg.slew_max_ppm, false);
VMCD_RW(resync_slew_max_ppm, u32, 1, 50000, cfg.resync_slew_max_ppm, false);
VMCD_RW(update_interval_ms, u32, 10, 10000, cfg.interval_ms, true);
VMCD_RW(idle_interval_ms, u32, 10, 60000, idle_interval_ms, true);

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	struct vmcd *d = to_vmcd(kobj);
	ssize_t n;

	mutex_lock(&d->lock);
	n = sysfs_emit(buf, "%d\n", d->cfg.enabled);
	mutex_unlock(&d->lock);
	return n;
}

/* The worker takes or releases the clock, at once. */
static ssize_t enabled_store(struct kobject *kobj,
			     struct kobj_attribute *attr, const char *buf,
			     size_t count)
{
	struct vmcd *d = to_vmcd(kobj);
	bool v;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	mutex_lock(&d->lock);
	d->cfg.enabled = v;
	mutex_unlock(&d->lock);
	vmcd_kick(d);
	return count;
}

static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);

static ssize_t step_after_sync_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	struct vmcd *d = to_vmcd(kobj);
	ssize_t n;

	mutex_lock(&d->lock);
	n = sysfs_emit(buf, "%d\n", d->cfg.step_after_sync);
	mutex_unlock(&d->lock);
	return n;
}

static ssize_t step_after_sync_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	struct vmcd *d = to_vmcd(kobj);
	bool v;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	mutex_lock(&d->lock);
	d->cfg.step_after_sync = v;
	mutex_unlock(&d->lock);
	return count;
}

static struct kobj_attribute step_after_sync_attr = __ATTR_RW(step_after_sync);

static struct attribute *vmcd_attrs[] = {
	&state_attr.attr,
	&offset_ns_attr.attr,
	&freq_ppb_attr.attr,
	&ref_freq_ppb_attr.attr,
	&bias_ppb_attr.attr,
	&hold_bias_ppb_attr.attr,
	&maxerror_ns_attr.attr,
	&steps_attr.attr,
	&disruptions_attr.attr,
	&updates_attr.attr,
	&page_errors_attr.attr,
	&foreign_changes_attr.attr,
	&clock_sets_attr.attr,
	&resumes_attr.attr,
	&last_page_error_attr.attr,
	&page_status_attr.attr,
	&time_scale_attr.attr,
	&leap_attr.attr,
	&device_attr.attr,
	&clocksource_attr.attr,
	&enabled_attr.attr,
	&step_threshold_ns_attr.attr,
	&step_after_sync_attr.attr,
	&slew_max_ppm_attr.attr,
	&resync_slew_max_ppm_attr.attr,
	&update_interval_ms_attr.attr,
	&idle_interval_ms_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vmcd);

/*
 * The last put may run release() seconds later from a workqueue
 * (CONFIG_DEBUG_KOBJECT_RELEASE), after this module's text and vmcd_ktype
 * would be gone: release only signals, and vmcd_put() waits for it and
 * frees (as ext4 and btrfs do for their kobjects).
 */
static void vmcd_kobj_release(struct kobject *kobj)
{
	complete(&to_vmcd(kobj)->kobj_released);
}

static struct kobj_type vmcd_ktype = {
	.release = vmcd_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = vmcd_groups,
};

/* Module ---------------------------------------------------------------- */

static struct kset *vmcd_kset;

/* Drop the kobject of @d (initialised or not), then free @d. */
static void vmcd_put(struct vmcd *d)
{
	kobject_put(&d->kobj);
	wait_for_completion(&d->kobj_released);
	kset_unregister(vmcd_kset);
	kfree(d);
}

static int __init vmcd_init(void)
{
	struct vmcd_tk_events ev;
	struct vmcd *d;
	int ret;

	if (!slew_max_ppm || slew_max_ppm > 50000 || !resync_slew_max_ppm ||
	    resync_slew_max_ppm > 50000 || update_interval_ms < 10 ||
	    update_interval_ms > 10000 || step_threshold_ns < 1000 ||
	    idle_interval_ms < 10 || idle_interval_ms > 60000) {
		pr_err("parameter out of range: see modinfo\n");
		return -EINVAL;
	}
	ret = vmcd_adjtimex_init();
	if (ret)
		return ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	mutex_init(&d->lock);
	init_completion(&d->kobj_released);
	seqcount_init(&d->tk_seq);
	INIT_DELAYED_WORK(&d->work, vmcd_work);
	vmc_disc_init(&d->disc);
	d->cfg = (struct vmc_disc_cfg){
		.enabled = enabled,
		.step_after_sync = step_after_sync,
		.step_threshold_ns = step_threshold_ns,
		.slew_max_ppm = slew_max_ppm,
		.resync_slew_max_ppm = resync_slew_max_ppm,
		.interval_ms = update_interval_ms,
		.max_extrapolation_s = max_extrapolation_s,
	};
	d->idle_interval_ms = idle_interval_ms;
	d->state = VMC_DS_STARTING;
	/* nothing (a knob, the notifier's kick) may queue the worker yet */
	d->stopping = true;

	ret = vmcd_find_region(device_index, &d->region);
	if (ret) {
		pr_err("no vmclock device %u found (%d)\n", device_index, ret);
		goto out_free;
	}
	if (resource_size(&d->region.res) <
	    offsetof(struct vmclock_abi, vm_generation_counter)) {
		pr_err("%s: region %pR too small for a vmclock page\n",
		       d->region.name, &d->region.res);
		ret = -EINVAL;
		goto out_free;
	}
	d->page_size = min_t(resource_size_t, resource_size(&d->region.res),
			     U32_MAX);
	/* Not claimed: ptp_vmclock may own the device; we only read. */
	d->page = vmcd_map_region(&d->region.res, d->page_size);
	if (!d->page) {
		ret = -ENOMEM;
		goto out_free;
	}

	init_irq_work(&d->clock_set_work, vmcd_clock_set_fn);
	d->gtod_nb.notifier_call = vmcd_gtod_notify;
	ret = pvclock_gtod_register_notifier(&d->gtod_nb);
	if (ret)
		goto out_unmap;
	/* registering ran the notifier: the sleep time injected so far */
	vmcd_tk_events(d, &ev);
	d->seen_offs_boot = ev.offs_boot;
	d->pm_nb.notifier_call = vmcd_pm_notify;
	ret = register_pm_notifier(&d->pm_nb);
	if (ret)
		goto out_notifier;

	vmcd_kset = kset_create_and_add(KBUILD_MODNAME, NULL, kernel_kobj);
	if (!vmcd_kset) {
		ret = -ENOMEM;
		goto out_pm;
	}
	d->kobj.kset = vmcd_kset;
	ret = kobject_init_and_add(&d->kobj, &vmcd_ktype, NULL, "vmclock%u",
				   device_index);
	if (ret)
		goto out_kobj;

	/*
	 * Last of the fallible steps: once /dev/vmclockN exists a user may
	 * hold it open, and a failed init would free the module under it.
	 */
	if (compat > 0 ||
	    (compat < 0 && !IS_ENABLED(CONFIG_PTP_1588_CLOCK_VMCLOCK))) {
		d->lookalike = vmcd_lookalike_create(&d->region, d->page,
						     d->page_size, device_index,
						     vmcd_counter_clock, d);
		if (IS_ERR(d->lookalike)) {
			ret = PTR_ERR(d->lookalike);
			pr_err("compatibility interfaces failed: %d\n", ret);
			goto out_kobj;
		}
	}
	kobject_uevent(&d->kobj, KOBJ_ADD);

	/* the worker takes the clock (when enabled) at its first run */
	vmcd = d;
	WRITE_ONCE(d->stopping, false);
	queue_delayed_work(system_highpri_wq, &d->work, 0);
	pr_info("following %s at %pR, %s, version %s\n", d->region.name,
		&d->region.res, vmcd_adjtimex_how(), VMCLOCK_PKG_VERSION);
	return 0;

out_kobj:
	/* the kobject is initialised from kobject_init_and_add() on */
	unregister_pm_notifier(&d->pm_nb);
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
	irq_work_sync(&d->clock_set_work);	/* stopping: it kicked nothing */
	memunmap((void *)d->page);
	vmcd_put(d);
	return ret;
out_pm:
	unregister_pm_notifier(&d->pm_nb);
out_notifier:
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
	irq_work_sync(&d->clock_set_work);
out_unmap:
	memunmap((void *)d->page);
out_free:
	kfree(d);
	return ret;
}

/*
 * Unload: sysfs first (no more knob writes or kicks), then one last run
 * of the worker that releases the clock (the hold, STA_UNSYNC), then
 * what the worker used.
 */
static void __exit vmcd_exit(void)
{
	struct vmcd *d = vmcd;

	kobject_uevent(&d->kobj, KOBJ_REMOVE);
	kobject_del(&d->kobj);
	unregister_pm_notifier(&d->pm_nb);	/* no more kicks from it */
	WRITE_ONCE(d->stopping, true);
	mod_delayed_work(system_highpri_wq, &d->work, 0);
	flush_delayed_work(&d->work);
	cancel_delayed_work_sync(&d->work);
	if (d->lookalike)
		vmcd_lookalike_destroy(d->lookalike);
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
	/*
	 * A kick that read stopping as false just before it was set may have
	 * queued the work again: after the last one, cancel once more (that
	 * run, if any, only releases a clock already released).
	 */
	irq_work_sync(&d->clock_set_work);
	cancel_delayed_work_sync(&d->work);
	memunmap((void *)d->page);
	vmcd_put(d);
}

module_init(vmcd_init);
module_exit(vmcd_exit);

MODULE_DESCRIPTION("Discipline CLOCK_REALTIME to a hypervisor's vmclock page");
MODULE_AUTHOR("vmclock-dkms developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(VMCLOCK_PKG_VERSION);
