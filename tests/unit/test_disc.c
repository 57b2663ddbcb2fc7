// SPDX-License-Identifier: GPL-2.0
/*
 * vmc_disc_update(): what the kernel's clock is told to do, over tables
 * of page states, for every state the discipline can be in.
 *
 * The fixture: a 1 GHz counter that the kernel calibrated exactly (raw
 * period 1 ns), a page at 2026-07-02T00:00:00Z on the same counter. An
 * update at counter C0 + t with CLOCK_REALTIME = page + off measures the
 * offset off (positive: clock ahead).
 */
#include <string.h>

#include "vmclock_disc.h"
#include "tap.h"

#define PLAN	59

#define C0	1000000000000ULL	/* counter_value of the page */
#define T0	1783000000LL		/* its time, s */
#define PPM	(1000LL * VMC_PPB16_PER_PPB)
#define MS	1000000ULL

static struct vmclock_abi pg;
static struct vmc_disc_in in;
static struct vmc_disc_cfg cfg;

static void set_hz(__u64 hz)
{
	struct vmc_period p;

	vmc_period_from_hz(hz, &p);
	pg.counter_period_shift = p.shift;
	pg.counter_period_frac_sec = htole64(p.frac);
}

static void fixture(void)
{
	memset(&pg, 0, sizeof(pg));
	pg.magic = htole32(VMCLOCK_MAGIC);
	pg.size = htole32(sizeof(pg));
	pg.version = htole16(VMCLOCK_VERSION);
	pg.counter_id = VMCLOCK_COUNTER_X86_TSC;
	pg.time_type = VMCLOCK_TIME_UTC;
	pg.seq_count = htole32(2);
	pg.disruption_marker = htole64(1);
	pg.flags = htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID |
			   VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			   VMCLOCK_FLAG_TIME_ESTERROR_VALID);
	pg.clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	pg.tai_offset_sec = htole16((__u16)-37);
	pg.counter_value = htole64(C0);
	set_hz(1000000000);
	pg.time_sec = htole64(T0);
	pg.time_maxerror_nanosec = htole64(2000);
	pg.time_esterror_nanosec = htole64(500);

	memset(&in, 0, sizeof(in));
	in.page = &pg;
	in.region_size = 4096;
	in.counter_id = VMCLOCK_COUNTER_X86_TSC;
	in.ticks_per_sec = 1000000000;
	in.page_read = true;
	in.counter_ok = true;
	vmc_period_from_hz(1000000000, &in.raw);

	cfg = (struct vmc_disc_cfg){
		.enabled = true,
		.step_after_sync = true,
		.step_threshold_ns = 100 * MS,
		.slew_max_ppm = 1000,
		.resync_slew_max_ppm = 5000,
		.interval_ms = 100,
		.max_extrapolation_s = 86400,
	};
}

/* One update at C0 + @t ns with offset @off, carried out with @ok. */
static void upd(struct vmc_disc *d, __u64 t, __s64 off, bool ok,
		struct vmc_disc_out *o)
{
	in.cycles = C0 + t;
	in.real_ns = T0 * (__s64)VMC_NSEC_PER_SEC + (__s64)t + off;
	in.raw_ns = 5 * VMC_NSEC_PER_SEC + t;
	vmc_disc_update(d, &cfg, &in, o);
	vmc_disc_applied(d, o, ok, in.raw_ns);
}

/* Locked after 10 updates at offset 0, the clock following. */
static void locked(struct vmc_disc *d, struct vmc_disc_out *o)
{
	int i;

	fixture();
	vmc_disc_init(d);
	for (i = 0; i < 10; i++)
		upd(d, i * 100 * MS, 0, true, o);
}

/* Is @o the hold at @f: rate only, no slew, STA_UNSYNC, no bounds, no TAI */
static int is_hold(const struct vmc_disc_out *o, __s64 f)
{
	return o->set_freq && o->freq_ppb16 == f && o->unsync && !o->follow &&
	       !o->step && !o->set_bounds && !o->set_tai && o->leap == 0 &&
	       o->clock_after == VMC_CLK_HELD;
}

