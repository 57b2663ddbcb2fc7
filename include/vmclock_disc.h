/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The discipline's decisions, kernel-independent: from one update's page
 * copy and clock snapshot to what the kernel's clock must do.
 *
 * vmc_disc_update() is pure (it changes nothing but its own state) and is
 * unit-tested over tables; guest/main.c only carries out its answer with
 * adjtimex and reports back with vmc_disc_applied().
 *
 * What the clock does in every state (docs/guest.md, "States"):
 *  - following (syncing, locked): frequency = page rate - learnt bias +
 *    a slew term for one interval, error bounds from the page, STA_UNSYNC
 *    cleared only while locked to a synchronized page;
 *  - every other state, once the module has steered: the hold, set once:
 *    the last good page rate - hold bias, no slew, STA_UNSYNC, the leap bits
 *    of the last page followed (an announced leap second still happens),
 *    and the error bounds left to the kernel, which grows maxerror by
 *    500 us/s;
 *  - before the module ever steered, or after release: untouched.
 */
#ifndef VMCLOCK_DISC_H
#define VMCLOCK_DISC_H

#include "vmclock_math.h"

enum vmc_disc_state {
	VMC_DS_STARTING,
	VMC_DS_NO_TIME,		/* page valid, but carries no time */
	VMC_DS_TIME_SCALE,	/* monotonic, or TAI without a usable offset */
	VMC_DS_DISABLED,
	VMC_DS_WAIT_CLOCKSOURCE, /* timekeeper not on the page's counter */
	VMC_DS_BAD_PAGE,	/* this update's page was refused */
	VMC_DS_HOLDOVER,	/* clock_status not usable */
	VMC_DS_LEAP_HOLD,	/* 1 s apart around a leap second: sat out */
	VMC_DS_SYNCING,
	VMC_DS_LOCKED,
	VMC_DS_MAX,
};

const char *vmc_disc_state_str(enum vmc_disc_state s);

/* What the kernel's clock is doing on the module's behalf. */
enum vmc_disc_clock {
	VMC_CLK_UNTOUCHED,	/* never steered, or released */
	VMC_CLK_FOLLOWING,	/* a command with a slew term for one interval */
	VMC_CLK_HELD,		/* the hold: a rate, no slew, STA_UNSYNC */
};

/*
 * |offset| below which the clock counts as locked, ns; once locked it stays
 * so while |offset| < VMC_DISC_UNLOCK_NS and nothing broke the phase history
 * (a disruption, a step, a hold, a failed command, someone else's step):
 * one noisy update near 1 us must not flip the state and STA_UNSYNC back
 * and forth. STA_UNSYNC keeps the hysteresis only after a lock to a
 * synchronized page.
 */
#define VMC_DISC_LOCK_NS	1000
#define VMC_DISC_UNLOCK_NS	10000
/* Counter value ahead of the counter by more than this: refused, s */
#define VMC_DISC_FUTURE_S	1
/* Page time before 2020-01-01T00:00:00Z: refused as nonsense, s */
#define VMC_DISC_TIME_FLOOR_S	1577836800LL
/*
 * A page rate further than this from the kernel's own calibration of
 * the counter (CLOCK_MONOTONIC_RAW) is refused, ppm: crystals are within
 * ~100 ppm, and a kernel that calibrated the TSC 1000 ppm wrong would
 * need a step of its own; a hostile or misencoded period is likelier.
 */
#define VMC_DISC_RATE_MAX_PPM	1000
/* Longest a leap-second disagreement (|offset| ~ 1 s) is sat out, s */
#define VMC_DISC_LEAP_HOLD_S	5
/* The kernel's ceiling for maxerror/esterror (NTP_PHASE_LIMIT), us */
#define VMC_DISC_BOUND_MAX_US	16000000LL

struct vmc_disc_cfg {
	bool enabled;
	bool step_after_sync;
	__u64 step_threshold_ns;
	__u32 slew_max_ppm;
	__u32 resync_slew_max_ppm;	/* from a disruption to the next lock */
	__u32 interval_ms;
	__u32 max_extrapolation_s;	/* 0: no limit */
};

