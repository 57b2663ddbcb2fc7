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
#include <linux/delay.h>
#include <linux/kobject.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pvclock_gtod.h>
#include <linux/ratelimit.h>
#include <linux/seqlock.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/time.h>
#include <linux/timekeeper_internal.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include <asm/timex.h>

#include "counter.h"
#include "kshim.h"
#include "vmclock_discipline.h"
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

static unsigned int max_extrapolation_s = 86400;
module_param(max_extrapolation_s, uint, 0444);
MODULE_PARM_DESC(max_extrapolation_s,
		 "Refuse a page whose counter_value lies more than this in the past, s (uint, 0 = no limit, default 86400)");

static int compat = -1;
module_param(compat, int, 0444);
MODULE_PARM_DESC(compat,
		 "Offer a PTP clock and /dev/vmclockN for chrony, phc2sys, ClockBound: 1 on, 0 off, -1 only on kernels without ptp_vmclock (int, default -1)");

/* |offset| below which the clock counts as locked (STA_UNSYNC clear), ns */
#define VMCD_LOCK_NS		1000
/* A page line whose counter_value lies ahead of the counter by more than
 * this is not on our counter (or hostile), s.
 */
#define VMCD_FUTURE_S		1
#define SECS_PER_DAY		86400
/* Page time before 2020-01-01T00:00:00Z is refused as nonsense, s. */
#define VMCD_TIME_FLOOR_S	1577836800LL
/* Longest a leap second transient (|offset| = 1 s) is sat out, updates */
#define VMCD_LEAP_GUARD_MAX	40

enum vmcd_state {
	VMCD_STARTING,
	VMCD_NO_TIME,		/* page valid, but carries no time */
	VMCD_TIME_SCALE,	/* monotonic, or TAI without the offset */
	VMCD_DISABLED,
	VMCD_WAIT_CLOCKSOURCE,	/* timekeeper not (yet) on the page's counter */
	VMCD_BAD_PAGE,
	VMCD_HOLDOVER,		/* page status not usable: frequency held */
	VMCD_SYNCING,
	VMCD_LOCKED,
};

static const char * const vmcd_state_str[] = {
	[VMCD_STARTING] = "starting",
	[VMCD_NO_TIME] = "no-time-data",
	[VMCD_TIME_SCALE] = "unsupported-time-scale",
	[VMCD_DISABLED] = "disabled",
	[VMCD_WAIT_CLOCKSOURCE] = "wait-clocksource",
	[VMCD_BAD_PAGE] = "bad-page",
	[VMCD_HOLDOVER] = "holdover",
	[VMCD_SYNCING] = "syncing",
	[VMCD_LOCKED] = "locked",
};

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
	struct delayed_work work;
	bool stopping;

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

	struct vmcd_lookalike *lookalike;	/* NULL when off */

	struct kset *kset;
	struct kobject kobj;		/* /sys/kernel/vmclock_discipline/vmclockN */

	struct mutex lock;		/* everything below */
	/* knobs */
	bool enabled;
	bool step_after_sync;
	u64 step_threshold_ns;
	u32 slew_max_ppm;
	u32 resync_slew_max_ppm;
	u32 interval_ms;

	struct vmc_servo servo;
	enum vmcd_state state;
	enum vmc_page_verdict verdict;	/* of the last page read */
	const char *page_error;		/* last reason a page was refused */
	bool applied;			/* we have set the clock's frequency */
	bool synced_once;
	bool resync;			/* after a disruption: may step once */
	bool fast_slew;			/* from a disruption to the next lock */
	unsigned int leap_guard;
	bool have_marker;
	u64 marker;
	bool have_gen;
	u64 vm_gen;

	/* status */
	s64 offset_ns;
	s64 freq_ppb16;			/* applied, relative to nominal */
	s64 ff_ppb16;			/* the page's rate, relative to nominal */
	u64 maxerror_ns;
	u8 clock_status;
	u8 time_type;
	u8 leap;
	bool have_time;
	u64 updates;
	u64 steps;
	u64 disruptions;
	u64 page_errors;
};

static struct vmcd *vmcd;

static DEFINE_RATELIMIT_STATE(vmcd_rs, 10 * HZ, 5);

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

	bool changed = cs != d->tk_clock || interval != d->tk_cycle_interval ||
		       mult != d->tk_raw_mult;

	raw_write_seqcount_begin(&d->tk_seq);
	d->tk_cycle_last = vmcd_tk_cycle_last(priv);
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
	return NOTIFY_DONE;
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