static void diag_out(const struct vmc_disc_out *o)
{
	printf("# state %s why %s set_freq %d freq %lld ppb16 unsync %d follow %d step %d bounds %d tai %d\n",
	       vmc_disc_state_str(o->state), o->why ? o->why : "-",
	       o->set_freq, (long long)o->freq_ppb16, o->unsync, o->follow,
	       o->step, o->set_bounds, o->set_tai);
}

/* Every way to stop following: each must give the same hold. */
struct hcase {
	const char *what;
	void (*mod)(void);
	enum vmc_disc_state want;
};

static void h_no_time(void) { pg.counter_id = VMCLOCK_COUNTER_INVALID; }
static void h_mono(void) { pg.time_type = VMCLOCK_TIME_MONOTONIC; }
static void h_tai_noflag(void)
{
	pg.time_type = VMCLOCK_TIME_TAI;
	pg.flags &= ~htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID);
}
static void h_cs(void) { in.counter_ok = false; }
static void h_magic(void) { pg.magic = 0; }
static void h_seq(void) { in.page_read = false; }
static void h_unreliable(void) { pg.clock_status = VMCLOCK_STATUS_UNRELIABLE; }
static void h_unknown(void) { pg.clock_status = VMCLOCK_STATUS_UNKNOWN; }
static void h_rate(void) { set_hz(998900000); }	/* +1101 ppm */
static void h_ahead(void) { pg.counter_value = htole64(C0 + 3000000000ULL); }
static void h_stale(void)
{
	cfg.max_extrapolation_s = 10;
	pg.counter_value = htole64(C0 - 20 * VMC_NSEC_PER_SEC);
	pg.time_sec = htole64(T0 - 20);
}
static void h_1999(void) { pg.time_sec = htole64(915148800); }
static void h_leap(void)
{
	pg.leap_indicator = VMCLOCK_LEAP_POST_POS;
	pg.time_sec = htole64(T0 + 1);	/* the page 1 s ahead */
}

static const struct hcase hcases[] = {
	{ "no time data (counter_id invalid)", h_no_time, VMC_DS_NO_TIME },
	{ "time_type monotonic", h_mono, VMC_DS_TIME_SCALE },
	{ "TAI without a usable offset", h_tai_noflag, VMC_DS_TIME_SCALE },
	{ "clocksource not the counter", h_cs, VMC_DS_WAIT_CLOCKSOURCE },
	{ "bad magic", h_magic, VMC_DS_BAD_PAGE },
	{ "seq_count odd too long", h_seq, VMC_DS_BAD_PAGE },
	{ "status unreliable", h_unreliable, VMC_DS_HOLDOVER },
	{ "status unknown", h_unknown, VMC_DS_HOLDOVER },
	{ "rate 1101 ppm from the calibration", h_rate, VMC_DS_BAD_PAGE },
	{ "counter_value 3 s ahead", h_ahead, VMC_DS_BAD_PAGE },
	{ "counter_value older than max_extrapolation_s", h_stale,
	  VMC_DS_BAD_PAGE },
	{ "time 1999", h_1999, VMC_DS_BAD_PAGE },
	{ "1 s apart after a leap second", h_leap, VMC_DS_LEAP_HOLD },
};

#define N_HOLD (sizeof(hcases) / sizeof(hcases[0]))

