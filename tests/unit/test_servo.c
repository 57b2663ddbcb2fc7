// SPDX-License-Identifier: GPL-2.0
/*
 * vmc_servo_update() against a model of a stock kernel's clock.
 *
 * The model (see the reference notes, "Stock-kernel defects"):
 *  - the counter runs at nominal * (1 + ec); the page describes it exactly,
 *    so the servo's feed-forward is vmc_period_ff_ppb16(page, nominal);
 *  - CLOCK_REALTIME advances at the counter's rate times (1 + f + d): f is
 *    the commanded frequency (ADJ_FREQUENCY, quantised to 2^-16 ppm), d an
 *    unknown bias the servo must learn;
 *  - the kernel picks up a new f at the next HZ=250 tick and realises it
 *    only in mult steps of MULT_STEP, dithering between the two nearest
 *    steps so that the accumulated error (ntp_error) stays within half a
 *    step-tick;
 *  - every frequency change moves the clock by an untracked phase step of
 *    U * delta_f / HZ (U uniform in [0, 1)), up to 200 ns for 50 ppm;
 *  - an update every 100 ms +- 2 ms measures the offset at one counter
 *    value, rounded to 1 ns, and applies the servo's answer at once.
 *
 * Offsets are clock minus reference (positive: the clock is ahead). The
 * per-tick true offsets (every 4 ms, between updates too) are what the
 * bars are checked against.
 *
 *   test_servo [--seed N|random] [-v]
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmclock_math.h"
#include "tap.h"

/* the TAP plan, fixed before the tests run */
#define PLAN	13

#define HZ		250
#define TICK_S		(1.0L / HZ)
#define MULT_STEP	150e-9L		/* relative rate of one mult step */
#define NOMINAL_HZ	1000000000ULL	/* what the kernel's mult assumes */
#define INTERVAL_NS	100000000ULL
#define JITTER_S	0.002L
#define PPB16		(1e9L * 65536)	/* ppb16 per unit of relative rate */

static int verbose;

static unsigned long long rng_state;

static double urand(void)
{
	unsigned long long z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (z >> 11) * 0x1p-53;
}

/* The kernel clock ------------------------------------------------------ */

struct model {
	long double t;		/* true (reference) time, s */
	long double raw_ns;	/* CLOCK_MONOTONIC_RAW, ns */
	long double e;		/* clock - reference, ns */
	long double ec;		/* counter rate error, relative */
	long double d;		/* unknown bias, relative */
	long double f_new;	/* frequency the kernel was told, relative */
	long double f_cmd;	/* f_new as of the last tick (ntp_tick) */
	long double f_real;	/* frequency realised this tick */
	long double ntp_err;	/* commanded minus realised phase, s */
	long double next_tick;
	struct vmc_period page;	/* the reference's period */
};

static void model_init(struct model *m, long double e0_ns, long double ec,
		       long double d)
{
	memset(m, 0, sizeof(*m));
	m->e = e0_ns;
	m->ec = ec;
	m->d = d;
	m->next_tick = TICK_S * urand();
	vmc_period_from_hz((unsigned long long)llroundl(NOMINAL_HZ * (1 + ec)),
			   &m->page);
}

/* Pick the mult for the next tick: the step that keeps ntp_error nearest 0 */
static void model_tick(struct model *m)
{
	long double lo = floorl(m->f_cmd / MULT_STEP) * MULT_STEP;
	long double e_lo = m->ntp_err + (m->f_cmd - lo) * TICK_S;
	long double e_hi = m->ntp_err + (m->f_cmd - lo - MULT_STEP) * TICK_S;

	m->f_real = fabsl(e_lo) <= fabsl(e_hi) ? lo : lo + MULT_STEP;
}

static void model_advance(struct model *m, long double to,
			  void (*sample)(void *ctx, const struct model *m),
			  void *ctx)
{
	while (m->t < to) {
		long double end = to < m->next_tick ? to : m->next_tick;
		long double dt = end - m->t;

		m->e += ((1 + m->ec) * (1 + m->f_real + m->d) - 1) * dt * 1e9L;
		m->raw_ns += (1 + m->ec) * dt * 1e9L;
		m->ntp_err += (m->f_cmd - m->f_real) * dt;
		m->t = end;
		if (end == m->next_tick) {
			/* a new tick length is picked up at the next tick */
			m->f_cmd = m->f_new;
			model_tick(m);
			m->next_tick += TICK_S;
			if (sample)
				sample(ctx, m);
		}
	}
}

