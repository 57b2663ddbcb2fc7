// SPDX-License-Identifier: GPL-2.0
/*
 * vmclock-sim - host-side producer of the harness's vmclock page.
 *
 * Maps the guest's RAM file (QEMU memory-backend-file, share=on) at the
 * page (0x1f000000), the mailbox (0x1f001000) and a truth page (0x1f002000:
 * always the true line, for the probe), waits for the probe's
 * struct vmclock_mailbox and then publishes a reference line defined
 * relative to the guest's own raw clock:
 *
 *	ref(c) = realtime0 + phase_ns
 *	       + (c - tsc0) * raw_mult / 2^raw_shift * (1 + freq_ppb * 1e-9)  [ns]
 *
 * with c the guest TSC. Under TCG the guest TSC is the host TSC plus a
 * constant, learnt when the mailbox appears; counter_value is kept ~1 ms in
 * the past. The constant drops while QEMU stops the VM (the guest counter
 * stands still); with "at T vmm_migrate" / "vmm_snapshot" in the scenario
 * the simulator follows that (see vmm_follow()). Re-anchoring every 100 ms never changes the line: a page is
 * always the current segment's function evaluated at a new counter_value.
 * Events (tests/vm/SCENARIOS.md) start new segments phase-continuously.
 *
 * Usage: vmclock-sim [--pid QEMU_PID] [--timeout S] [--page FILE]
 *                    [--vmm-done FILE] RAMFILE SCENARIO
 *   --page FILE  write the published page into FILE (one page, at offset 0:
 *                the patched QEMU's "-device vmclock,host-page=FILE") instead
 *                of the RAM file; the mailbox and truth page stay in RAM
 * Log on stdout (one record per line, see print_seg() and friends).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "../../../include/vmclock_abi.h"
#include "../mailbox.h"

#define PAGE_PHYS	0x1f000000ULL
#define NSEC_PER_SEC	1000000000LL
#define REPUBLISH_NS	100000000LL	/* 100 ms */
#define PAST_NS		1000000LL	/* counter_value ~1 ms in the past */
#define MAX_EVENTS	256

typedef __int128 s128;
typedef unsigned __int128 u128;

enum ev_kind {
	EV_FREQ_STEP, EV_PHASE_JUMP, EV_DISRUPTION, EV_VM_GEN, EV_STATUS,
	EV_COUNTER_ID, EV_LEAP, EV_MALFORMED, EV_SEQ_STUCK, EV_TORN, EV_STORM,
	EV_RESTORE, EV_FREQ_RAMP, EV_VMM,
};

/* EV_VMM's val: what run-scenario does to the VM at that time */
enum { VMM_MIGRATE, VMM_SNAPSHOT };

struct event {
	double t;		/* s from the first published page */
	enum ev_kind kind;
	int64_t val;		/* ppb, ns, status, id, leap, or ns of a span */
	char arg[32];
	int done;
};

/* Reference line segment: T(c) = t_a + ((c - c_a) * frac) >> shift */
struct segment {
	uint64_t c_a;		/* guest TSC */
	s128 t_a;		/* UTC, 2^-64 s units */
	int64_t freq_ppb;	/* against the guest's raw rate */
	uint64_t frac;
	unsigned int shift;
};

static struct {
	double duration;
	int64_t freq_ppb, phase_ns, maxerror_ns, esterror_ns;
	int64_t period_maxerror_ppb;
	int status, time_type, tai_offset, leap, counter_id;
	int has_maxerror, has_esterror, has_period_maxerror;
	uint64_t disruption_marker, vm_generation;
	struct event ev[MAX_EVENTS];
	int nev;
} sc = {
	.status = VMCLOCK_STATUS_SYNCHRONIZED,
	.time_type = VMCLOCK_TIME_UTC,
	.tai_offset = -37,
	.counter_id = VMCLOCK_COUNTER_X86_TSC,
	.disruption_marker = 1,
};

static volatile struct vmclock_abi *page;
static volatile struct vmclock_abi *truth;	/* PAGE_PHYS + 8 KiB */
static volatile struct vmclock_mailbox *mb;
static struct vmclock_mailbox mbox;	/* copy of the guest's record */
static struct segment seg;
static int64_t host_off;		/* guest TSC - host TSC */
static double probe_rate = 100;		/* the probe's samples per second */
static double cycles_per_ns;
static char malformed[32];
/* counter_value lies this far behind the guest's counter at publication
 * (negative: ahead, scenario "counter_ahead_ns N"), ns
 */
static int64_t anchor_past_ns = PAST_NS;
static double stuck_until = -1, storm_until = -1;
static volatile sig_atomic_t stop;

