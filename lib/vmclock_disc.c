// SPDX-License-Identifier: GPL-2.0
/*
 * The discipline's decisions (include/vmclock_disc.h): page verdict,
 * status, clocksource, counter age, offset and error bounds -> what the
 * kernel's clock does. Pure: no side effects outside struct vmc_disc.
 */
#include "vmclock_disc.h"

#define VMC_PPB16_PER_PPM	(1000 * VMC_PPB16_PER_PPB)

static const char * const vmc_disc_state_names[VMC_DS_MAX] = {
	[VMC_DS_STARTING] = "starting",
	[VMC_DS_NO_TIME] = "no-time-data",
	[VMC_DS_TIME_SCALE] = "unsupported-time-scale",
	[VMC_DS_DISABLED] = "disabled",
	[VMC_DS_WAIT_CLOCKSOURCE] = "wait-clocksource",
	[VMC_DS_BAD_PAGE] = "bad-page",
	[VMC_DS_HOLDOVER] = "holdover",
	[VMC_DS_LEAP_HOLD] = "leap-hold",
	[VMC_DS_SYNCING] = "syncing",
	[VMC_DS_LOCKED] = "locked",
};

const char *vmc_disc_state_str(enum vmc_disc_state s)
{
	return (unsigned int)s < VMC_DS_MAX ? vmc_disc_state_names[s] :
	       "invalid";
}

void vmc_disc_init(struct vmc_disc *d)
{
	*d = (struct vmc_disc){ .clock = VMC_CLK_UNTOUCHED };
	vmc_servo_reset(&d->servo);
}

bool vmc_utc_last_day_of_month(__s64 sec)
{
	/* the day after, as a civil date: days since 0000-03-01 */
	__s64 days = (sec >= 0 ? sec / 86400 : (sec - 86399) / 86400) + 1;
	__s64 z = days + 719468;	/* 1970-01-01 is day 719468 */
	__s64 era = (z >= 0 ? z : z - 146096) / 146097;
	__s64 doe = z - era * 146097;			/* [0, 146096] */
	__s64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	__s64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* [0, 365] */
	__s64 mp = (5 * doy + 2) / 153;			/* March = 0 */
	__s64 mday = doy - (153 * mp + 2) / 5 + 1;

	return mday == 1;
}

/* STA_INS/STA_DEL (+1/-1) for leap indicator @leap at UTC second @now */
static int vmc_disc_leap(__u8 leap, __s64 now)
{
	switch (leap) {
	case VMCLOCK_LEAP_PRE_POS:
		return vmc_utc_last_day_of_month(now) ? 1 : 0;
	case VMCLOCK_LEAP_PRE_NEG:
		return vmc_utc_last_day_of_month(now) ? -1 : 0;
	case VMCLOCK_LEAP_POS:
		return 1;		/* keep the insertion in progress */
	default:
		return 0;
	}
}

static __s64 vmc_abs_s64(__s64 v)
{
	return v < 0 ? -v : v;
}

/* The rate to hold: the last good page rate less the averaged bias. */
static __s64 vmc_disc_hold_ppb16(const struct vmc_disc *d)
{
	/* no good rate since the last disruption: the kernel's own */
	return vmc_servo_holdover(&d->servo,
				  d->have_good_ff ? d->good_ff_ppb16 : 0);
}

/* Ask for the hold, unless the clock is untouched or held at that rate. */
static void vmc_disc_hold(struct vmc_disc *d, struct vmc_disc_out *out)
{
	__s64 f = vmc_disc_hold_ppb16(d);

	d->servo.have_prev = false;
	if (d->clock == VMC_CLK_UNTOUCHED ||
	    (d->clock == VMC_CLK_HELD && d->held_ppb16 == f &&
	     d->held_leap == d->leap_bits))
		return;
	out->set_freq = true;
	out->freq_ppb16 = f;
	out->unsync = true;
	/* a leap second the last followed page announced still happens */
	out->leap = d->leap_bits;
	out->clock_after = VMC_CLK_HELD;
}

static enum vmc_disc_state vmc_disc_refuse(struct vmc_disc_out *out,
					   const char *why)
{
	out->why = why;
	return VMC_DS_BAD_PAGE;
}