/* adjtimex(ADJ_FREQUENCY): 2^-16 ppm units, plus the untracked step */
static void model_set_freq(struct model *m, long long ppb16)
{
	long double f = llroundl(ppb16 / 1000.0L) * 1000.0L / PPB16;

	m->e += (f - m->f_new) * urand() * TICK_S * 1e9L;
	m->f_new = f;
}

/* A scenario ---------------------------------------------------------- */

struct scenario {
	const char *name;
	long double e0_ns, ec, d;
	struct vmc_servo_cfg cfg;
	long double duration_s;
	long double migrate_at;		/* 0: none */
	long double win_from;		/* steady-state window start, s */
	long double noise_ns;		/* measurement noise, uniform +-, ns */
	long double hold_from;		/* 0: no holds; else 2 s holds from */
};

struct stats {
	int steps, updates;
	long double first_step_t;
	long double last_big_t;		/* last tick with |e| >= 100 ns */
	long double win_from, migrate_at;
	long double *win;		/* |e| per tick in the window */
	int nwin, capwin;
	long double max_win;
	long double max_cmd_dev;	/* max |cmd - ff + bias|, ppb16 */
	long double max_over_cap;	/* max (|cmd - ff| - cap), ppb16 */
	long long bias_end, hold_bias_end;
	int holds;
	long double hold_drift_max;	/* max |drift| over one 2 s hold, ns */
	long double fast_drift_max;	/* the same at ff - bias, predicted */
	long double e_at[8];		/* |e| at whole seconds of interest */
};

static void sample(void *ctx, const struct model *m)
{
	struct stats *st = ctx;
	long double a = fabsl(m->e);

	if (a >= 100)
		st->last_big_t = m->t;
	if (m->t >= st->win_from) {
		if (st->nwin == st->capwin) {
			st->capwin = st->capwin ? 2 * st->capwin : 4096;
			st->win = realloc(st->win, st->capwin * sizeof(*st->win));
			if (!st->win)
				abort();
		}
		st->win[st->nwin++] = a;
		if (a > st->max_win)
			st->max_win = a;
	}
}

static int cmp_ld(const void *a, const void *b)
{
	long double x = *(const long double *)a, y = *(const long double *)b;

	return x < y ? -1 : x > y;
}

static long double pct(struct stats *st, double p)
{
	if (!st->nwin)
		return NAN;
	qsort(st->win, st->nwin, sizeof(*st->win), cmp_ld);
	return st->win[(int)((st->nwin - 1) * p)];
}