/*
 * Frequency ramp (a host under NTP discipline): the rate moves by
 * ramp_ppb_per_s, applied at every republish as a phase-continuous new
 * segment of whole ppb; the fraction is carried over.
 */
static double ramp_ppb_per_s, ramp_t, ramp_acc;

static void on_signal(int sig)
{
	stop = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static uint64_t guest_tsc(void)
{
	return __rdtsc() + host_off;
}

static s128 ns_to_units(int64_t ns)
{
	int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;

	if (rem < 0) {
		rem += NSEC_PER_SEC;
		sec--;
	}
	return ((s128)sec << 64) +
	       (s128)((((u128)rem << 64) + NSEC_PER_SEC / 2) / NSEC_PER_SEC);
}

/* 2^-64 s units to ns as a double, for logs of small differences only */
static double units_to_ns(s128 u)
{
	return (double)u * 1e9 / 18446744073709551616.0;
}

/*
 * Period of the guest TSC for a reference running @ppb fast against the
 * guest's raw rate, encoded as frac * 2^-(64 + shift) s:
 * period = raw_mult * 2^-raw_shift * (1e9 + ppb) / 1e18 s
 * shift = floor(log2 f), frac = round(2^(64 + shift) * period) in [2^63, 2^64).
 */
static void encode_period(int64_t ppb, uint64_t *frac, unsigned int *shift)
{
	const u128 den = (u128)NSEC_PER_SEC * NSEC_PER_SEC;
	u128 num = (u128)mbox.raw_mult * (u128)(NSEC_PER_SEC + ppb);
	int e, s, i;

	/* f = 2^raw_shift * den / num; shift = floor(log2 f) */
	s = (int)floorl(log2l((long double)den / (long double)num)) +
	    (int)mbox.raw_shift;
	for (;;) {
		u128 q, r;

		e = 64 + s - (int)mbox.raw_shift;	/* frac = num * 2^e / den */
		q = num / den;
		r = num % den;
		for (i = 0; i < e; i++) {	/* long division, exact */
			q <<= 1;
			r <<= 1;
			if (r >= den) {
				r -= den;
				q |= 1;
			}
		}
		if (2 * r >= den)
			q++;
		if (q >> 64) {
			s--;
			continue;
		}
		if (!(q >> 63)) {
			s++;
			continue;
		}
		*frac = (uint64_t)q;
		*shift = s;
		return;
	}
}

static s128 seg_time(const struct segment *g, uint64_t c)
{
	int64_t d = (int64_t)(c - g->c_a);

	return g->t_a + (((s128)d * (s128)g->frac) >> g->shift);
}

/* Guest CLOCK_MONOTONIC_RAW at guest TSC @c (ns). */
static int64_t guest_raw(uint64_t c)
{
	int64_t d = (int64_t)(c - mbox.tsc);

	return mbox.mono_raw_ns +
	       (int64_t)(((s128)d * mbox.raw_mult) >> mbox.raw_shift);
}

/*
 * ref(c) - (realtime0 + raw(c) - raw0), ns: the intended offset of the line
 * against a guest clock running free at its raw rate. raw(c) - raw0 is kept
 * exact (d * mult / 2^shift ns) in 2^-64 s units.
 */
static double seg_offset_ns(uint64_t c)
{
	int64_t d = (int64_t)(c - mbox.tsc);
	s128 free = ns_to_units(mbox.realtime_ns) +
		    (((s128)d * mbox.raw_mult) << (64 - mbox.raw_shift)) /
		    NSEC_PER_SEC;

	return units_to_ns(seg_time(&seg, c) - free);
}

/* from_seq: the first page seq_count that carries this segment */
static void print_seg(double t, uint64_t c)
{
	uint32_t seq = page->seq_count;

	printf("SEG t=%.3f raw_ns=%" PRId64 " offset_ns=%.3f freq_ppb=%" PRId64
	       " frac=0x%016" PRIx64 " shift=%u from_seq=%u\n", t,
	       guest_raw(c), seg_offset_ns(c), seg.freq_ppb, seg.frac,
	       seg.shift, (seq | 1) + 1);
}

static void new_segment(double t, int64_t dppb, int64_t dphase_ns)
{
	uint64_t c = guest_tsc();
	s128 now = seg_time(&seg, c);

	seg.c_a = c;
	seg.t_a = now + ns_to_units(dphase_ns);
	seg.freq_ppb += dppb;
	encode_period(seg.freq_ppb, &seg.frac, &seg.shift);
	print_seg(t, c);
}

/*
 * Leap seconds, as UTC has them: with leap 1 pending the reference repeats
 * the second before midnight (23:59:60 reads as 23:59:59 again), with leap
 * 2 it skips 23:59:59. The new segment starts at the exact counter value
 * of the boundary, so the line is right everywhere, and the indicator
 * moves on to 4 or 5 ("just happened").
 */
static s128 leap_at;	/* boundary of the pending leap, 2^-64 s; 0: none */

/* The pending leap's boundary, fixed when first seen; 0 if none pending. */
static s128 leap_boundary(void)
{
	int64_t sec, midnight;

	if (sc.leap != VMCLOCK_LEAP_PRE_POS && sc.leap != VMCLOCK_LEAP_PRE_NEG) {
		leap_at = 0;
		return 0;
	}
	if (!leap_at) {
		sec = (int64_t)(seg_time(&seg, guest_tsc()) >> 64);
		midnight = (sec / 86400 + 1) * 86400;
		/* insertion repeats the second before midnight; deletion
		 * skips 23:59:59, so its boundary is one second earlier
		 */
		leap_at = (s128)(sc.leap == VMCLOCK_LEAP_PRE_POS ?
				 midnight : midnight - 1) << 64;
	}
	return leap_at;
}

/* 1 if a pending leap's boundary is less than @ns away */
static int leap_near(int64_t ns)
{
	s128 b = leap_boundary();

	return b && b - seg_time(&seg, guest_tsc()) < ns_to_units(ns);
}

static int leap_apply(double t)
{
	s128 b = leap_boundary();
	int ins = sc.leap == VMCLOCK_LEAP_PRE_POS;

	if (!b || seg_time(&seg, guest_tsc()) < b)
		return 0;
	/* the counter value where the old line reaches the boundary */
	seg.c_a += (uint64_t)(((u128)(b - seg.t_a) << seg.shift) / seg.frac);
	seg.t_a = b + (ins ? -((s128)1 << 64) : ((s128)1 << 64));
	sc.leap = ins ? VMCLOCK_LEAP_POST_POS : VMCLOCK_LEAP_POST_NEG;
	leap_at = 0;
	printf("EVENT t=%.3f leap applied, leap %d\n", t, sc.leap);
	print_seg(t, seg.c_a);
	return 1;
}

static void barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * The page's fields for counter_value @cv and time @t. @published: the
 * page the guest reads, with the scenario's counter_id and, while a
 * "malformed" event lasts, a poisoned line (1 ms ahead, 500 ppm slow) as
 * well as the broken field, so that a module accepting it shows in the
 * error; else the truth page the probe may measure against (always the
 * true line on the TSC).
 */
static void write_fields(volatile struct vmclock_abi *p, uint64_t cv, s128 t,
			 int published)
{
	uint64_t flags = VMCLOCK_FLAG_TAI_OFFSET_VALID |
			 VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT;
	unsigned int shift = seg.shift;
	uint64_t frac = seg.frac;

	if (sc.time_type == VMCLOCK_TIME_TAI)
		t -= (s128)sc.tai_offset << 64;		/* tai = utc - (utc - tai) */
	if (sc.has_maxerror)
		flags |= VMCLOCK_FLAG_TIME_MAXERROR_VALID;
	if (sc.has_esterror)
		flags |= VMCLOCK_FLAG_TIME_ESTERROR_VALID;
	if (sc.has_period_maxerror)
		flags |= VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;

	p->magic = VMCLOCK_MAGIC;
	p->size = 4096;
	p->version = VMCLOCK_VERSION;
	p->counter_id = published ? sc.counter_id : VMCLOCK_COUNTER_X86_TSC;
	p->time_type = sc.time_type;
	p->disruption_marker = sc.disruption_marker;
	p->flags = flags;
	p->clock_status = sc.status;
	p->leap_second_smearing_hint = VMCLOCK_SMEARING_STRICT;
	p->tai_offset_sec = (uint16_t)(int16_t)sc.tai_offset;
	p->leap_indicator = sc.leap;
	p->counter_value = cv;
	p->counter_period_esterror_rate_frac_sec = 0;
	p->counter_period_maxerror_rate_frac_sec = sc.has_period_maxerror ?
		(uint64_t)((u128)frac * (uint64_t)sc.period_maxerror_ppb /
			   NSEC_PER_SEC) : 0;
	p->time_sec = (uint64_t)(t >> 64);
	p->time_frac_sec = (uint64_t)t;
	p->time_esterror_nanosec = sc.esterror_ns;
	p->time_maxerror_nanosec = sc.maxerror_ns;
	p->vm_generation_counter = sc.vm_generation;
	p->counter_period_shift = shift;
	p->counter_period_frac_sec = frac;

	if (!published || !malformed[0])
		return;
	t += (s128)(((u128)1 << 64) / 1000);
	p->time_sec = (uint64_t)(t >> 64);
	p->time_frac_sec = (uint64_t)t;
	p->counter_period_frac_sec = frac - frac / 2000;
	if (!strcmp(malformed, "magic"))
		p->magic = 0x4b4c4357;
	else if (!strcmp(malformed, "version"))
		p->version = VMCLOCK_VERSION + 1;
	else if (!strcmp(malformed, "size"))
		p->size = 0x20;
	else if (!strcmp(malformed, "shift"))
		p->counter_period_shift = 64;
	else if (!strcmp(malformed, "zero_period"))
		p->counter_period_frac_sec = 0;
	else if (!strcmp(malformed, "time_type"))
		p->time_type = VMCLOCK_TIME_INVALID_SMEARED;
	else if (!strcmp(malformed, "leap_value"))
		p->leap_indicator = 6;
	else if (!strcmp(malformed, "status_value"))
		p->clock_status = 9;
}

/* seq odd, barrier, fields, barrier, seq even */
static void publish(void)
{
	uint64_t cv = guest_tsc() - (uint64_t)(int64_t)(anchor_past_ns * cycles_per_ns);
	uint32_t seq = page->seq_count;

	if (!(seq & 1))
		page->seq_count = ++seq;
	barrier();
	write_fields(page, cv, seg_time(&seg, cv), 1);
	barrier();
	page->seq_count = seq + 1;

	seq = truth->seq_count | 1;
	truth->seq_count = seq;
	barrier();
	write_fields(truth, cv, seg_time(&seg, cv), 0);
	barrier();
	truth->seq_count = seq + 1;
}

/* A producer bug: new counter_value, old time fields, seq untouched. */
static void publish_torn(void)
{
	page->counter_value = guest_tsc() - (uint64_t)(PAST_NS * cycles_per_ns);
}

static void die(const char *msg)
{
	fprintf(stderr, "vmclock-sim: %s\n", msg);
	exit(1);
}

/*
 * Directives the runner (run-scenario), the analyzer and make bench read;
 * anything else in a scenario is a typo, which must not make a scenario
 * trivially easy.
 */
static int runner_directive(const char *k)
{
	static const char * const known[] = {
		"guest", "guest_end", "expect", "settle", "clock_start",
		"probe_rate", "probe_args", "kernel_append", "region_size",
		"steady", "limit_s", "vmm", "debug_bar", "peers", "qemu_args",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(k, known[i]))
			return 1;
	return 0;
}

static int known_malformed(const char *kind)
{
	static const char * const known[] = {
		"magic", "version", "size", "shift", "zero_period",
		"time_type", "leap_value", "status_value",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(kind, known[i]))
			return 1;
	return 0;
}

static int parse_status(const char *s)
{
	static const char *const names[] = {
		"unknown", "initializing", "synchronized", "freerunning",
		"unreliable",
	};
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return i;
	return (int)strtol(s, NULL, 0);
}

static void parse_scenario(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (!f)
		die("cannot open scenario");
	while (fgets(line, sizeof(line), f)) {
		char *p = line, k[64] = "", a[64] = "", b[64] = "";
		int n;

		lineno++;
		/* a longer line would be read as two, the second a bogus one */
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "vmclock-sim: %s:%d: line longer than %zu\n",
				path, lineno, sizeof(line) - 1);
			exit(1);
		}
		if (strchr(p, '#'))
			*strchr(p, '#') = 0;
		n = sscanf(p, "%63s %63s %63s", k, a, b);
		if (n < 1)
			continue;
		if (!strcmp(k, "duration"))
			sc.duration = atof(a);
		else if (!strcmp(k, "freq_ppb"))
			sc.freq_ppb = strtoll(a, NULL, 0);
		else if (!strcmp(k, "phase_ns"))
			sc.phase_ns = strtoll(a, NULL, 0);
		else if (!strcmp(k, "status"))
			sc.status = parse_status(a);
		else if (!strcmp(k, "time_type"))
			sc.time_type = !strcmp(a, "tai") ? VMCLOCK_TIME_TAI :
							   VMCLOCK_TIME_UTC;
		else if (!strcmp(k, "tai_offset"))
			sc.tai_offset = atoi(a);
		else if (!strcmp(k, "leap"))
			sc.leap = atoi(a);
		else if (!strcmp(k, "maxerror_ns"))
			sc.maxerror_ns = strtoll(a, NULL, 0), sc.has_maxerror = 1;
		else if (!strcmp(k, "esterror_ns"))
			sc.esterror_ns = strtoll(a, NULL, 0), sc.has_esterror = 1;
		else if (!strcmp(k, "period_maxerror_ppb"))
			sc.period_maxerror_ppb = strtoll(a, NULL, 0),
			sc.has_period_maxerror = 1;
		else if (!strcmp(k, "disruption_marker"))
			sc.disruption_marker = strtoull(a, NULL, 0);
		else if (!strcmp(k, "vm_generation"))
			sc.vm_generation = strtoull(a, NULL, 0);
		else if (!strcmp(k, "counter_ahead_ns"))
			anchor_past_ns = -atoll(a);
		else if (!strcmp(k, "counter_id"))
			sc.counter_id = (int)strtol(a, NULL, 0);
		else if (!strcmp(k, "probe_rate") && atof(a) > 0)
			probe_rate = atof(a);	/* the runner's, read here too */
		else if (!strcmp(k, "at")) {
			struct event *e = &sc.ev[sc.nev];

			if (sc.nev == MAX_EVENTS)
				die("too many events");
			memset(e, 0, sizeof(*e));
			e->t = atof(a);
			snprintf(e->arg, sizeof(e->arg), "%s", "");
			n = sscanf(p, "%*s %*s %63s %63s", k, b);
			if (n < 1)
				goto bad;
			if (!strcmp(k, "freq_step_ppb"))
				e->kind = EV_FREQ_STEP, e->val = strtoll(b, NULL, 0);
			else if (!strcmp(k, "phase_jump_ns"))
				e->kind = EV_PHASE_JUMP, e->val = strtoll(b, NULL, 0);
			else if (!strcmp(k, "disruption"))
				e->kind = EV_DISRUPTION;
			else if (!strcmp(k, "vm_generation"))
				e->kind = EV_VM_GEN;
			else if (!strcmp(k, "status"))
				e->kind = EV_STATUS, e->val = parse_status(b);
			else if (!strcmp(k, "counter_id"))
				e->kind = EV_COUNTER_ID, e->val = strtol(b, NULL, 0);
			else if (!strcmp(k, "leap"))
				e->kind = EV_LEAP, e->val = atoi(b);
			else if (!strcmp(k, "malformed") && known_malformed(b))
				e->kind = EV_MALFORMED,
				snprintf(e->arg, sizeof(e->arg), "%s", b);
			else if (!strcmp(k, "seq_stuck_odd"))
				e->kind = EV_SEQ_STUCK, e->val = atof(b) * 1e9;
			else if (!strcmp(k, "torn"))
				e->kind = EV_TORN;
			else if (!strcmp(k, "storm"))
				e->kind = EV_STORM, e->val = atof(b) * 1e9;
			else if (!strcmp(k, "restore"))
				e->kind = EV_RESTORE;
			else if (!strcmp(k, "freq_ramp_ppb_per_s"))
				e->kind = EV_FREQ_RAMP,
				e->val = llround(atof(b) * 1000);
			else if (!strcmp(k, "vmm_migrate"))
				e->kind = EV_VMM, e->val = VMM_MIGRATE;
			else if (!strcmp(k, "vmm_snapshot"))
				e->kind = EV_VMM, e->val = VMM_SNAPSHOT;
			else
				goto bad;
			sc.nev++;
		} else if (!runner_directive(k)) {
			fprintf(stderr, "vmclock-sim: %s:%d: unknown directive %s\n",
				path, lineno, k);
			exit(1);
		}
		continue;
bad:
		fprintf(stderr, "vmclock-sim: %s:%d: bad event\n", path, lineno);
		exit(1);
	}
	fclose(f);
}