/* Clock control -------------------------------------------------------- */

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

/* Set the frequency alone, or with status STA_UNSYNC when @unsync. */
static int vmcd_set_freq(struct vmcd *d, s64 ppb16, bool unsync)
{
	struct __kernel_timex tx = {
		.modes = unsync ? ADJ_STATUS | ADJ_NANO : 0,
		.status = STA_UNSYNC,
	};
	int ret;

	vmcd_fill_freq(&tx, ppb16);
	ret = vmcd_adjtimex(&tx);
	if (ret < 0) {
		pr_err_ratelimited("adjtimex(freq) failed: %d\n", ret);
		return ret;
	}
	d->freq_ppb16 = ppb16;
	d->applied = true;
	return 0;
}

/* Relative step by @ns, exactly (timekeeping_inject_offset); < 0: error */
static int vmcd_step(s64 ns)
{
	struct timespec64 ts = ns_to_timespec64(ns);	/* tv_nsec >= 0 */
	struct __kernel_timex tx = {
		.modes = ADJ_SETOFFSET | ADJ_NANO,
		.time.tv_sec = ts.tv_sec,
		.time.tv_usec = ts.tv_nsec,
	};

	return vmcd_adjtimex(&tx);
}

/* Is UTC second @sec on the last day of its month? */
static bool vmcd_last_day_of_month(time64_t sec)
{
	struct tm tm;

	time64_to_tm(sec + SECS_PER_DAY, 0, &tm);
	return tm.tm_mday == 1;
}

/* STA_INS/STA_DEL for the page's leap indicator at UTC second @now. */
static int vmcd_leap_status(u8 leap, time64_t now)
{
	switch (leap) {
	case VMCLOCK_LEAP_PRE_POS:
		return vmcd_last_day_of_month(now) ? STA_INS : 0;
	case VMCLOCK_LEAP_PRE_NEG:
		return vmcd_last_day_of_month(now) ? STA_DEL : 0;
	case VMCLOCK_LEAP_POS:
		return STA_INS;		/* keep the insertion in progress */
	default:
		return 0;
	}
}

/*
 * One adjtimex call for everything but steps: frequency, status (with
 * STA_UNSYNC unless @sync, and the leap bits), error bounds in us, TAI.
 */
static int vmcd_apply(struct vmcd *d, const struct vmclock_abi *pg,
		      s64 ppb16, bool sync, time64_t now, u64 maxerr_ns,
		      u64 esterr_ns)
{
	struct __kernel_timex tx = {
		.modes = ADJ_STATUS | ADJ_NANO | ADJ_MAXERROR | ADJ_ESTERROR,
		.status = (sync ? 0 : STA_UNSYNC) |
			  vmcd_leap_status(pg->leap_indicator, now),
		.maxerror = min_t(u64, DIV_ROUND_UP_ULL(maxerr_ns, 1000),
				  NTP_PHASE_LIMIT),
		.esterror = min_t(u64, DIV_ROUND_UP_ULL(esterr_ns, 1000),
				  NTP_PHASE_LIMIT),
	};
	int ret;

	if (le64_to_cpu(pg->flags) & VMCLOCK_FLAG_TAI_OFFSET_VALID) {
		/* the kernel's TAI offset is TAI - UTC, the page's UTC - TAI */
		tx.modes |= ADJ_TAI;
		tx.constant = -(s16)le16_to_cpu(pg->tai_offset_sec);
	}
	vmcd_fill_freq(&tx, ppb16);
	ret = vmcd_adjtimex(&tx);
	if (ret < 0) {
		pr_err_ratelimited("adjtimex failed: %d\n", ret);
		return ret;
	}
	d->freq_ppb16 = ppb16;
	d->applied = true;
	return 0;
}

/*
 * Stop steering: keep the best rate estimate (no slew term), mark the
 * clock unsynchronised. The clock then free-runs on that frequency.
 */
static void vmcd_release(struct vmcd *d)
{
	s64 f;

	if (!d->applied)
		return;
	f = vmc_servo_holdover(&d->servo, d->ff_ppb16);
	if (!vmcd_set_freq(d, f, true))
		pr_info("released the clock: frequency %lld ppb kept, STA_UNSYNC set\n",
			div_s64(f, VMC_PPB16_PER_PPB));
	d->applied = false;
}