/* One update's measurements. */
struct vmc_disc_in {
	bool page_read;		/* false: seq odd or changing past the deadline */
	const struct vmclock_abi *page;	/* seq-consistent copy */
	__u32 region_size;
	__u8 counter_id;	/* this CPU's counter */
	/* the timekeeper ran on the page's counter, unchanged, throughout */
	bool counter_ok;
	__u64 ticks_per_sec;	/* the kernel's counter ticks per second */
	struct vmc_period raw;	/* the clocksource's raw period */
	__u64 cycles;		/* counter at the snapshot */
	__s64 real_ns;		/* CLOCK_REALTIME at @cycles */
	__u64 raw_ns;		/* CLOCK_MONOTONIC_RAW at @cycles */
	/* someone else stepped CLOCK_REALTIME since the last update */
	bool clock_set;
};

/* What to do, in this order; then vmc_disc_applied(). */
struct vmc_disc_out {
	enum vmc_disc_state state;
	const char *why;	/* VMC_DS_BAD_PAGE: the reason */
	bool disruption;	/* marker or generation changed */
	bool clock_set;		/* in->clock_set while the clock is ours */
	bool first_lock;

	bool take;		/* cancel others' pending offsets, leave PLL */
	bool step;
	__s64 step_ns;		/* relative step (ADJ_SETOFFSET) */
	bool set_freq;		/* with status: */
	__s64 freq_ppb16;	/* relative to the raw rate */
	bool unsync;		/* STA_UNSYNC */
	int leap;		/* +1 STA_INS, -1 STA_DEL, 0 neither */
	bool set_bounds;
	__s64 maxerror_us, esterror_us;	/* saturated at the kernel's limit */
	bool set_tai;
	int tai;		/* TAI - UTC, s */
	bool follow;		/* a servo command: align it to the tick grid */
	bool release;		/* give the clock up (disabled, unload) */
	enum vmc_disc_clock clock_after;

	/* for status */
	bool have_offset;
	__s64 offset_ns;	/* CLOCK_REALTIME - page, ns */
	__s64 ff_ppb16;		/* page rate against the raw rate */
	__u64 maxerror_ns;
};

struct vmc_disc {
	struct vmc_servo servo;
	enum vmc_disc_clock clock;
	__s64 held_ppb16;	/* the rate held, when VMC_CLK_HELD */
	int held_leap;		/* ... and its leap bits */
	int leap_bits;		/* of the last page followed: kept by a hold */
	bool taken;		/* others' offsets cancelled since enabling */
	bool synced_once;
	bool locked;		/* the last command applied was a locked one */
	bool locked_sync;	/* ... to a synchronized page: STA_UNSYNC clear */
	bool resync;		/* after a disruption: may step once */
	bool fast_slew;		/* from a disruption to the next lock */
	bool have_good_ff;
	__s64 good_ff_ppb16;	/* last rate of a usable page */
	bool leap_holding;
	__u64 leap_hold_since_ns;	/* raw */
	bool have_marker;
	__u64 marker;
	bool have_gen;
	__u64 gen;
	bool tai_written;
	int tai;
	/* the last page seen with time data, for status */
	bool have_time;
	__u8 clock_status, time_type, leap;
};

void vmc_disc_init(struct vmc_disc *d);

void vmc_disc_update(struct vmc_disc *d, const struct vmc_disc_cfg *cfg,
		     const struct vmc_disc_in *in, struct vmc_disc_out *out);

/*
 * Stop steering now (unload): the hold, STA_UNSYNC, and the clock marked
 * released. Then vmc_disc_applied().
 */
void vmc_disc_release(struct vmc_disc *d, struct vmc_disc_out *out);

/*
 * @out was carried out: @ok when every call succeeded, the frequency
 * taking effect at raw time @t_ns. On failure nothing is taken as done:
 * the same change is asked for again at the next update.
 */
void vmc_disc_applied(struct vmc_disc *d, const struct vmc_disc_out *out,
		      bool ok, __u64 t_ns);

/* Is UTC second @sec (since 1970) on the last day of its month? */
bool vmc_utc_last_day_of_month(__s64 sec);

/* @a + @b, saturating at 2^64 - 1 */
static inline __u64 vmc_sat_add_u64(__u64 a, __u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

/* A bound of @ns as the kernel's us, rounded up, at most 16 s */
static inline __s64 vmc_bound_ns_to_us(__u64 ns)
{
	__u64 us = ns / 1000 + (ns % 1000 != 0);

	return us > VMC_DISC_BOUND_MAX_US ? VMC_DISC_BOUND_MAX_US : (__s64)us;
}

#endif /* VMCLOCK_DISC_H */