/*
 * A VMM stop (live migration, snapshot save and restore) as the writer of a
 * plain host-page file meets it: under TCG the guest counter stands still
 * while the VM is stopped and runs on from there, so guest TSC - host TSC
 * drops by the stop's length. The probe's heartbeat (mailbox hb_tsc, the
 * counter at each sample) measures it: from an "at T vmm_*" event on, the
 * simulator reads it every 0.2 ms, and est = hb - host TSC, read within
 * 0.5 ms of the previous look, is the offset to within ~0.2 ms (never
 * above it). The highest est before the move is done is the baseline (the
 * lower ones a late read or the resumed VM gives are not); run-scenario
 * says the move is done (the VM runs on the destination) by writing the
 * count of moves done to the --vmm-done file, and the highest of the next
 * five fresh ests (or those within 100 ms) is the new offset. A heartbeat
 * stopped for three samples and 20 ms holds the page until then (not
 * republished with a counter_value the guest has not reached).
 *
 * The reference keeps host time across the stop: the new line is the old
 * one P cycles on, P = the counter's loss, so the guest's clock is behind
 * by the stop (ms to s). The VMM tells the guest with the disruption
 * marker (and, after a snapshot restore, the VM generation counter),
 * bumped with the new line.
 */
static const char *vmm_pending;	/* announced by an "at T vmm_*" event */
static const char *vmm_done_path; /* run-scenario's count of moves done */
static int vmm_used, vmm_held;	/* scenario has vmm events; page held */
static int vmm_announced;	/* moves announced so far */
static int vmm_stopped;		/* the heartbeat stopped since the announcement */
static uint64_t vmm_hb;		/* heartbeat last seen */
static int64_t vmm_hb_ns;	/* mono_ns() when it last changed */
static int64_t vmm_poll_ns;	/* mono_ns() of the previous look */
static int64_t vmm_base, vmm_post; /* highest fresh est before, after (cycles) */
static int vmm_nbase, vmm_npost;
static int64_t vmm_done_ns;	/* when the move was seen done, 0: not yet */