/*
 * Take the clock from any earlier NTP state: cancel a pending adjtime()
 * slew and the kernel PLL's pending offset (which can only be zeroed
 * with STA_PLL set), then leave PLL mode. Status ends as STA_UNSYNC.
 */
static void vmcd_take_clock(void)
{
	struct __kernel_timex tx = { .modes = 0 };

	if (vmcd_adjtimex(&tx) >= 0 && (tx.status & (STA_PLL | STA_FLL)))
		pr_warn("the kernel PLL is in use: another NTP client seems to discipline this clock; stop it, the two will fight\n");

	tx = (struct __kernel_timex){ .modes = ADJ_OFFSET_SINGLESHOT };
	vmcd_adjtimex(&tx);
	tx = (struct __kernel_timex){
		.modes = ADJ_STATUS | ADJ_OFFSET | ADJ_NANO,
		.status = STA_PLL | STA_FREQHOLD | STA_UNSYNC,
	};
	vmcd_adjtimex(&tx);
	tx = (struct __kernel_timex){
		.modes = ADJ_STATUS | ADJ_NANO,
		.status = STA_UNSYNC,
	};
	vmcd_adjtimex(&tx);
}

/* Page ----------------------------------------------------------------- */

static void vmcd_snapshot_cb(void *snap)
{
	vmcd_get_snapshot(snap);
}

static void vmcd_set_state(struct vmcd *d, enum vmcd_state s)
{
	if (d->state != s)
		pr_info("state %s -> %s\n", vmcd_state_str[d->state],
			vmcd_state_str[s]);
	d->state = s;
}

/*
 * Refuse a page: say why (rate-limited) and act on nothing it says. The
 * last command's slew term was meant for one interval only, so on the
 * first refusal the clock is set to run at the last good rate estimate.
 */
static void vmcd_refuse(struct vmcd *d, const char *why)
{
	d->page_errors++;
	if (d->applied && (d->state == VMCD_SYNCING || d->state == VMCD_LOCKED))
		vmcd_set_freq(d, vmc_servo_holdover(&d->servo, d->ff_ppb16),
			      false);
	d->servo.have_prev = false;
	if (d->page_error != why || d->state != VMCD_BAD_PAGE) {
		if (__ratelimit(&vmcd_rs))
			pr_err("%s: page refused: %s; clock left untouched\n",
			       d->region.name, why);
	}
	d->page_error = why;
	vmcd_set_state(d, VMCD_BAD_PAGE);
}

/* Live migration or snapshot restore: forget everything, resync now. */
static void vmcd_check_disruption(struct vmcd *d, const struct vmclock_abi *pg)
{
	u64 marker = le64_to_cpu(pg->disruption_marker);
	bool has_gen = le64_to_cpu(pg->flags) &
		       VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT;
	u64 gen = has_gen ? le64_to_cpu(pg->vm_generation_counter) : 0;
	bool changed;
	char ev[] = "EVENT=disruption";
	char count[40];
	char *envp[3];

	changed = d->have_marker &&
		  (marker != d->marker ||
		   (has_gen && d->have_gen && gen != d->vm_gen));
	d->have_marker = true;
	d->marker = marker;
	d->have_gen = has_gen;
	d->vm_gen = gen;
	if (!changed)
		return;

	d->disruptions++;
	vmc_servo_reset(&d->servo);
	d->resync = true;
	d->fast_slew = true;
	pr_info("%s: disruption %llu (marker %llu, generation %llu): resynchronising\n",
		d->region.name, d->disruptions, marker, gen);
	snprintf(count, sizeof(count), "DISRUPTIONS=%llu", d->disruptions);
	envp[0] = ev;
	envp[1] = count;
	envp[2] = NULL;
	sysfs_notify(&d->kobj, NULL, "disruptions");
	kobject_uevent_env(&d->kobj, KOBJ_CHANGE, envp);
}

/*
 * Wait for the timekeeper's next accumulation point. A 6.1 kernel books a
 * frequency change into ntp_error as delta-mult times the counter ticks
 * since the last accumulation, and pays that out one mult unit (~150 ppb)
 * per tick, for seconds after a large change. Accumulations happen on a
 * fixed grid (cycle_last advances by whole cycle_intervals), so changing
 * the frequency just after a grid point leaves almost nothing to pay.
 */