static void vmc_disc_check_disruption(struct vmc_disc *d,
				      const struct vmclock_abi *pg,
				      struct vmc_disc_out *out)
{
	__u64 marker = vmc_le64(pg->disruption_marker);
	bool has_gen = vmc_le64(pg->flags) &
		       VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT;
	__u64 gen = has_gen ? vmc_le64(pg->vm_generation_counter) : 0;

	out->disruption = d->have_marker &&
			  (marker != d->marker ||
			   (has_gen && d->have_gen && gen != d->gen));
	d->have_marker = true;
	d->marker = marker;
	d->have_gen = has_gen;
	d->gen = gen;
	if (!out->disruption)
		return;
	/* another host, another counter: forget everything learnt */
	vmc_servo_reset(&d->servo);
	d->have_good_ff = false;
	d->leap_bits = 0;
	d->tai_written = false;
	d->resync = true;
	d->fast_slew = true;
}

/*
 * Judge the page and measure the offset; VMC_DS_SYNCING means "follow".
 * Fills out->offset_ns, ff_ppb16 where they could be measured, and the
 * page's error bounds at the snapshot in @maxerr, @esterr (ns).
 */
static enum vmc_disc_state vmc_disc_judge(struct vmc_disc *d,
					  const struct vmc_disc_cfg *cfg,
					  const struct vmc_disc_in *in,
					  struct vmc_disc_out *out,
					  struct vmc_ts *t, __u64 *maxerr,
					  __u64 *esterr)
{
	const struct vmclock_abi *pg = in->page;
	enum vmc_page_verdict v;
	struct vmc_line line;
	__u64 flags, age, ticks = in->ticks_per_sec;
	__s64 mag;
	int tai;
	bool have_tai;

	if (!in->page_read)
		return vmc_disc_refuse(out,
				       "seq_count odd or changing for too long");
	v = vmc_page_validate(pg, in->region_size, in->counter_id);
	if (v != VMC_PAGE_OK && v != VMC_PAGE_NO_TIME)
		return vmc_disc_refuse(out, vmc_page_verdict_str(v));
	vmc_disc_check_disruption(d, pg, out);
	if (v == VMC_PAGE_NO_TIME) {
		d->have_time = false;
		return VMC_DS_NO_TIME;
	}

	flags = vmc_le64(pg->flags);
	d->have_time = true;
	d->clock_status = pg->clock_status;
	d->time_type = pg->time_type;
	d->leap = pg->leap_indicator;
	have_tai = vmc_page_tai_utc(pg, &tai);
	if (pg->time_type == VMCLOCK_TIME_MONOTONIC ||
	    (pg->time_type == VMCLOCK_TIME_TAI && !have_tai))
		return VMC_DS_TIME_SCALE;
	if (!in->counter_ok || !ticks)
		return VMC_DS_WAIT_CLOCKSOURCE;

	vmc_page_line(pg, &line);
	/* counter ticks from the page's reference point to the snapshot */
	age = in->cycles - line.counter_value;
	if ((__s64)age < 0 && -age / ticks >= VMC_DISC_FUTURE_S)
		return vmc_disc_refuse(out,
				       "counter_value ahead of this CPU's counter");
	if ((__s64)age > 0 && cfg->max_extrapolation_s &&
	    age / ticks > cfg->max_extrapolation_s)
		return vmc_disc_refuse(out,
				       "stale: counter_value too far in the past");
	*t = vmc_line_time_at(&line, in->cycles);
	if (pg->time_type == VMCLOCK_TIME_TAI)
		t->sec = vmc_utc_from_tai(t->sec, tai);
	if (t->sec < VMC_DISC_TIME_FLOOR_S)
		return vmc_disc_refuse(out, "time before 2020");

	/*
	 * adjtimex frequencies are realised against the raw rate: at freq 0
	 * CLOCK_REALTIME runs at exactly CLOCK_MONOTONIC_RAW's rate.
	 */
	out->ff_ppb16 = vmc_period_diff_ppb16(&line.period, &in->raw);
	out->offset_ns = in->real_ns - vmc_ts_to_ns(*t);
	out->have_offset = true;
	if (vmc_abs_s64(out->ff_ppb16) >
	    VMC_DISC_RATE_MAX_PPM * VMC_PPB16_PER_PPM)
		return vmc_disc_refuse(out,
				       "rate more than 1000 ppm from the kernel's counter calibration");

	*maxerr = 0;
	*esterr = 0;
	if (flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID) {
		__u64 rate = (flags & VMCLOCK_FLAG_PERIOD_MAXERROR_VALID) ?
			vmc_le64(pg->counter_period_maxerror_rate_frac_sec) : 0;

		*maxerr = vmc_maxerror_ns_at(&line,
					     vmc_le64(pg->time_maxerror_nanosec),
					     rate, in->cycles);
	}
	if (flags & VMCLOCK_FLAG_TIME_ESTERROR_VALID)
		*esterr = vmc_le64(pg->time_esterror_nanosec);

	if (pg->clock_status != VMCLOCK_STATUS_SYNCHRONIZED &&
	    pg->clock_status != VMCLOCK_STATUS_FREERUNNING)
		return VMC_DS_HOLDOVER;

	/*
	 * Around a leap second the kernel and the page may disagree by 1 s
	 * for a moment: sit that out (for seconds, not updates) rather
	 * than step.
	 */
	mag = vmc_abs_s64(out->offset_ns);
	if (pg->leap_indicator != VMCLOCK_LEAP_NONE &&
	    vmc_abs_s64(mag - (__s64)VMC_NSEC_PER_SEC) < 10000000) {
		if (!d->leap_holding) {
			d->leap_holding = true;
			d->leap_hold_since_ns = in->raw_ns;
		}
		if (in->raw_ns - d->leap_hold_since_ns <
		    VMC_DISC_LEAP_HOLD_S * VMC_NSEC_PER_SEC)
			return VMC_DS_LEAP_HOLD;
	} else {
		d->leap_holding = false;
	}
	return VMC_DS_SYNCING;
}