static int vmm_done_count(void)
{
	FILE *f = fopen(vmm_done_path, "r");
	int n = 0;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n;
}

static void vmm_resolve(double t)
{
	int64_t base = vmm_nbase ? vmm_base : host_off;
	int64_t p = base - vmm_post;
	uint64_t c;
	int moved = p >= (int64_t)(5e5 * cycles_per_ns);	/* 0.5 ms */

	if (moved) {
		s128 ref;

		host_off = vmm_post;
		c = guest_tsc();
		ref = seg_time(&seg, c + (uint64_t)p);
		seg.c_a = c;
		seg.t_a = ref;
	} else {
		c = guest_tsc();
	}
	sc.disruption_marker++;
	if (!strcmp(vmm_pending, "snapshot"))
		sc.vm_generation++;
	printf("EVENT t=%.3f raw_ns=%" PRId64 " vmm resume: guest counter stood still %.3f ms, after %s: disruption marker=%" PRIu64 " vm_generation %" PRIu64 "%s\n",
	       t, guest_raw(c), p / cycles_per_ns * 1e-6, vmm_pending,
	       sc.disruption_marker, sc.vm_generation,
	       vmm_nbase ? "" : " (no baseline: the offset learnt at boot)");
	if (moved)
		print_seg(t, c);
	vmm_pending = NULL;
	vmm_stopped = vmm_held = 0;
	vmm_nbase = vmm_npost = 0;
	vmm_done_ns = 0;
	publish();
}