static void vmcd_align_to_tick(struct vmcd *d)
{
	u64 last, interval, partial, prev, wait_ns, deadline;
	unsigned int seq;
	u32 mult, shift;
	bool on;

	do {
		seq = read_seqcount_begin(&d->tk_seq);
		on = d->tk_on_counter;
		last = d->tk_cycle_last;
		interval = d->tk_cycle_interval;
		mult = d->tk_raw_mult;
		shift = d->tk_raw_shift;
	} while (read_seqcount_retry(&d->tk_seq, seq));
	if (!on || !interval)
		return;
	partial = (get_cycles() - last) % interval;
	/* already within 1/256 of a tick after a grid point (16 us at HZ=250) */
	if (partial < interval / 256)
		return;
	/* sleep to ~200 us before the grid point, then spin across it */
	wait_ns = mul_u64_u32_shr(interval - partial, mult, shift);
	if (wait_ns > 300 * NSEC_PER_USEC)
		usleep_range(wait_ns / NSEC_PER_USEC - 250,
			     wait_ns / NSEC_PER_USEC - 200);
	deadline = get_cycles() + interval;
	prev = (get_cycles() - last) % interval;
	while ((s64)(get_cycles() - deadline) < 0) {
		partial = (get_cycles() - last) % interval;
		if (partial < prev)
			return;		/* wrapped: just past the grid point */
		prev = partial;
		cpu_relax();
	}
}