/* Follow the page: the servo's command, status and bounds. */
static enum vmc_disc_state vmc_disc_follow(struct vmc_disc *d,
					   const struct vmc_disc_cfg *cfg,
					   const struct vmc_disc_in *in,
					   struct vmc_disc_out *out,
					   struct vmc_ts t, __u64 maxerr,
					   __u64 esterr)
{
	const struct vmclock_abi *pg = in->page;
	struct vmc_servo_cfg sc = {
		.step_threshold_ns = cfg->step_threshold_ns,
		.allow_step = cfg->step_after_sync || !d->synced_once ||
			      d->resync,
		/*
		 * After a disruption the clock is known to be far off:
		 * slewing faster re-locks sooner, at the price of a few
		 * seconds of ntp_error payout (docs/guest.md) once locked.
		 */
		.slew_max_ppb16 = (__s64)(d->fast_slew ?
					  cfg->resync_slew_max_ppm :
					  cfg->slew_max_ppm) * VMC_PPB16_PER_PPM,
		.interval_ns = (__u64)cfg->interval_ms * 1000000,
	};
	__s64 off = out->offset_ns;
	__u64 mag;
	bool locked, keep;
	int tai;

	d->have_good_ff = true;
	d->good_ff_ppb16 = out->ff_ppb16;
	if (vmc_servo_update(&d->servo, &sc, off, out->ff_ppb16, in->raw_ns,
			     &out->freq_ppb16, &out->step_ns) ==
	    VMC_SERVO_STEP) {
		out->step = true;
		off = 0;
	}
	mag = (__u64)vmc_abs_s64(off);
	keep = !d->resync && mag < VMC_DISC_UNLOCK_NS;
	locked = mag < VMC_DISC_LOCK_NS || (d->locked && keep);
	/* honest bounds: the page's own error at this counter plus ours */
	out->maxerror_ns = vmc_sat_add_u64(maxerr, mag);
	out->set_freq = true;
	out->follow = true;
	/* the hysteresis clears STA_UNSYNC only after a synchronized lock */
	out->unsync = pg->clock_status != VMCLOCK_STATUS_SYNCHRONIZED ||
		      !(mag < VMC_DISC_LOCK_NS || (d->locked_sync && keep));
	out->leap = vmc_disc_leap(pg->leap_indicator, t.sec);
	out->set_bounds = true;
	out->maxerror_us = vmc_bound_ns_to_us(out->maxerror_ns);
	out->esterror_us = vmc_bound_ns_to_us(vmc_sat_add_u64(esterr, mag));
	/*
	 * TAI only when the page's value changes: the kernel moves its own
	 * TAI offset at the end of an inserted second, before the page may.
	 */
	if (vmc_page_tai_utc(pg, &tai) &&
	    pg->leap_indicator != VMCLOCK_LEAP_POS &&
	    (!d->tai_written || tai != d->tai)) {
		out->set_tai = true;
		out->tai = tai;
	}
	out->clock_after = VMC_CLK_FOLLOWING;
	if (locked) {
		out->first_lock = !d->synced_once;
		return VMC_DS_LOCKED;
	}
	return VMC_DS_SYNCING;
}