/* Returns 1 while the page is held (the VM stopped, or a move unresolved). */
static int vmm_follow(double t)
{
	uint64_t hb = mb->hb_tsc;
	int64_t now = mono_ns(), est;
	int fresh = now - vmm_poll_ns < 500000;

	vmm_poll_ns = now;
	if (hb == vmm_hb) {
		/* three missed samples and 20 ms: the VM is not running */
		if (!vmm_held && now - vmm_hb_ns > 3e9 / probe_rate + 20000000) {
			vmm_held = 1;
			vmm_stopped = !!vmm_pending;
			printf("EVENT t=%.3f vmm heartbeat stopped: page held\n", t);
		}
	} else {
		est = (int64_t)(hb - __rdtsc());	/* <= the offset */
		vmm_hb = hb;
		vmm_hb_ns = now;
		if (!vmm_stopped)
			vmm_held = 0;
		if (vmm_pending && fresh && !vmm_done_ns) {
			if (!vmm_nbase++ || est > vmm_base)
				vmm_base = est;
		} else if (vmm_pending && fresh) {
			if (!vmm_npost++ || est > vmm_post)
				vmm_post = est;
		}
	}
	if (!vmm_pending)
		return vmm_held;
	if (!vmm_done_ns && vmm_done_count() >= vmm_announced)
		vmm_done_ns = now;
	if (vmm_done_ns && (vmm_npost >= 5 ||
			    (vmm_npost && now - vmm_done_ns > 100000000)))
		vmm_resolve(t);
	return vmm_held;
}