static void vmcd_update(struct vmcd *d)
{
	struct vmc_servo_cfg cfg;
	struct vmcd_snap snap;
	struct vmclock_abi pg;
	struct vmc_line line;
	struct vmc_ts t;
	struct vmc_period raw;
	unsigned int tk1, tk2;
	u64 ticks, age, maxerr, esterr, flags;
	s64 offset, page_ns, freq, step;
	bool sync, held;
	enum vmc_servo_action act;

	d->updates++;
	ticks = vmcd_tk_ticks_per_sec(d, &tk1, &raw);
	if (vmcd_page_read(d->page, d->page_size, &pg, vmcd_snapshot_cb,
			   &snap)) {
		vmcd_refuse(d, "seq_count odd or changing for too long");
		return;
	}
	if (d->lookalike)
		vmcd_lookalike_seen(d->lookalike, le32_to_cpu(pg.seq_count));
	d->verdict = vmc_page_validate(&pg, d->page_size, VMCD_COUNTER_ID);
	if (d->verdict != VMC_PAGE_OK && d->verdict != VMC_PAGE_NO_TIME) {
		vmcd_refuse(d, vmc_page_verdict_str(d->verdict));
		return;
	}
	vmcd_check_disruption(d, &pg);
	if (d->verdict == VMC_PAGE_NO_TIME) {
		d->have_time = false;
		vmcd_set_state(d, VMCD_NO_TIME);
		return;
	}

	flags = le64_to_cpu(pg.flags);
	d->have_time = true;
	d->clock_status = pg.clock_status;
	d->time_type = pg.time_type;
	d->leap = pg.leap_indicator;
	if (pg.time_type == VMCLOCK_TIME_MONOTONIC ||
	    (pg.time_type == VMCLOCK_TIME_TAI &&
	     !(flags & VMCLOCK_FLAG_TAI_OFFSET_VALID))) {
		vmcd_set_state(d, VMCD_TIME_SCALE);
		return;
	}

	/* The snapshot must come from the page's counter, unchanged. */
	if (!ticks || vmcd_tk_ticks_per_sec(d, &tk2, &raw) != ticks ||
	    tk1 != tk2) {
		if (d->state != VMCD_WAIT_CLOCKSOURCE)
			pr_warn("clocksource is %s, not the page's counter (%s): discipline paused\n",
				d->tk_clock_name, VMCD_CLOCKSOURCE);
		vmcd_set_state(d, VMCD_WAIT_CLOCKSOURCE);
		return;
	}

	vmc_page_line(&pg, &line);
	/* counter ticks from the page's reference point to the snapshot */
	age = snap.cycles - line.counter_value;
	if ((s64)age < 0 && -age > VMCD_FUTURE_S * ticks) {
		vmcd_refuse(d, "counter_value ahead of this CPU's counter");
		return;
	}
	if ((s64)age > 0 && max_extrapolation_s &&
	    age / ticks > max_extrapolation_s) {
		vmcd_refuse(d, "stale: counter_value too far in the past");
		return;
	}
	t = vmc_line_time_at(&line, snap.cycles);
	if (pg.time_type == VMCLOCK_TIME_TAI)
		t.sec = vmc_tai_to_utc(t.sec,
				       (s16)le16_to_cpu(pg.tai_offset_sec));
	if (t.sec < VMCD_TIME_FLOOR_S) {
		vmcd_refuse(d, "time before 2020");
		return;
	}
	page_ns = vmc_ts_to_ns(t);
	offset = snap.real_ns - page_ns;
	d->offset_ns = offset;
	d->page_error = NULL;
	/*
	 * adjtimex frequencies are realised against the raw rate: the
	 * timekeeper's error feedback pays out the tick's rounding
	 * remainder (xtime_remainder), so at freq 0 CLOCK_REALTIME runs at
	 * exactly CLOCK_MONOTONIC_RAW's rate.
	 */
	d->ff_ppb16 = vmc_period_diff_ppb16(&line.period, &raw);

	if (!d->enabled) {
		vmcd_release(d);
		vmcd_set_state(d, VMCD_DISABLED);
		return;
	}

	if (pg.clock_status != VMCLOCK_STATUS_SYNCHRONIZED &&
	    pg.clock_status != VMCLOCK_STATUS_FREERUNNING) {
		/* Rate only, once; no step, no status change. */
		if (d->state != VMCD_HOLDOVER && d->applied)
			vmcd_set_freq(d, vmc_servo_holdover(&d->servo,
							    d->ff_ppb16), true);
		d->servo.have_prev = false;
		vmcd_set_state(d, VMCD_HOLDOVER);
		return;
	}

	/*
	 * Around a leap second the kernel and the page may disagree by 1 s
	 * for an update or two: sit that out rather than step.
	 */
	held = abs(abs(offset) - (s64)NSEC_PER_SEC) < 10 * NSEC_PER_MSEC &&
	       pg.leap_indicator != VMCLOCK_LEAP_NONE;
	if (held && d->leap_guard++ < VMCD_LEAP_GUARD_MAX)
		return;
	d->leap_guard = 0;

	cfg.step_threshold_ns = d->step_threshold_ns;
	cfg.allow_step = d->step_after_sync || !d->synced_once || d->resync;
	/*
	 * After a disruption the clock is known to be far off: slewing
	 * faster re-locks sooner, at the price of a few seconds of
	 * ntp_error payout (docs/guest.md) once locked.
	 */
	cfg.slew_max_ppb16 = (s64)(d->fast_slew ? d->resync_slew_max_ppm :
				   d->slew_max_ppm) * 1000 * VMC_PPB16_PER_PPB;
	cfg.interval_ns = (u64)d->interval_ms * NSEC_PER_MSEC;
	act = vmc_servo_update(&d->servo, &cfg, offset, d->ff_ppb16,
			       snap.raw_ns, &freq, &step);
	pr_debug("update raw=%lld offset=%lld ff=%lld bias=%lld freq=%lld (ppb16)\n",
		 snap.raw_ns, offset, d->ff_ppb16,
		 d->servo.bias_ppb16, freq);
	if (act == VMC_SERVO_STEP) {
		int ret = vmcd_step(step);

		/* >= 0 is the clock state (TIME_ERROR while unsynced) */
		if (ret < 0) {
			pr_err_ratelimited("step by %lld ns failed: %d\n",
					   step, ret);
			return;
		}
		d->steps++;
		pr_info("stepped the clock by %lld ns\n", step);
		offset = 0;
	}
	d->resync = false;

	/* honest bounds: the page's own error at this counter plus ours */
	maxerr = abs(offset);
	esterr = abs(offset);
	if (flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID)
		maxerr += vmc_maxerror_ns_at(&line,
			le64_to_cpu(pg.time_maxerror_nanosec),
			(flags & VMCLOCK_FLAG_PERIOD_MAXERROR_VALID) ?
			le64_to_cpu(pg.counter_period_maxerror_rate_frac_sec) : 0,
			snap.cycles);
	if (flags & VMCLOCK_FLAG_TIME_ESTERROR_VALID)
		esterr += le64_to_cpu(pg.time_esterror_nanosec);
	d->maxerror_ns = maxerr;

	sync = pg.clock_status == VMCLOCK_STATUS_SYNCHRONIZED &&
	       abs(offset) < VMCD_LOCK_NS;
	vmcd_align_to_tick(d);
	if (vmcd_apply(d, &pg, freq, sync, t.sec, maxerr, esterr))
		return;
	vmc_servo_applied(&d->servo, ktime_get_raw_ns());
	if (abs(offset) < VMCD_LOCK_NS) {
		if (!d->synced_once)
			pr_info("locked to %s: offset %lld ns\n",
				d->region.name, offset);
		d->synced_once = true;
		d->fast_slew = false;
		vmcd_set_state(d, VMCD_LOCKED);
	} else {
		vmcd_set_state(d, VMCD_SYNCING);
	}
}