static void test_holds(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o, o2;
	unsigned int i, bad = 0, bad2 = 0, bad3 = 0;

	for (i = 0; i < N_HOLD; i++) {
		__s64 hold;

		/* following a 20 ppm page, with a slew term in force */
		locked(&d, &o);
		set_hz(999980000);
		upd(&d, 1000 * MS, 0, true, &o);
		upd(&d, 1100 * MS, 50000, true, &o);
		hold = vmc_servo_holdover(&d.servo, o.ff_ppb16);
		if (o.freq_ppb16 == hold)	/* the slew must be visible */
			bad++;
		hcases[i].mod();
		upd(&d, 1200 * MS, 50000, true, &o);
		if (!is_hold(&o, hold) || o.state != hcases[i].want) {
			printf("# %s: want the hold at %lld, state %s\n",
			       hcases[i].what, (long long)hold,
			       vmc_disc_state_str(hcases[i].want));
			diag_out(&o);
			bad++;
		}
		/* set once: the next update leaves the clock alone */
		upd(&d, 1300 * MS, 50000, true, &o2);
		if (o2.set_freq || o2.step || o2.take) {
			printf("# %s: second update touched the clock\n",
			       hcases[i].what);
			diag_out(&o2);
			bad2++;
		}
		/* and before the module ever steered, nothing at all */
		fixture();
		vmc_disc_init(&d);
		d.taken = true;
		hcases[i].mod();
		upd(&d, 0, 50000, true, &o);
		if (o.set_freq || o.step) {
			printf("# %s: untouched clock was changed\n",
			       hcases[i].what);
			bad3++;
		}
	}
	tap(!bad, "every way to stop following holds the last good rate, no slew, STA_UNSYNC (%u cases)",
	    N_HOLD);
	tap(!bad2, "the hold is set once, then the clock is left alone");
	tap(!bad3, "a clock never steered is left untouched in every such state");
}

static void test_follow(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	fixture();
	vmc_disc_init(&d);
	upd(&d, 0, 300, true, &o);
	tap(o.take && o.set_freq && o.follow && o.set_bounds &&
	    o.state == VMC_DS_LOCKED && o.first_lock && !o.unsync,
	    "first update: take the clock, follow, locked, synchronised");
	tap(o.freq_ppb16 == -300 * 10 * VMC_PPB16_PER_PPB,
	    "300 ns ahead: slew -3 ppm over one 100 ms interval (got %lld)",
	    (long long)o.freq_ppb16);
	tap(o.maxerror_us == 3 && o.esterror_us == 1,
	    "bounds: maxerror 2000 + 300 ns -> 3 us, esterror 500 + 300 -> 1 us (got %lld, %lld)",
	    (long long)o.maxerror_us, (long long)o.esterror_us);
	tap(o.set_tai && o.tai == 37, "TAI - UTC 37 written at the first lock");
	upd(&d, 100 * MS, 0, true, &o);
	tap(!o.take && !o.set_tai && !o.first_lock,
	    "second update: no retake, TAI not rewritten, not a first lock");
	upd(&d, 200 * MS, 5000, true, &o);
	tap(o.state == VMC_DS_LOCKED && !o.unsync && o.maxerror_us == 7,
	    "locked, then 5 us off: still locked, synchronised, maxerror 7 us (hysteresis)");
	upd(&d, 300 * MS, -10000, true, &o);
	tap(o.state == VMC_DS_SYNCING && o.unsync,
	    "10 us off: syncing, STA_UNSYNC");
	upd(&d, 400 * MS, 5000, true, &o);
	tap(o.state == VMC_DS_SYNCING && o.unsync,
	    "back to 5 us: still syncing (lock is re-entered below 1 us)");
	upd(&d, 500 * MS, 999, true, &o);
	tap(o.state == VMC_DS_LOCKED && !o.unsync && !o.first_lock,
	    "999 ns: locked again, not a first lock");
	pg.disruption_marker = htole64(9);
	upd(&d, 600 * MS, 2000, true, &o);
	tap(o.disruption && o.state == VMC_DS_SYNCING && o.unsync,
	    "locked, a disruption, 2 us off: syncing (the lock is re-earned)");
	pg.clock_status = VMCLOCK_STATUS_FREERUNNING;
	upd(&d, 700 * MS, 0, true, &o);
	tap(o.follow && o.state == VMC_DS_LOCKED && o.unsync,
	    "free-running page: followed, but never synchronised");
	pg.clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	upd(&d, 800 * MS, 8000, true, &o);
	tap(o.state == VMC_DS_LOCKED && o.unsync,
	    "synchronized again at 8 us: locked, but STA_UNSYNC until under 1 us");

	fixture();
	vmc_disc_init(&d);
	upd(&d, 0, 200 * (__s64)MS, true, &o);
	tap(o.step && o.step_ns == -200 * (__s64)MS && o.state == VMC_DS_LOCKED &&
	    o.maxerror_us == 2, "200 ms off: step by -200 ms, then locked");
	upd(&d, 100 * MS, 5000, true, &o);
	tap(o.state == VMC_DS_SYNCING && o.unsync,
	    "5 us after the step: syncing (a step's lock is earned after it)");
}