static void run(const struct scenario *sc, struct stats *st)
{
	struct model m;
	struct vmc_servo s;
	long double next = 0.05L;
	int migrated = 0;
	long double next_hold = sc->hold_from;

	memset(st, 0, sizeof(*st));
	st->win_from = sc->win_from;
	st->last_big_t = -1;
	st->first_step_t = -1;
	model_init(&m, sc->e0_ns, sc->ec, sc->d);
	vmc_servo_reset(&s);

	while (next < sc->duration_s) {
		long long ff, freq, step, off;
		enum vmc_servo_action act;

		model_advance(&m, next, sample, st);
		if (sc->migrate_at && !migrated && m.t >= sc->migrate_at) {
			/*
			 * Live migration: a new host counter 20 ppm faster and
			 * a reference 20 us behind; the module sees the
			 * disruption marker change and resets the servo.
			 */
			migrated = 1;
			m.ec += 20e-6L;
			vmc_period_from_hz((unsigned long long)
					   llroundl(NOMINAL_HZ * (1 + m.ec)),
					   &m.page);
			m.e += 20000;
			vmc_servo_reset(&s);
			st->last_big_t = m.t;
		}
		ff = vmc_period_ff_ppb16(&m.page, NOMINAL_HZ);
		if (next_hold && m.t >= next_hold) {
			/* a refused page: 2 s at the hold rate, no updates */
			long long h = vmc_servo_holdover(&s, ff);
			long double e0, d, fast;

			model_set_freq(&m, h);
			e0 = m.e;
			model_advance(&m, m.t + 2, sample, st);
			d = fabsl(m.e - e0);
			/* ppb16 * 2 s -> ns: ppb16 / 65536 * 2 */
			fast = fabsl(m.e - e0 + ((ff - s.bias_ppb16) - h) *
				     2.0L / PPB16 * 1e9L);
			if (d > st->hold_drift_max)
				st->hold_drift_max = d;
			if (fast > st->fast_drift_max)
				st->fast_drift_max = fast;
			st->holds++;
			next_hold += 10;
			next = m.t;
		}
		off = llroundl(m.e + (urand() * 2 - 1) * sc->noise_ns);
		act = vmc_servo_update(&s, &sc->cfg, off, ff,
				       (unsigned long long)m.raw_ns, &freq,
				       &step);
		st->updates++;
		if (act == VMC_SERVO_STEP) {
			if (!st->steps)
				st->first_step_t = m.t;
			st->steps++;
			m.e += step;	/* ADJ_SETOFFSET: exact */
		}
		if (fabsl((long double)(freq - ff)) - sc->cfg.slew_max_ppb16 >
		    st->max_over_cap)
			st->max_over_cap = fabsl((long double)(freq - ff)) -
					   sc->cfg.slew_max_ppb16;
		model_set_freq(&m, freq);
		if (verbose)
			printf("#   t %8.3Lf off %10lld ff %12lld freq %12lld bias %9lld%s\n",
			       m.t, off, ff, freq, (long long)s.bias_ppb16,
			       act == VMC_SERVO_STEP ? " STEP" : "");
		for (int k = 0; k < 8; k++)
			if (st->e_at[k] == 0 && m.t >= k * 25.0L)
				st->e_at[k] = fabsl(m.e) + 1e-30L;
		next += INTERVAL_NS * 1e-9L + (urand() * 2 - 1) * JITTER_S;
	}
	st->bias_end = s.bias_ppb16;
	st->hold_bias_end = s.hold_bias_ppb16;
}

static const struct vmc_servo_cfg cfg_default = {
	.step_threshold_ns = 100000000,		/* 100 ms */
	.allow_step = true,
	.slew_max_ppb16 = 1000000LL * 65536,	/* 1000 ppm */
	.interval_ns = INTERVAL_NS,
};

static void report(const char *name, struct stats *st)
{
	printf("# %s: %d updates, %d steps, last |offset| >= 100 ns at %.3Lf s\n",
	       name, st->updates, st->steps, st->last_big_t);
	if (st->nwin)
		printf("# %s: window from %.0Lf s, %d ticks: p50 %.2Lf ns, p99 %.2Lf ns, max %.2Lf ns; bias %.2f ppb, hold bias %.2f ppb\n",
		       name, st->win_from, st->nwin, pct(st, 0.5),
		       pct(st, 0.99), st->max_win, st->bias_end / 65536.0,
		       st->hold_bias_end / 65536.0);
}