static void apply(struct event *e, double t)
{
	printf("EVENT t=%.3f raw_ns=%" PRId64 " ", t, guest_raw(guest_tsc()));
	switch (e->kind) {
	case EV_FREQ_STEP:
		printf("freq_step_ppb %" PRId64 "\n", e->val);
		new_segment(t, e->val, 0);
		break;
	case EV_PHASE_JUMP:
		printf("phase_jump_ns %" PRId64 "\n", e->val);
		new_segment(t, 0, e->val);
		break;
	case EV_DISRUPTION:
		sc.disruption_marker++;
		printf("disruption marker=%" PRIu64 "\n", sc.disruption_marker);
		break;
	case EV_VM_GEN:
		sc.vm_generation++;
		printf("vm_generation %" PRIu64 "\n", sc.vm_generation);
		break;
	case EV_STATUS:
		sc.status = (int)e->val;
		printf("status %d\n", sc.status);
		break;
	case EV_COUNTER_ID:
		sc.counter_id = (int)e->val;
		printf("counter_id %d\n", sc.counter_id);
		break;
	case EV_LEAP:
		sc.leap = (int)e->val;
		printf("leap %d\n", sc.leap);
		break;
	case EV_MALFORMED:
		snprintf(malformed, sizeof(malformed), "%s", e->arg);
		printf("malformed %s\n", malformed);
		break;
	case EV_SEQ_STUCK:
		stuck_until = t + e->val * 1e-9;
		printf("seq_stuck_odd until t=%.3f\n", stuck_until);
		break;
	case EV_TORN:
		printf("torn\n");
		break;
	case EV_STORM:
		storm_until = t + e->val * 1e-9;
		printf("storm until t=%.3f\n", storm_until);
		break;
	case EV_RESTORE:
		malformed[0] = 0;
		sc.counter_id = VMCLOCK_COUNTER_X86_TSC;
		stuck_until = -1;
		printf("restore\n");
		break;
	case EV_FREQ_RAMP:
		ramp_ppb_per_s = e->val * 1e-3;
		ramp_t = t;
		ramp_acc = 0;
		printf("freq_ramp_ppb_per_s %.3f\n", ramp_ppb_per_s);
		break;
	case EV_VMM:
		vmm_pending = e->val == VMM_SNAPSHOT ? "snapshot" : "migrate";
		vmm_announced++;
		vmm_nbase = vmm_npost = 0;
		vmm_done_ns = 0;
		printf("vmm_%s (run-scenario starts it now)\n", vmm_pending);
		break;
	}
}