/* What ends the lock's hysteresis: 5 us off after each must be syncing. */
static void test_lock_ends(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	locked(&d, &o);
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	upd(&d, 1000 * MS, 0, true, &o);
	pg.clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	upd(&d, 1100 * MS, 5000, true, &o);
	tap(o.state == VMC_DS_SYNCING && o.unsync, "after a hold");

	locked(&d, &o);
	upd(&d, 1000 * MS, 50000, false, &o);
	upd(&d, 1100 * MS, 5000, true, &o);
	tap(o.state == VMC_DS_SYNCING && o.unsync, "after a failed command");

	locked(&d, &o);
	in.clock_set = true;
	upd(&d, 1000 * MS, 5000, true, &o);
	in.clock_set = false;
	tap(o.clock_set && o.state == VMC_DS_SYNCING && o.unsync,
	    "after someone else's step");
}

static void test_bounds(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	fixture();
	vmc_disc_init(&d);
	pg.time_maxerror_nanosec = htole64(~0ULL - 10);
	pg.time_esterror_nanosec = htole64(~0ULL);
	upd(&d, 0, 300, true, &o);
	tap(o.maxerror_ns == ~0ULL && o.maxerror_us == 16000000 &&
	    o.esterror_us == 16000000,
	    "huge page bounds saturate at 16 s, never wrap small (got %lld, %lld us)",
	    (long long)o.maxerror_us, (long long)o.esterror_us);
	tap(vmc_bound_ns_to_us(~0ULL) == 16000000 && vmc_bound_ns_to_us(1) == 1 &&
	    vmc_bound_ns_to_us(1000) == 1 && vmc_bound_ns_to_us(1001) == 2 &&
	    vmc_bound_ns_to_us(0) == 0,
	    "ns -> us bound: rounded up, saturating");
	tap(vmc_sat_add_u64(~0ULL - 1, 5) == ~0ULL && vmc_sat_add_u64(2, 3) == 5,
	    "saturating add");
}

static void test_holdover_rate(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;
	__s64 good;

	locked(&d, &o);
	set_hz(999980000);			/* 20 ppm */
	upd(&d, 1000 * MS, 0, true, &o);
	good = vmc_servo_holdover(&d.servo, o.ff_ppb16);
	set_hz(999950000);			/* 50 ppm, while unreliable */
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	upd(&d, 1100 * MS, 0, true, &o);
	tap(is_hold(&o, good) &&
	    vmc_servo_holdover(&d.servo, o.ff_ppb16) > good + 29 * PPM,
	    "holdover keeps the last good rate (%lld), not the unreliable page's (%lld)",
	    (long long)good, (long long)o.ff_ppb16);
	/* the unreliable page must not become the "last good" rate */
	pg.magic = 0;
	upd(&d, 1200 * MS, 0, true, &o);
	tap(!o.set_freq, "then a refused page: still held at that rate");
}

/* A phase jump of the reference is not a rate error of the clock. */
static void test_jump_bias(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;
	int i;

	locked(&d, &o);
	for (i = 0; i < 5; i++)
		upd(&d, 1000 * MS + i * 100 * MS, 3 * (__s64)MS - i * 100000,
		    true, &o);
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	upd(&d, 1500 * MS, 2500000, true, &o);
	tap(is_hold(&o, vmc_servo_holdover(&d.servo, o.ff_ppb16)) &&
	    d.servo.bias_ppb16 < PPM && d.servo.bias_ppb16 > -PPM &&
	    d.servo.hold_bias_ppb16 < PPM && d.servo.hold_bias_ppb16 > -PPM,
	    "a 3 ms phase jump teaches no bias: the hold after it runs at the page rate (bias %lld, hold bias %lld ppb16)",
	    (long long)d.servo.bias_ppb16,
	    (long long)d.servo.hold_bias_ppb16);
}