int main(int argc, char **argv)
{
	unsigned long long seed = 20261125;
	struct scenario sc;
	struct stats st;
	long double p99;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			i++;
			seed = strcmp(argv[i], "random") ?
			       strtoull(argv[i], NULL, 0) :
			       (unsigned long long)time(NULL) ^
			       ((unsigned long long)getpid() << 32);
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else {
			fprintf(stderr, "usage: %s [--seed N|random] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	rng_state = seed;
	printf("TAP version 13\n1..%d\n", PLAN);
	printf("# test_servo: seed %llu (rerun with --seed %llu)\n", seed, seed);

	/* 1: 1 ms and 50 ppm, slew cap 1000 ppm, then 60 s of steady state */
	sc = (struct scenario){
		.name = "lock", .e0_ns = 1e6L, .ec = 50e-6L, .d = 0,
		.cfg = cfg_default, .duration_s = 65, .win_from = 5,
	};
	run(&sc, &st);
	report(sc.name, &st);
	tap(st.steps == 0 && st.last_big_t < 3,
	    "1 ms + 50 ppm: under 100 ns within 3 s without a step (%.3Lf s, %d steps)",
	    st.last_big_t, st.steps);
	p99 = pct(&st, 0.99);
	tap(p99 <= 5 && st.max_win <= 20,
	    "steady state over 60 s: p99 %.2Lf ns (<= 5), max %.2Lf ns (<= 20)",
	    p99, st.max_win);
	free(st.win);

	/* 2: the same with an unknown 26 ppb bias */
	sc.name = "bias";
	sc.d = 26e-9L;
	run(&sc, &st);
	report(sc.name, &st);
	p99 = pct(&st, 0.99);
	tap(fabs(st.bias_end / 65536.0 - 26) <= 5,
	    "26 ppb bias learnt: %.2f ppb (26 +- 5)", st.bias_end / 65536.0);
	tap(st.last_big_t < 3 && p99 <= 5 && st.max_win <= 20,
	    "with the bias: locked at %.3Lf s (< 3), p99 %.2Lf ns (<= 5), max %.2Lf ns (<= 20)",
	    st.last_big_t, p99, st.max_win);
	free(st.win);

	/*
	 * 2b: the bias with +-2 ns of measurement noise, and ten 2 s holds
	 * (refused pages): the hold must run at the averaged bias, not at
	 * the fast one that noise moves by ~5 ppb.
	 */
	sc.name = "hold";
	sc.noise_ns = 2;
	sc.hold_from = 25;
	sc.duration_s = 125;
	run(&sc, &st);
	report(sc.name, &st);
	tap(st.holds == 10 && st.hold_drift_max <= 5,
	    "%d holds of 2 s with 2 ns noise: drift at most %.2Lf ns (<= 5; %.2Lf ns at the fast bias)",
	    st.holds, st.hold_drift_max, st.fast_drift_max);
	free(st.win);

	/* 3: 200 ms with a 100 ms step threshold: one step, then lock */
	sc = (struct scenario){
		.name = "step", .e0_ns = 200e6L, .ec = 50e-6L, .d = 0,
		.cfg = cfg_default, .duration_s = 20, .win_from = 10,
	};
	run(&sc, &st);
	report(sc.name, &st);
	tap(st.steps == 1 && st.last_big_t < st.first_step_t + 3,
	    "200 ms: exactly one step (%d, at %.3Lf s), under 100 ns %.3Lf s later",
	    st.steps, st.first_step_t, st.last_big_t - st.first_step_t);
	p99 = pct(&st, 0.99);
	tap(p99 <= 5 && st.max_win <= 20,
	    "after the step: p99 %.2Lf ns (<= 5), max %.2Lf ns (<= 20)", p99,
	    st.max_win);
	free(st.win);

	/* 4: stepping forbidden: slew at the cap, 200 ms at 1000 ppm = 200 s */
	sc.name = "nostep";
	sc.cfg.allow_step = false;
	sc.duration_s = 230;
	sc.win_from = 215;
	run(&sc, &st);
	report(sc.name, &st);
	tap(st.steps == 0, "allow_step false: no step (%d)", st.steps);
	tap(st.max_over_cap <= 0,
	    "allow_step false: |freq - ff| never beyond the cap (excess %.0Lf ppb16)",
	    st.max_over_cap);
	/* at the cap the offset falls by 1 ms/s: 200 - 1.0 * 100 ms at 100 s */
	tap(fabsl(st.e_at[4] - 100e6L) < 0.5e6L,
	    "allow_step false: slews at the cap (|offset| %.3Lf ms at 100 s, expected 100 +- 0.5)",
	    st.e_at[4] / 1e6L);
	tap(st.last_big_t > 190 && st.last_big_t < 205,
	    "allow_step false: under 100 ns after %.3Lf s (190..205)",
	    st.last_big_t);
	free(st.win);

	/* 5: migration at 30 s: 20 ppm + 20 us, servo reset */
	sc = (struct scenario){
		.name = "migrate", .e0_ns = 0, .ec = 50e-6L, .d = 0,
		.cfg = cfg_default, .duration_s = 60, .migrate_at = 30,
		.win_from = 35,
	};
	run(&sc, &st);
	report(sc.name, &st);
	tap(st.last_big_t - sc.migrate_at < 1,
	    "migration (20 ppm, 20 us): under 100 ns %.3Lf s later (< 1)",
	    st.last_big_t - sc.migrate_at);
	p99 = pct(&st, 0.99);
	tap(p99 <= 5 && st.max_win <= 20,
	    "after the migration: p99 %.2Lf ns (<= 5), max %.2Lf ns (<= 20)",
	    p99, st.max_win);
	free(st.win);

	if (tap_n != PLAN)
		tap(0, "ran %d tests, planned %d", tap_n, PLAN);
	return tap_failed ? 1 : 0;
}