/* Move the rate along the ramp up to @t (called before a republish). */
static void ramp_apply(double t)
{
	int64_t d;

	if (ramp_ppb_per_s == 0)
		return;
	ramp_acc += ramp_ppb_per_s * (t - ramp_t);
	ramp_t = t;
	d = (int64_t)ramp_acc;
	if (!d)
		return;
	ramp_acc -= d;
	new_segment(t, d, 0);
}

int main(int argc, char **argv)
{
	int64_t t0, start = mono_ns(), next;
	double timeout = 300;
	const char *page_file = NULL;
	pid_t qemu = 0;
	struct stat st;
	void *map;
	int fd, i;

	while (argc > 3 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "--pid"))
			qemu = atoi(argv[2]);
		else if (!strcmp(argv[1], "--timeout"))
			timeout = atof(argv[2]);
		else if (!strcmp(argv[1], "--page"))
			page_file = argv[2];
		else if (!strcmp(argv[1], "--vmm-done"))
			vmm_done_path = argv[2];
		else
			die("unknown option");
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		die("usage: vmclock-sim [--pid PID] [--timeout S] [--page FILE] [--vmm-done FILE] RAMFILE SCENARIO");
	parse_scenario(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);

	/* QEMU creates the file; it must already cover the page and mailbox. */
	for (;;) {
		fd = open(argv[1], O_RDWR);
		if (fd >= 0 && !fstat(fd, &st) &&
		    st.st_size >= (off_t)PAGE_PHYS + 12288)
			break;
		if (fd >= 0)
			close(fd);
		if (stop || mono_ns() - start > timeout * 1e9)
			die("RAM file did not appear");
		usleep(10000);
	}
	map = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE_PHYS);
	close(fd);
	if (map == MAP_FAILED)
		die("mmap");
	page = map;
	mb = (void *)((char *)map + 4096);
	truth = (void *)((char *)map + 8192);
	if (page_file) {
		void *pm;

		fd = open(page_file, O_RDWR);
		if (fd < 0 || fstat(fd, &st) || st.st_size < 4096)
			die("--page: cannot open a one-page file");
		pm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (pm == MAP_FAILED)
			die("--page: mmap");
		page = pm;
	}

	while (mb->magic != VMCLOCK_MAILBOX_MAGIC) {
		if (stop || (qemu && kill(qemu, 0)) ||
		    mono_ns() - start > timeout * 1e9) {
			printf("SIM no_mailbox\n");
			munmap(map, 12288);
			return 1;
		}
		usleep(1000);
	}
	barrier();
	/* Guest TSC now >= mbox.tsc: the offset errs towards the past. */
	host_off = (int64_t)(mb->tsc - __rdtsc());
	memcpy(&mbox, (const void *)mb, sizeof(mbox));
	mbox.clocksource[sizeof(mbox.clocksource) - 1] = 0;
	cycles_per_ns = (double)(1ULL << mbox.raw_shift) / mbox.raw_mult;
	printf("SIM boot_s=%.3f\n", (mono_ns() - start) * 1e-9);
	printf("MAILBOX tsc=%llu realtime_ns=%lld mono_raw_ns=%lld raw_mult=%u"
	       " raw_shift=%u clocksource=%s cycle_interval=%llu ntp_tick=%llu"
	       " mono_mult=%u mono_shift=%u tsc_khz=%.3f\n",
	       (unsigned long long)mbox.tsc, (long long)mbox.realtime_ns,
	       (long long)mbox.mono_raw_ns, mbox.raw_mult, mbox.raw_shift,
	       mbox.clocksource, (unsigned long long)mbox.cycle_interval,
	       (unsigned long long)mbox.ntp_tick, mbox.mono_mult,
	       mbox.mono_shift, cycles_per_ns * 1e6);
	if (strcmp(mbox.clocksource, "tsc"))
		printf("SIM warning clocksource=%s\n", mbox.clocksource);

	/* Initial line: realtime0 + phase at tsc0. */
	seg.c_a = mbox.tsc;
	seg.t_a = ns_to_units(mbox.realtime_ns + sc.phase_ns);
	seg.freq_ppb = sc.freq_ppb;
	encode_period(seg.freq_ppb, &seg.frac, &seg.shift);
	print_seg(0, mbox.tsc);

	t0 = mono_ns();
	publish();
	printf("PUBLISH first t=0 raw_ns=%" PRId64 "\n", guest_raw(guest_tsc()));
	next = t0 + REPUBLISH_NS;

	for (i = 0; i < sc.nev; i++)
		vmm_used |= sc.ev[i].kind == EV_VMM;
	if (vmm_used && !vmm_done_path)
		die("vmm_* events need --vmm-done FILE");
	vmm_hb = mb->hb_tsc;
	vmm_hb_ns = mono_ns();

	while (!stop) {
		double t;

		if (qemu && kill(qemu, 0))
			break;
		t = (mono_ns() - t0) * 1e-9;
		if (vmm_used) {
			int held = vmm_held;

			if (vmm_follow(t)) {
				usleep(200);	/* for the first new heartbeat */
				continue;
			}
			if (held) {
				publish();
				next = mono_ns() + REPUBLISH_NS;
			}
		}
		for (i = 0; i < sc.nev; i++) {
			struct event *e = &sc.ev[i];

			if (e->done || e->t > t)
				continue;
			e->done = 1;
			apply(e, t);
			if (e->kind == EV_SEQ_STUCK) {
				page->seq_count |= 1;
			} else if (e->kind == EV_TORN) {
				publish_torn();
			} else if (t >= stuck_until) {
				publish();
				next = mono_ns() + REPUBLISH_NS;
			}
		}
		if (leap_apply(t) && stuck_until < 0)
			publish();
		if (stuck_until >= 0 && t >= stuck_until) {
			stuck_until = -1;
			publish();
			printf("EVENT t=%.3f seq_unstuck\n", t);
		}
		if (t < storm_until && stuck_until < 0) {
			publish();
			continue;
		}
		if (mono_ns() >= next) {
			ramp_apply(t);
			if (stuck_until < 0)
				publish();
			next += REPUBLISH_NS;
			if (next < mono_ns())
				next = mono_ns() + REPUBLISH_NS;
		}
		{
			int64_t wake = next;
			struct timespec ts;

			for (i = 0; i < sc.nev; i++) {
				int64_t et = t0 + (int64_t)(sc.ev[i].t * 1e9);

				if (!sc.ev[i].done && et < wake)
					wake = et;
			}
			if (stuck_until >= 0) {
				int64_t et = t0 + (int64_t)(stuck_until * 1e9);

				if (et < wake)
					wake = et;
			}
			/* a leap boundary is met within 1 ms */
			if (leap_near(2 * NSEC_PER_SEC) && wake > mono_ns() + 1000000)
				wake = mono_ns() + 1000000;
			/*
			 * a VM stop is seen within 10 ms; a resume, once one
			 * is announced, within 0.2 ms (a fresh heartbeat)
			 */
			if (vmm_used && wake > mono_ns() + 10000000)
				wake = mono_ns() + 10000000;
			if (vmm_pending && wake > mono_ns() + 200000)
				wake = mono_ns() + 200000;
			ts.tv_sec = wake / NSEC_PER_SEC;
			ts.tv_nsec = wake % NSEC_PER_SEC;
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
	}
	printf("SIM exit t=%.3f\n", (mono_ns() - t0) * 1e-9);
	munmap(map, 12288);
	return 0;
}