static void vmcd_work(struct work_struct *work)
{
	struct vmcd *d = container_of(work, struct vmcd, work.work);
	unsigned long delay;

	mutex_lock(&d->lock);
	vmcd_update(d);
	delay = msecs_to_jiffies(d->interval_ms);
	mutex_unlock(&d->lock);
	if (!READ_ONCE(d->stopping))
		queue_delayed_work(system_highpri_wq, &d->work, delay);
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

VMCD_RO(state, "%s", vmcd_state_str[d->state]);
VMCD_RO(offset_ns, "%lld", d->offset_ns);
VMCD_RO(freq_ppb, "%lld", div_s64(d->freq_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(ref_freq_ppb, "%lld", div_s64(d->ff_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(bias_ppb, "%lld", div_s64(d->servo.bias_ppb16, VMC_PPB16_PER_PPB));
VMCD_RO(maxerror_ns, "%llu", d->maxerror_ns);
VMCD_RO(steps, "%llu", d->steps);
VMCD_RO(disruptions, "%llu", d->disruptions);
VMCD_RO(updates, "%llu", d->updates);
VMCD_RO(page_errors, "%llu", d->page_errors);
VMCD_RO(last_page_error, "%s", d->page_error ? d->page_error : "none");
VMCD_RO(page_status, "%s",
	vmcd_str(vmcd_status_str, ARRAY_SIZE(vmcd_status_str),
		 d->clock_status, d->have_time));
VMCD_RO(time_scale, "%s",
	vmcd_str(vmcd_time_type_str, ARRAY_SIZE(vmcd_time_type_str),
		 d->time_type, d->have_time));
VMCD_RO(leap, "%s",
	vmcd_str(vmcd_leap_str, ARRAY_SIZE(vmcd_leap_str), d->leap,
		 d->have_time));
VMCD_RO(device, "%s %pR", d->region.name, &d->region.res);
VMCD_RO(clocksource, "%s", d->tk_clock_name);

/* Writable knobs: parse, range-check, store under the lock. */
#define VMCD_RW(name, type, min, max, field)				\
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
	return count;							\
}									\
static struct kobj_attribute name##_attr = __ATTR_RW(name)

VMCD_RW(step_threshold_ns, u64, 1000, U64_MAX, step_threshold_ns);
VMCD_RW(slew_max_ppm, u32, 1, 50000, slew_max_ppm);
VMCD_RW(resync_slew_max_ppm, u32, 1, 50000, resync_slew_max_ppm);
VMCD_RW(update_interval_ms, u32, 10, 10000, interval_ms);

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d\n", READ_ONCE(to_vmcd(kobj)->enabled));
}

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
	if (d->enabled && !v) {
		vmcd_release(d);
		vmcd_set_state(d, VMCD_DISABLED);
	} else if (!d->enabled && v) {
		vmc_servo_reset(&d->servo);
		d->resync = true;
	}
	d->enabled = v;
	mutex_unlock(&d->lock);
	return count;
}

static struct kobj_attribute enabled_attr = __ATTR_RW(enabled);

static ssize_t step_after_sync_show(struct kobject *kobj,
				    struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  READ_ONCE(to_vmcd(kobj)->step_after_sync));
}

static ssize_t step_after_sync_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	bool v;
	int ret = kstrtobool(buf, &v);

	if (ret)
		return ret;
	WRITE_ONCE(to_vmcd(kobj)->step_after_sync, v);
	return count;
}

static struct kobj_attribute step_after_sync_attr = __ATTR_RW(step_after_sync);