static void test_disruption(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	locked(&d, &o);
	set_hz(999980000);
	upd(&d, 1000 * MS, 0, true, &o);
	/* what the old host taught must go too */
	d.servo.bias_ppb16 = 7 * PPM;
	d.servo.hold_bias_ppb16 = 7 * PPM;
	d.servo.hold_bias_n = 32;
	pg.disruption_marker = htole64(2);
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	upd(&d, 1100 * MS, 0, true, &o);
	tap(o.disruption && is_hold(&o, 0) && !d.servo.hold_bias_n &&
	    !d.servo.bias_ppb16,
	    "disruption to an unreliable page: the old host's rate and biases are dropped, hold at the kernel's own");
	pg.clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	upd(&d, 1200 * MS, 20 * (__s64)MS, true, &o);
	tap(!o.disruption && o.follow &&
	    o.freq_ppb16 < o.ff_ppb16 - 4000 * PPM,
	    "after it: re-locking slews at the resync cap (5000 ppm), got %lld ppb16",
	    (long long)(o.freq_ppb16 - o.ff_ppb16));
	cfg.step_after_sync = false;
	pg.disruption_marker = htole64(3);
	upd(&d, 1300 * MS, 150 * (__s64)MS, true, &o);
	tap(o.disruption && o.step,
	    "step_after_sync 0: a disruption still allows one step");
	upd(&d, 1400 * MS, 150 * (__s64)MS, true, &o);
	tap(!o.step, "... and only one");
	pg.vm_generation_counter = htole64(5);
	pg.flags |= htole64(VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT);
	upd(&d, 1500 * MS, 0, true, &o);
	tap(!o.disruption, "generation counter appearing is not a disruption");
	pg.vm_generation_counter = htole64(6);
	upd(&d, 1600 * MS, 0, true, &o);
	tap(o.disruption, "generation counter changing is one");
}

/* A step by someone else: resync as after a disruption, biases kept. */
static void test_clock_set(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	locked(&d, &o);
	cfg.step_after_sync = false;
	d.servo.bias_ppb16 = 3 * PPM;
	d.servo.hold_bias_ppb16 = 3 * PPM;
	d.servo.hold_bias_n = 32;
	in.clock_set = true;
	upd(&d, 1000 * MS, 5 * (__s64)VMC_NSEC_PER_SEC, true, &o);
	in.clock_set = false;
	tap(o.clock_set && !o.disruption && o.step &&
	    o.step_ns == -5 * (__s64)VMC_NSEC_PER_SEC,
	    "clock set 5 s ahead by someone else: stepped back once though step_after_sync is 0 (step %lld ns)",
	    (long long)o.step_ns);
	tap(d.servo.hold_bias_n == 32 && d.servo.hold_bias_ppb16 == 3 * PPM,
	    "... the learnt hold bias is kept (same host, same counter)");
	upd(&d, 1100 * MS, 200 * (__s64)MS, true, &o);
	tap(!o.clock_set && !o.step && o.follow,
	    "... and only one step: the next offset is slewed");
	vmc_disc_init(&d);
	cfg.enabled = false;
	in.clock_set = true;
	upd(&d, 0, 0, true, &o);
	in.clock_set = false;
	cfg.enabled = true;
	tap(!o.clock_set, "disabled: a step by someone else is theirs to make");
}