void vmc_disc_release(struct vmc_disc *d, struct vmc_disc_out *out)
{
	if (d->clock != VMC_CLK_UNTOUCHED) {
		out->set_freq = true;
		out->freq_ppb16 = vmc_disc_hold_ppb16(d);
		out->unsync = true;
		out->leap = 0;
	}
	out->release = true;
	out->clock_after = VMC_CLK_UNTOUCHED;
	d->servo.have_prev = false;
}

void vmc_disc_update(struct vmc_disc *d, const struct vmc_disc_cfg *cfg,
		     const struct vmc_disc_in *in, struct vmc_disc_out *out)
{
	struct vmc_ts t = { 0, 0 };
	__u64 maxerr = 0, esterr = 0;
	enum vmc_disc_state s;

	*out = (struct vmc_disc_out){ .clock_after = d->clock };
	s = vmc_disc_judge(d, cfg, in, out, &t, &maxerr, &esterr);

	if (!cfg->enabled) {
		if (d->taken || d->clock != VMC_CLK_UNTOUCHED)
			vmc_disc_release(d, out);
		out->state = VMC_DS_DISABLED;
		return;
	}
	if (!d->taken) {
		/*
		 * Nothing to follow yet (no time data, a refused page, ...):
		 * the clock stays as it is, whoever steers it.
		 */
		if (s != VMC_DS_SYNCING) {
			out->state = s;
			return;
		}
		/* (re)enabled: whatever steered before stops now */
		out->take = true;
		vmc_servo_reset(&d->servo);
		d->resync = true;
		d->tai_written = false;	/* others may have set it meanwhile */
	} else if (in->clock_set) {
		/*
		 * Stepped by someone else (settimeofday, a resume's sleep
		 * time): resynchronise as after a disruption, one step
		 * allowed, the fast slew cap. Same host, same counter: the
		 * page's rate and the learnt biases stay; only the phase
		 * history is broken.
		 */
		out->clock_set = true;
		d->servo.have_prev = false;
		d->resync = true;
		d->fast_slew = true;
	}
	if (s == VMC_DS_SYNCING)
		s = vmc_disc_follow(d, cfg, in, out, t, maxerr, esterr);
	else
		vmc_disc_hold(d, out);
	out->state = s;
}

void vmc_disc_applied(struct vmc_disc *d, const struct vmc_disc_out *out,
		      bool ok, __u64 t_ns)
{
	if (!ok) {
		/* the command may not stand: measure afresh next time */
		d->servo.have_prev = false;
		d->locked = false;
		d->locked_sync = false;
		return;
	}
	if (out->take)
		d->taken = true;
	if (out->release)
		d->taken = false;
	if (out->set_freq) {
		d->clock = out->clock_after;
		d->held_ppb16 = out->freq_ppb16;
		d->held_leap = out->leap;
	}
	if (out->follow)
		d->leap_bits = out->leap;
	if (out->set_tai) {
		d->tai_written = true;
		d->tai = out->tai;
	}
	if (out->follow) {
		vmc_servo_applied(&d->servo, t_ns);
		d->resync = false;
	}
	/* a step's offset is 0 by construction: the lock is earned after it */
	d->locked = out->state == VMC_DS_LOCKED && !out->step;
	d->locked_sync = d->locked && !out->unsync;
	if (out->state == VMC_DS_LOCKED) {
		d->synced_once = true;
		d->fast_slew = false;
	}
}