static struct attribute *vmcd_attrs[] = {
	&state_attr.attr,
	&offset_ns_attr.attr,
	&freq_ppb_attr.attr,
	&ref_freq_ppb_attr.attr,
	&bias_ppb_attr.attr,
	&maxerror_ns_attr.attr,
	&steps_attr.attr,
	&disruptions_attr.attr,
	&updates_attr.attr,
	&page_errors_attr.attr,
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
	NULL,
};
ATTRIBUTE_GROUPS(vmcd);

static void vmcd_kobj_release(struct kobject *kobj)
{
	kfree(to_vmcd(kobj));
}

static struct kobj_type vmcd_ktype = {
	.release = vmcd_kobj_release,
	.sysfs_ops = &kobj_sysfs_ops,
	.default_groups = vmcd_groups,
};

/* Module ---------------------------------------------------------------- */

static int __init vmcd_init(void)
{
	struct vmcd *d;
	int ret;

	if (!slew_max_ppm || slew_max_ppm > 50000 || !resync_slew_max_ppm ||
	    resync_slew_max_ppm > 50000 || update_interval_ms < 10 ||
	    update_interval_ms > 10000 || step_threshold_ns < 1000) {
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
	seqcount_init(&d->tk_seq);
	INIT_DELAYED_WORK(&d->work, vmcd_work);
	vmc_servo_reset(&d->servo);
	d->enabled = enabled;
	d->step_after_sync = step_after_sync;
	d->step_threshold_ns = step_threshold_ns;
	d->slew_max_ppm = slew_max_ppm;
	d->resync_slew_max_ppm = resync_slew_max_ppm;
	d->interval_ms = update_interval_ms;
	d->state = VMCD_STARTING;

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
	d->page = memremap(d->region.res.start, d->page_size, MEMREMAP_WB);
	if (!d->page) {
		ret = -ENOMEM;
		goto out_free;
	}

	d->gtod_nb.notifier_call = vmcd_gtod_notify;
	ret = pvclock_gtod_register_notifier(&d->gtod_nb);
	if (ret)
		goto out_unmap;

	d->kset = kset_create_and_add(KBUILD_MODNAME, NULL, kernel_kobj);
	if (!d->kset) {
		ret = -ENOMEM;
		goto out_notifier;
	}
	d->kobj.kset = d->kset;
	ret = kobject_init_and_add(&d->kobj, &vmcd_ktype, NULL, "vmclock%u",
				   device_index);
	if (ret)
		goto out_kobj;

	if (compat > 0 ||
	    (compat < 0 && !IS_ENABLED(CONFIG_PTP_1588_CLOCK_VMCLOCK))) {
		d->lookalike = vmcd_lookalike_create(&d->region, d->page,
					       d->page_size, device_index,
					       vmcd_counter_clock, d);
		if (IS_ERR(d->lookalike)) {
			ret = PTR_ERR(d->lookalike);
			d->lookalike = NULL;
			pr_err("compatibility interfaces failed: %d\n", ret);
			goto out_kobj;
		}
	}

	if (d->enabled)
		vmcd_take_clock();
	vmcd = d;
	queue_delayed_work(system_highpri_wq, &d->work, 0);
	pr_info("following %s at %pR, %s, version %s\n", d->region.name,
		&d->region.res, vmcd_adjtimex_how(), VMCLOCK_PKG_VERSION);
	return 0;

out_kobj:
	/* the kobject owns @d from kobject_init_and_add() on */
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
	memunmap((void *)d->page);
	kobject_put(&d->kobj);
	kset_unregister(d->kset);
	return ret;
out_notifier:
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
out_unmap:
	memunmap((void *)d->page);
out_free:
	kfree(d);
	return ret;
}

static void __exit vmcd_exit(void)
{
	struct vmcd *d = vmcd;
	struct kset *kset = d->kset;

	WRITE_ONCE(d->stopping, true);
	cancel_delayed_work_sync(&d->work);
	if (d->lookalike)
		vmcd_lookalike_destroy(d->lookalike);
	pvclock_gtod_unregister_notifier(&d->gtod_nb);
	mutex_lock(&d->lock);
	vmcd_release(d);
	mutex_unlock(&d->lock);
	memunmap((void *)d->page);
	kobject_put(&d->kobj);
	kset_unregister(kset);
}

module_init(vmcd_init);
module_exit(vmcd_exit);

MODULE_DESCRIPTION("Discipline CLOCK_REALTIME to a hypervisor's vmclock page");
MODULE_AUTHOR("vmclock-dkms developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(VMCLOCK_PKG_VERSION);