static void test_enable(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;
	__s64 hold;
	int ok;

	locked(&d, &o);
	upd(&d, 1000 * MS, 50000, true, &o);
	hold = vmc_servo_holdover(&d.servo, o.ff_ppb16);
	cfg.enabled = false;
	upd(&d, 1100 * MS, 50000, true, &o);
	tap(o.release && o.set_freq && o.freq_ppb16 == hold && o.unsync &&
	    o.state == VMC_DS_DISABLED && !o.follow,
	    "disable: release at the hold rate, STA_UNSYNC");
	upd(&d, 1200 * MS, 50000, true, &o);
	tap(!o.set_freq && !o.take && o.state == VMC_DS_DISABLED,
	    "disabled: the clock is left alone");
	cfg.enabled = true;
	upd(&d, 1300 * MS, 50000, true, &o);
	tap(o.take && o.follow,
	    "enable again: the clock is taken (others' offsets cancelled) and followed");
	tap(o.set_tai && o.tai == 37,
	    "... and TAI written again (someone may have changed it meanwhile)");
	cfg.enabled = false;
	fixture();
	cfg.enabled = false;
	vmc_disc_init(&d);
	upd(&d, 0, 0, true, &o);
	tap(!o.set_freq && !o.take && o.state == VMC_DS_DISABLED,
	    "loaded disabled: never touched");
	vmc_disc_init(&d);
	vmc_disc_release(&d, &o);
	tap(!o.set_freq, "release of a clock never steered changes nothing");

	/* a page without time data from load on (QEMU's, EC2's) */
	cfg.enabled = true;
	fixture();
	pg.counter_id = VMCLOCK_COUNTER_INVALID;
	vmc_disc_init(&d);
	upd(&d, 0, 0, true, &o);
	ok = !o.take && !o.set_freq && !o.step && !o.set_tai && !d.taken;
	upd(&d, 1000 * MS, 0, true, &o);
	tap(ok && !o.take && !o.set_freq && !o.step && !o.set_tai &&
	    !o.set_bounds && !d.taken && o.state == VMC_DS_NO_TIME,
	    "no time data from load on: the clock is not taken, nothing set");
	/* nor a refused page, nor holdover */
	fixture();
	pg.magic = 0;
	vmc_disc_init(&d);
	upd(&d, 0, 0, true, &o);
	ok = !o.take && !o.set_freq && !d.taken && o.state == VMC_DS_BAD_PAGE;
	fixture();
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	vmc_disc_init(&d);
	upd(&d, 0, 0, true, &o);
	tap(ok && !o.take && !o.set_freq && !d.taken &&
	    o.state == VMC_DS_HOLDOVER,
	    "a refused page, holdover from load on: not taken either");
	fixture();
	pg.counter_id = VMCLOCK_COUNTER_INVALID;
	vmc_disc_init(&d);
	upd(&d, 0, 0, true, &o);
	pg.counter_id = VMCLOCK_COUNTER_X86_TSC;
	upd(&d, 1100 * MS, 0, true, &o);
	tap(o.take && o.follow, "time data appears: taken and followed");
}

static void test_failure(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	fixture();
	vmc_disc_init(&d);
	upd(&d, 0, 0, false, &o);
	tap(o.take, "first update fails");
	upd(&d, 100 * MS, 0, true, &o);
	tap(o.take && o.set_tai, "a failed take and TAI are asked for again");
	pg.magic = 0;
	upd(&d, 200 * MS, 0, false, &o);
	upd(&d, 300 * MS, 0, true, &o);
	tap(o.set_freq && o.unsync, "a failed hold is asked for again");
}

static void test_tai(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;

	locked(&d, &o);
	pg.tai_offset_sec = htole16(37);	/* the other sign, same value */
	upd(&d, 1000 * MS, 0, true, &o);
	tap(o.follow && !o.set_tai, "tai_offset_sec +37: followed, same TAI");
	pg.leap_indicator = VMCLOCK_LEAP_POS;
	pg.tai_offset_sec = htole16((__u16)-38);
	upd(&d, 1100 * MS, 0, true, &o);
	tap(o.follow && !o.set_tai && o.leap == 1,
	    "during 23:59:60: TAI left to the kernel, STA_INS kept");
	pg.leap_indicator = VMCLOCK_LEAP_POST_POS;
	upd(&d, 1200 * MS, 0, true, &o);
	tap(o.set_tai && o.tai == 38, "after it: the page's new TAI written once");
	pg.time_type = VMCLOCK_TIME_TAI;
	pg.time_sec = htole64(T0 + 38);
	upd(&d, 1300 * MS, 0, true, &o);
	tap(o.follow && o.offset_ns == 0,
	    "a TAI page is followed at TAI - 38 s (offset %lld)",
	    (long long)o.offset_ns);
	pg.tai_offset_sec = htole16(5000);
	upd(&d, 1400 * MS, 0, true, &o);
	tap(o.state == VMC_DS_TIME_SCALE,
	    "a TAI page with |offset| 5000 s: unusable time scale");
}

static void test_leap_guard(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;
	int i, held = 0;

	locked(&d, &o);
	pg.leap_indicator = VMCLOCK_LEAP_POST_POS;
	pg.time_sec = htole64(T0 - 1);		/* the clock 1 s ahead */
	/* 400 updates 10 ms apart: 4 s, all within the guard */
	for (i = 0; i < 400; i++) {
		upd(&d, 1000 * MS + i * 10 * MS, 0, true, &o);
		held += o.state == VMC_DS_LEAP_HOLD && !o.step;
	}
	tap(held == 400, "leap guard: 4 s of updates 10 ms apart are all sat out (%d)",
	    held);
	upd(&d, 6100 * MS, 0, true, &o);
	tap(o.step && o.step_ns == -1000000000LL,
	    "after 5 s of disagreement the 1 s is stepped");
}

static void test_leap_status(void)
{
	struct vmc_disc d;
	struct vmc_disc_out o;
	static const struct {
		__s64 sec;
		bool last;
	} days[] = {
		{ 1798761599, true },	/* 2026-12-31T23:59:59Z */
		{ 1798588800, false },	/* 2026-12-30T00:00:00Z */
		{ 1709164800, true },	/* 2024-02-29 */
		{ 1709078400, false },	/* 2024-02-28 */
		{ 1677542400, true },	/* 2023-02-28 */
		{ 4107456000LL, true },	/* 2100-02-28: 2100 is no leap year */
		{ 951782400, true },	/* 2000-02-29 */
		{ 2678399, true },	/* 1970-01-31T23:59:59Z */
		{ 2678400, false },	/* 1970-02-01 */
		{ -1, true },		/* 1969-12-31T23:59:59Z */
		{ -86401, false },	/* 1969-12-30 */
	};
	unsigned int i, bad = 0;

	for (i = 0; i < sizeof(days) / sizeof(days[0]); i++)
		if (vmc_utc_last_day_of_month(days[i].sec) != days[i].last) {
			printf("# %lld: want %d\n", (long long)days[i].sec,
			       days[i].last);
			bad++;
		}
	tap(!bad, "last day of the month, %zu dates", sizeof(days) / sizeof(days[0]));

	locked(&d, &o);
	pg.leap_indicator = VMCLOCK_LEAP_PRE_POS;
	upd(&d, 1000 * MS, 0, true, &o);
	tap(o.leap == 0, "insertion pending, not the last day: no STA_INS yet");
	fixture();
	vmc_disc_init(&d);
	pg.time_sec = htole64(1798761000);	/* 2026-12-31T23:50:00Z */
	pg.leap_indicator = VMCLOCK_LEAP_PRE_NEG;
	upd(&d, 0, 0, true, &o);
	tap(o.leap == -1, "deletion pending on the last day: STA_DEL");

	pg.leap_indicator = VMCLOCK_LEAP_PRE_POS;
	upd(&d, 100 * MS, 0, true, &o);
	pg.clock_status = VMCLOCK_STATUS_UNRELIABLE;
	upd(&d, 200 * MS, 0, true, &o);
	tap(o.set_freq && o.unsync && !o.follow && o.leap == 1,
	    "holdover on the last day keeps the announced insertion (STA_INS)");
}

int main(void)
{
	printf("TAP version 13\n1..%d\n", PLAN);
	test_follow();
	test_lock_ends();
	test_bounds();
	test_holds();
	test_holdover_rate();
	test_jump_bias();
	test_disruption();
	test_clock_set();
	test_enable();
	test_failure();
	test_tai();
	test_leap_guard();
	test_leap_status();
	if (tap_n != PLAN)
		tap(0, "ran %d tests, planned %d", tap_n, PLAN);
	return tap_failed ? 1 : 0;
}
