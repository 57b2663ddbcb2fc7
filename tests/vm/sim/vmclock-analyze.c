// SPDX-License-Identifier: GPL-2.0
/*
 * vmclock-analyze - turns the harness guest's data port into results.
 *
 *   vmclock-analyze --live
 *	reads the data port (ttyS1 capture) on stdin while the guest runs and
 *	prints one trace line per second of guest time:
 *	"# t=12 err_p50=-3 err_max=17 n=100 nopage=0"  (ns; err_max is the
 *	signed sample of largest magnitude; t from the first published page)
 *
 *   vmclock-analyze --final SCENARIO DATAPORT SIMLOG NAME
 *	prints TAP for the harness checks and the scenario's expectations,
 *	then "SUMMARY scenario=NAME ...". Exit status 1 on any failure.
 *
 * err is CLOCK_REALTIME - page time in ns as measured by vmclock_probe
 * (positive: the guest clock is ahead of the reference).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS	256
#define MAX_STATS	64

struct sample {
	int64_t raw;		/* guest CLOCK_MONOTONIC_RAW, ns */
	int64_t err;		/* ns */
	uint32_t seq;
	int valid;
	int64_t stall_ns;	/* > 0: within 0.5 s after a host stall this long */
};

struct brk {
	int64_t raw, lo, hi, width;
};

struct seg {
	int64_t raw;		/* guest raw ns at the anchor */
	double offset;		/* ref - free-running guest at the anchor, ns */
	double freq_ppb;
	uint32_t from_seq;	/* first page seq carrying this segment */
};

static struct sample *smp;
static size_t nsmp, capsmp;
static struct brk *brks;
static size_t nbrk, capbrk;
static struct seg segs[MAX_SEGS];
static int nseg;

static struct {
	char name[64];
	char value[64];
} stats[MAX_STATS];
static int nstats;

static int64_t raw_first_page = -1, raw_guest1 = -1, raw_duration_over = -1;
/* guest raw ns of the simulator's t=0, the clock of its "at" events */
static int64_t raw_sim_t0 = -1;
static int have_cs_tsc, have_end, harness_fail, dmesg_bad = -1, rmmod_bad;
static int guest_cmds, guest_fail, have_mailbox;
/* unreferenced objects after the unload; -1: no kmemleak in the guest */
static int kmemleak = -1, kmemleak_fail;
static long lost, nopage;
static double boot_s = -1;
static char harness_why[256], cs_name[32], guest_fail_cmd[256];
/* "at T vmm_*" events announced, VM resumes after one, their stops */
static int vmm_announced, vmm_resumed;
static char vmm_stops[256];

static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 4096;
	p = realloc(p, *cap * sz);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	return p;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static int64_t pct(const int64_t *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)ceil(p / 100.0 * n);
	if (k < 1)
		k = 1;
	return v[k - 1];
}

/*
 * Mark the samples of [@from, @to) within 0.5 s after a gap over 3 times
 * the median sample spacing (the gap into @from counts); returns the gaps,
 * the samples marked and the longest gap (ns).
 */
static int steady_stalls(size_t from, size_t to, size_t *marked,
			 int64_t *longest)
{
	int64_t *d, med, until = INT64_MIN, len = 0;
	size_t k, n = 0;
	int gaps = 0, counted = 1;

	*marked = 0;
	*longest = 0;
	if (to < from + 3)
		return 0;
	d = calloc(to - from, sizeof(*d));
	if (!d)
		return 0;
	for (k = from + 1; k < to; k++)
		d[n++] = smp[k].raw - smp[k - 1].raw;
	qsort(d, n, sizeof(*d), cmp_i64);
	med = d[n / 2];
	free(d);
	/* from the start: a stall before @from may reach into it */
	for (k = 1; k < to; k++) {
		int64_t gap = smp[k].raw - smp[k - 1].raw;

		if (med > 0 && gap > 3 * med) {
			until = smp[k].raw + 500000000;
			len = gap;
			counted = 0;
		}
		if (k < from || smp[k].raw > until)
			continue;
		if (!counted) {
			counted = 1;
			gaps++;
			if (len > *longest)
				*longest = len;
		}
		smp[k].stall_ns = len;
		(*marked)++;
	}
	return gaps;
}

/*
 * |err| of the valid samples of [@from, @to), sorted into @absv; with
 * @excuse, less those after a stall whose |err| it explains (<= 5 ns +
 * 0.3 ns per ms of it), counted in @left_out. Returns how many.
 */
static size_t steady_abs(size_t from, size_t to, int excuse, int64_t *absv,
			 size_t *left_out)
{
	size_t k, n = 0;

	for (k = from; k < to; k++) {
		if (!smp[k].valid)
			continue;
		if (excuse && smp[k].stall_ns &&
		    llabs(smp[k].err) * 10 <= 50 + 3 * smp[k].stall_ns / 1000000) {
			(*left_out)++;
			continue;
		}
		absv[n++] = llabs(smp[k].err);
	}
	qsort(absv, n, sizeof(*absv), cmp_i64);
	return n;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
}

/* Steps of CLOCK_REALTIME that the probe counted (J lines). */
#define MAX_JUMPS	1024
static struct {
	int64_t raw, sum_ns;
	int count;
} jmp[MAX_JUMPS];
static size_t njmp;

/* One data-port line; returns 1 for a valid sample. */
static int parse_line(char *l)
{
	char *p;

	chomp(l);
	/* tty output may carry stray \r or NULs: start at the first letter */
	while (*l && (*l == '\r' || *l == ' '))
		l++;
	if (l[0] == 'S' && l[1] == ' ') {
		struct sample s = { 0 };
		char e[32];
		unsigned int st;
		unsigned long long mk;

		if (sscanf(l + 2, "%lld %31s %u %u %llu", (long long *)&s.raw,
			   e, &s.seq, &st, &mk) < 3)
			return 0;
		if (strcmp(e, "nopage")) {
			s.err = strtoll(e, NULL, 10);
			s.valid = 1;
		} else {
			nopage++;
		}
		smp = grow(smp, &capsmp, nsmp, sizeof(*smp));
		smp[nsmp++] = s;
		return s.valid;
	}
	if (l[0] == 'B' && l[1] == ' ') {
		struct brk b;

		if (sscanf(l + 2, "%lld %lld %lld %lld", (long long *)&b.raw,
			   (long long *)&b.lo, (long long *)&b.hi,
			   (long long *)&b.width) == 4) {
			brks = grow(brks, &capbrk, nbrk, sizeof(*brks));
			brks[nbrk++] = b;
		}
		return 0;
	}
	if (l[0] == 'M' && l[1] == ' ') {
		long long raw;
		int off = 0;

		if (sscanf(l + 2, "%lld %n", &raw, &off) < 1)
			return 0;
		p = l + 2 + off;
		if (!strcmp(p, "first page") && raw_first_page < 0)
			raw_first_page = raw;
		else if (!strcmp(p, "guest 1"))
			raw_guest1 = raw;
		else if (!strcmp(p, "duration over"))
			raw_duration_over = raw;
		return 0;
	}
	if (l[0] == 'L' && l[1] == ' ') {
		lost += atol(l + 2);
		return 0;
	}
	if (l[0] == 'J' && l[1] == ' ') {	/* a step the probe saw */
		long long raw, sum;
		int cnt;

		if (sscanf(l + 2, "%lld %d %lld", &raw, &cnt, &sum) == 3 &&
		    njmp < MAX_JUMPS) {
			jmp[njmp].raw = raw;
			jmp[njmp].count = cnt;
			jmp[njmp].sum_ns = sum;
			njmp++;
		}
		return 0;
	}
	if (!strncmp(l, "CLOCKSOURCE ", 12)) {
		snprintf(cs_name, sizeof(cs_name), "%s", l + 12);
		have_cs_tsc = !strcmp(cs_name, "tsc");
	} else if (!strncmp(l, "HARNESS-FAIL", 12)) {
		harness_fail = 1;
		snprintf(harness_why, sizeof(harness_why), "%s", l + 12);
	} else if (!strcmp(l, "END")) {
		have_end = 1;
	} else if (!strncmp(l, "DMESG-BAD ", 10)) {
		dmesg_bad = atoi(l + 10);
	} else if (!strncmp(l, "KMEMLEAK ", 9)) {
		if (l[9] >= '0' && l[9] <= '9')
			kmemleak = atoi(l + 9);
		else
			kmemleak_fail = 1;
	} else if (!strncmp(l, "RMMOD ", 6)) {
		p = strrchr(l, ' ');
		if (p && atoi(p + 1))
			rmmod_bad++;
	} else if (!strncmp(l, "GUEST-RC ", 9)) {
		int rc = atoi(l + 9);

		guest_cmds++;
		if (rc && !guest_fail++) {
			p = strchr(l + 9, ' ');
			snprintf(guest_fail_cmd, sizeof(guest_fail_cmd),
				 "%s (rc %d)", p ? p + 1 : "?", rc);
		}
	} else if (!strncmp(l, "VMC-STAT ", 9) && nstats < MAX_STATS) {
		sscanf(l + 9, "%63s %63s", stats[nstats].name,
		       stats[nstats].value);
		nstats++;
	}
	return 0;
}

static void live(void)
{
	char line[512];
	int64_t bucket = INT64_MIN, *v = NULL;
	size_t nv = 0, cap = 0;
	long np0 = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		size_t before = nsmp;
		int64_t b;

		parse_line(line);
		if (nsmp == before || raw_first_page < 0)
			continue;
		b = (smp[nsmp - 1].raw - raw_first_page) / 1000000000;
		if (smp[nsmp - 1].raw < raw_first_page)
			continue;
		if (b != bucket && bucket != INT64_MIN) {
			int64_t mx = 0;
			size_t i;

			for (i = 0; i < nv; i++)
				if (llabs(v[i]) > llabs(mx))
					mx = v[i];
			qsort(v, nv, sizeof(*v), cmp_i64);
			printf("# t=%lld err_p50=%lld err_max=%lld n=%zu nopage=%ld\n",
			       (long long)bucket, (long long)pct(v, nv, 50),
			       (long long)mx, nv, nopage - np0);
			nv = 0;
			np0 = nopage;
		}
		bucket = b;
		if (smp[nsmp - 1].valid) {
			v = grow(v, &cap, nv, sizeof(*v));
			v[nv++] = smp[nsmp - 1].err;
		}
	}
	free(v);
}

static void read_simlog(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long long raw;
		double off, fr;
		unsigned int seq;
		char *p;

		if (!strncmp(line, "SEG ", 4) && nseg < MAX_SEGS &&
		    sscanf(line, "SEG t=%*f raw_ns=%lld offset_ns=%lf freq_ppb=%lf"
			   " frac=%*s shift=%*u from_seq=%u", &raw, &off, &fr,
			   &seq) == 4) {
			segs[nseg].raw = raw;
			segs[nseg].offset = off;
			segs[nseg].freq_ppb = fr;
			segs[nseg].from_seq = seq;
			nseg++;
		} else if (!strncmp(line, "SIM boot_s=", 11)) {
			boot_s = atof(line + 11);
		} else if (!strncmp(line, "MAILBOX ", 8)) {
			have_mailbox = 1;
		} else if (sscanf(line, "PUBLISH first t=0 raw_ns=%lld",
				  &raw) == 1 && raw_sim_t0 < 0) {
			raw_sim_t0 = raw;
		} else if (strstr(line, " (run-scenario starts it now)")) {
			vmm_announced++;
		} else if ((p = strstr(line, " vmm resume: guest counter stood still ")) &&
			   strstr(line, ", after ")) {
			/* the stop's length, as the guest counter lost it */
			snprintf(vmm_stops + strlen(vmm_stops),
				 sizeof(vmm_stops) - strlen(vmm_stops), "%s%.0f ms",
				 vmm_resumed ? ", " : "", atof(p + 39));
			vmm_resumed++;
		}
	}
	fclose(f);
}

/* The simulator's intended err for a sample: -(ref - free guest clock). */
static int intended(const struct sample *s, double *err)
{
	int i, k = -1;

	for (i = 0; i < nseg; i++)
		if (segs[i].from_seq <= s->seq)
			k = i;
	if (k < 0)
		return 0;
	*err = -(segs[k].offset +
		 segs[k].freq_ppb * 1e-9 * (double)(s->raw - segs[k].raw));
	return 1;
}

static int tap_n, tap_fail;

static void tap(int ok, const char *desc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#include <stdarg.h>
static void tap(int ok, const char *desc, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	if (ok) {
		printf("ok %d - %s\n", tap_n, desc);
		return;
	}
	tap_fail++;
	printf("not ok %d - %s", tap_n, desc);
	if (fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
}

static const char *stat_value(const char *name)
{
	int i;

	for (i = 0; i < nstats; i++)
		if (!strcmp(stats[i].name, name))
			return stats[i].value;
	return NULL;
}

struct expect {
	char kind[32];
	double a, b, c, d;
	int n;
	char name[64];
	char str[64];	/* third word, for "stat NAME VALUE" */
	double stock;	/* a before a debug_bar relaxed it, else 0 */
};

/*
 * The guest's ptp-offset samples ("PTPX <mono_raw_ns> <err_ns>" in the
 * console.log beside @data) against the probe's err, linearly interpolated
 * at the same raw instant (probe samples <= 20 ms apart only): a second
 * measurement through the PTP clock, which must agree with the probe's.
 */
static void ptp_agree(const char *data, double tol, long *n, long *bad,
		      double *worst)
{
	char path[4096], line[512];
	const char *slash = strrchr(data, '/');
	size_t j = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%.*sconsole.log",
		 slash ? (int)(slash - data + 1) : 0, data);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *l = strstr(line, "PTPX ");
		long long raw, err;
		double fr, e, d;

		if (!l || sscanf(l + 5, "%lld %lld", &raw, &err) != 2)
			continue;
		while (j + 1 < nsmp && smp[j + 1].raw <= raw)
			j++;
		if (j + 1 >= nsmp || smp[j].raw > raw || !smp[j].valid ||
		    !smp[j + 1].valid || smp[j + 1].raw - smp[j].raw > 20000000)
			continue;
		fr = (double)(raw - smp[j].raw) / (smp[j + 1].raw - smp[j].raw);
		e = smp[j].err + fr * (smp[j + 1].err - smp[j].err);
		d = fabs(err - e);
		(*n)++;
		if (d > tol)
			(*bad)++;
		if (d > *worst)
			*worst = d;
	}
	fclose(f);
}

/* Every directive a scenario may hold (tests/vm/SCENARIOS.md). */
static int known_directive(const char *k)
{
	static const char * const known[] = {
		"duration", "probe_rate", "probe_args", "kernel_append",
		"clock_start", "settle", "freq_ppb", "phase_ns", "status",
		"time_type", "tai_offset", "leap", "maxerror_ns", "esterror_ns",
		"period_maxerror_ppb", "disruption_marker", "vm_generation",
		"counter_id", "counter_ahead_ns", "region_size", "guest",
		"guest_end", "at", "expect", "steady", "limit_s", "vmm",
		"debug_bar", "peers", "qemu_args",
	};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(k, known[i]))
			return 1;
	return 0;
}

static int final(const char *scn, const char *data, const char *simlog,
		 const char *name)
{
	/* run-scenario exports the kernel it booted (--kernel debug) */
	const char *ksel = getenv("VMCLOCK_KERNEL");
	int debug_kernel = ksel && !strcmp(ksel, "debug");
	struct expect ex[64];
	int nex = 0, i, too_many = 0;
	char bad_directive[64] = "";
	static char sline[4096];
	double settle = -1, conv_thr = 100, conv_within = -1;
	char line[512];
	FILE *f;
	size_t k, w0 = 0, w1, nwin, ss;
	int64_t start_raw, ev_raw, t_conv = -1, *absv;
	double converge_s = -1;
	int64_t p50 = 0, p99 = 0, mx = 0, stall_max_ns = 0;
	size_t nvalid = 0, n_left_out = 0, n_marked = 0;
	int n_stall = 0, too_noisy = 0, nplan, scn_vmm = 0;

	f = fopen(data, "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			parse_line(line);
		fclose(f);
	}
	read_simlog(simlog);

	f = fopen(scn, "r");
	if (!f) {
		perror(scn);
		return 2;
	}
	while (fgets(sline, sizeof(sline), f)) {
		struct expect *e = &ex[nex];
		char k1[64] = "", k2[64] = "", *line = sline;

		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(bad_directive, sizeof(bad_directive),
				 "(a line longer than %zu)", sizeof(sline) - 1);
			break;
		}
		if (strchr(line, '#'))
			*strchr(line, '#') = 0;
		if (sscanf(line, "%63s", k1) != 1)
			continue;
		if (!strcmp(k1, "settle")) {
			sscanf(line, "%*s %lf", &settle);
			continue;
		}
		if (!strcmp(k1, "at") && sscanf(line, "%*s %*s %63s", k2) == 1 &&
		    !strncmp(k2, "vmm_", 4))
			scn_vmm++;
		if (!known_directive(k1)) {
			snprintf(bad_directive, sizeof(bad_directive), "%s", k1);
			continue;
		}
		if (!strcmp(k1, "debug_bar")) {
			/*
			 * debug_bar p50_ns|p99_ns|max_ns V: on the debug
			 * kernel the last such expectation's bar is V
			 */
			char kind[32] = "";
			double v = 0;
			int j = nex - 1;

			if (sscanf(line, "%*s %31s %lf", kind, &v) == 2 &&
			    (!strcmp(kind, "p50_ns") || !strcmp(kind, "p99_ns") ||
			     !strcmp(kind, "max_ns")))
				while (j >= 0 && strcmp(ex[j].kind, kind))
					j--;
			else
				j = -1;
			if (j < 0)
				snprintf(bad_directive, sizeof(bad_directive),
					 "debug_bar %s (no expect %s before it)",
					 kind, kind);
			else if (debug_kernel && v > ex[j].a) {
				ex[j].stock = ex[j].a;
				ex[j].a = v;
			}
			continue;
		}
		if (strcmp(k1, "expect"))
			continue;
		if (nex == 64) {
			too_many = 1;
			continue;
		}
		memset(e, 0, sizeof(*e));
		e->n = sscanf(line, "%*s %31s %63s %lf %lf %lf", e->kind, k2,
			      &e->b, &e->c, &e->d);
		snprintf(e->name, sizeof(e->name), "%s", k2);
		sscanf(line, "%*s %*s %*s %63s", e->str);
		e->a = atof(k2);
		if (!strcmp(e->kind, "converge_ns")) {
			/* expect converge_ns X within S */
			sscanf(line, "%*s %*s %lf %*s %lf", &conv_thr,
			       &conv_within);
			e->a = conv_thr;
			e->b = conv_within;
		}
		if (!strcmp(e->kind, "resync_ns"))	/* resync_ns X within S */
			e->n = sscanf(line, "%*s %*s %lf %*s %lf", &e->a,
				      &e->b) + 1;
		nex++;
	}
	fclose(f);
	/* A debug kernel (it has kmemleak) checks its reports in every scenario. */
	for (i = 0; i < nex && strcmp(ex[i].kind, "dmesg_clean"); i++)
		;
	if (i == nex && nex < 64 && (kmemleak >= 0 || kmemleak_fail)) {
		memset(&ex[nex], 0, sizeof(ex[nex]));
		strcpy(ex[nex++].kind, "dmesg_clean");
	}

	/* "TAP version 13" is printed by run-scenario before the trace. */
	/* the fixed checks, one a vmm event scenario adds, its expectations */
	nplan = 6 + !!scn_vmm + nex;
	printf("1..%d\n", nplan);
	tap(!bad_directive[0] && !too_many,
	    "scenario file: known directives, <= 64 expectations",
	    "measured unknown directive '%s'%s expected none", bad_directive,
	    too_many ? ", more than 64 expectations" : "");
	/* Harness checks first: a broken harness must not look like a bad servo. */
	tap(have_cs_tsc && !harness_fail, "guest booted on the TSC clocksource",
	    "measured clocksource=%s%s expected tsc", cs_name[0] ? cs_name : "none",
	    harness_fail ? harness_why : "");
	tap(have_mailbox && raw_first_page >= 0,
	    "simulator saw the probe's mailbox and published the page",
	    "measured mailbox=%d first_page=%d expected both", have_mailbox,
	    raw_first_page >= 0);
	tap(have_end, "guest finished and powered off in time",
	    "measured no END line expected END");
	if (scn_vmm) {
		/* run-scenario's vmm.log, beside data.log: each move done */
		int done = 0, failed = 0;
		char path[4096];
		const char *sl = strrchr(data, '/');

		snprintf(path, sizeof(path), "%.*svmm.log",
			 sl ? (int)(sl - data + 1) : 0, data);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			done += !!strstr(line, ": done in ");
			failed += !!strstr(line, ": FAILED");
		}
		if (f)
			fclose(f);
		tap(vmm_announced == scn_vmm && vmm_resumed == scn_vmm &&
		    done == scn_vmm && !failed,
		    "the VMM moved the VM at each vmm event, the simulator followed",
		    "measured %d events, %d announced, %d done, %d failed, %d followed (%s) expected all",
		    scn_vmm, vmm_announced, done, failed, vmm_resumed, vmm_stops);
	}
	if (vmm_resumed)
		printf("# vmm: the guest counter stood still %s\n", vmm_stops);
	tap(!guest_fail, "guest commands exited 0",
	    "measured %d of %d failed, first: %s expected 0", guest_fail,
	    guest_cmds, guest_fail_cmd);

	/* Window: first guest command (or first page) to "duration over". */
	start_raw = raw_guest1 >= 0 ? raw_guest1 : raw_first_page;
	/*
	 * [T1, T2] windows are on the clock of the "at" events, the
	 * simulator's: the guest's first command follows its t=0 by ~45 ms
	 * on the stock kernel but 0.2-0.25 s on the debug one, which put a
	 * window ending 0.2 s before an event after it.
	 */
	ev_raw = raw_sim_t0 >= 0 ? raw_sim_t0 : start_raw;
	if (raw_sim_t0 < 0)
		printf("# analyzer: no \"PUBLISH first\" in %s: [T1, T2] windows timed from the first guest command\n",
		       simlog);
	w1 = nsmp;
	for (k = 0; k < nsmp; k++) {
		if (smp[k].raw < start_raw)
			w0 = k + 1;
		if (raw_duration_over >= 0 && smp[k].raw > raw_duration_over &&
		    w1 == nsmp)
			w1 = k;
	}
	if (w0 > w1)
		w0 = w1;
	nwin = w1 - w0;

	/* Convergence: earliest sample after which all |err| < threshold. */
	for (k = w1; k > w0; k--) {
		const struct sample *s = &smp[k - 1];

		if (s->valid && llabs(s->err) >= conv_thr)
			break;
	}
	if (k < w1) {
		size_t j, nv = 0;

		/* converged only if some valid sample shows it */
		for (j = k; j < w1; j++)
			nv += smp[j].valid;
		if (nv) {
			t_conv = smp[k].raw;
			converge_s = (t_conv - start_raw) * 1e-9;
		}
	}

	/* Steady window: after `settle`, else after convergence, else all. */
	ss = w0;
	for (k = w0; k < w1; k++) {
		int64_t from = settle >= 0 ? start_raw + (int64_t)(settle * 1e9) :
					     t_conv;

		if (from >= 0 && smp[k].raw < from)
			ss = k + 1;
	}
	absv = calloc(nwin + 1, sizeof(*absv));
	/*
	 * Host stalls: under TCG a vCPU the host does not run takes no
	 * timer interrupts, and the stock kernel's clock then runs a whole
	 * gap on one multiplier value (~150 ppb from the commanded rate:
	 * ~15 ns per 100 ms) whatever the discipline does. A gap between
	 * probe samples over 3 times their median spacing is such a stall;
	 * the samples from it to 0.5 s after it are left out of the steady
	 * figures (both sets are printed) if their |err| is what the stall
	 * can explain: 5 ns + 0.3 ns per ms of it (twice 150 ppb). Larger
	 * ones stay: a stall does not excuse a mis-steer. A window with more
	 * than 10% left out is too noisy to judge: its bars fail. The gap is
	 * seen from the guest, so a guest-side stall (interrupts off) is
	 * taken for a host one; the error bound above still holds it.
	 */
	n_stall = steady_stalls(ss, w1, &n_marked, &stall_max_ns);
	nvalid = steady_abs(ss, w1, 0, absv, &n_left_out);
	if (n_stall) {
		printf("# analyzer: %d host stall(s) in the steady window (longest %.0f ms): all %zu samples p50 %lld p99 %lld max %lld ns\n",
		       n_stall, stall_max_ns * 1e-6, nvalid,
		       (long long)pct(absv, nvalid, 50),
		       (long long)pct(absv, nvalid, 99),
		       (long long)(nvalid ? absv[nvalid - 1] : 0));
		nvalid = steady_abs(ss, w1, 1, absv, &n_left_out);
		printf("# analyzer: %zu of the %zu samples after them left out (|err| <= 5 ns + 0.3 ns/ms of the stall): p50 %lld p99 %lld max %lld ns\n",
		       n_left_out, n_marked, (long long)pct(absv, nvalid, 50),
		       (long long)pct(absv, nvalid, 99),
		       (long long)(nvalid ? absv[nvalid - 1] : 0));
		too_noisy = n_left_out * 10 > w1 - ss;
	}
	p50 = pct(absv, nvalid, 50);
	p99 = pct(absv, nvalid, 99);
	mx = nvalid ? absv[nvalid - 1] : 0;

	for (i = 0; i < nex; i++) {
		struct expect *e = &ex[i];
		char desc[160];

		if (!strcmp(e->kind, "converge_ns")) {
			snprintf(desc, sizeof(desc),
				 "|err| < %.0f ns from <= %.1f s on", e->a, e->b);
			if (converge_s >= 0)
				tap(converge_s <= e->b, desc,
				    "measured converge_s=%.3f expected <= %.1f",
				    converge_s, e->b);
			else
				tap(0, desc,
				    "measured converge_s=none expected <= %.1f",
				    e->b);
		} else if (!strcmp(e->kind, "p50_ns") ||
			   !strcmp(e->kind, "p99_ns") ||
			   !strcmp(e->kind, "max_ns")) {
			int64_t v = e->kind[1] == '5' ? p50 :
				    e->kind[1] == '9' ? p99 : mx;

			if (e->stock)
				snprintf(desc, sizeof(desc),
					 "steady %.31s <= %.0f (debug kernel; %.0f on the others) (%zu samples)",
					 e->kind, e->a, e->stock, nvalid);
			else
				snprintf(desc, sizeof(desc),
					 "steady %.31s <= %.0f (%zu samples)",
					 e->kind, e->a, nvalid);
			if (too_noisy)
				tap(0, desc,
				    "measured %zu of %zu samples after host stalls expected <= 10%% (too noisy to judge)",
				    n_left_out, w1 - ss);
			else
				tap(nvalid && v <= e->a, desc,
				    "measured %lld expected <= %.0f",
				    (long long)v, e->a);
		} else if (!strcmp(e->kind, "steps") ||
			   !strcmp(e->kind, "disruptions") ||
			   !strcmp(e->kind, "stat")) {
			const char *sn = e->kind;
			double want = e->a;
			const char *v;

			if (!strcmp(e->kind, "stat")) {	/* expect stat NAME N */
				sn = e->name;
				want = e->b;
			}
			v = stat_value(sn);
			if (!strcmp(e->kind, "stat")) {	/* compared as text */
				snprintf(desc, sizeof(desc), "VMC-STAT %.63s == %.63s",
					 sn, e->str);
				tap(v && !strcmp(v, e->str), desc,
				    "measured %s expected %s", v ? v : "absent",
				    e->str);
				continue;
			}
			snprintf(desc, sizeof(desc), "VMC-STAT %.63s == %.0f", sn, want);
			tap(v && atof(v) == want, desc, "measured %s expected %.0f",
			    v ? v : "absent", want);
		} else if (!strcmp(e->kind, "clock_steps")) {
			/* counted by the probe from the first guest command on */
			long cnt = 0;
			int64_t sum = 0;

			for (k = 0; k < njmp; k++) {
				if (jmp[k].raw < start_raw)
					continue;
				cnt += jmp[k].count;
				sum += jmp[k].sum_ns;
			}
			snprintf(desc, sizeof(desc),
				 "the probe saw %.0f step(s) of CLOCK_REALTIME", e->a);
			tap(cnt == e->a, desc,
			    "measured %ld (sum %lld ns) expected %.0f", cnt,
			    (long long)sum, e->a);
		} else if (!strcmp(e->kind, "ptp_agrees_ns")) {
			/* expect ptp_agrees_ns TOL: PTPX lines of console.log */
			long n = 0, bad = 0;
			double worst = 0;

			ptp_agree(data, e->a, &n, &bad, &worst);
			snprintf(desc, sizeof(desc),
				 "PTP_SYS_OFFSET_PRECISE agrees with the probe within %.0f ns (%ld pairs, max %.1f)",
				 e->a, n, worst);
			tap(n >= 100 && !bad, desc,
			    "measured %ld of %ld pairs beyond, max %.1f ns expected 0 of >= 100",
			    bad, n, worst);
		} else if (!strcmp(e->kind, "dmesg_clean")) {
			tap(dmesg_bad == 0 && !rmmod_bad && kmemleak <= 0 &&
			    !kmemleak_fail,
			    kmemleak < 0 ? "guest dmesg clean and modules unloaded" :
			    "guest dmesg clean, modules unloaded, kmemleak clean",
			    "measured dmesg_bad=%d rmmod_failures=%d kmemleak=%d%s expected 0",
			    dmesg_bad, rmmod_bad, kmemleak,
			    kmemleak_fail ? " (scan failed)" : "");
		} else if (!strcmp(e->kind, "err_within_ns")) {
			/* expect err_within_ns A B [T1 T2] */
			double lo = e->a, hi = e->b, t1 = -1e18, t2 = 1e18;
			int64_t worst = 0;
			long bad = 0, n = 0;

			if (e->n >= 4)
				t1 = e->c;
			if (e->n >= 5)
				t2 = e->d;
			for (k = w0; k < w1; k++) {
				double t = (smp[k].raw - ev_raw) * 1e-9;

				if (!smp[k].valid || t < t1 || t > t2)
					continue;
				n++;
				if (smp[k].err < lo || smp[k].err > hi) {
					if (!bad++)
						worst = smp[k].err;
					if (llabs(smp[k].err) > llabs(worst))
						worst = smp[k].err;
				}
			}
			snprintf(desc, sizeof(desc), "err within [%.0f, %.0f] ns",
				 lo, hi);
			tap(n && !bad, desc,
			    "measured %ld of %ld outside, worst %lld expected 0",
			    bad, n, (long long)worst);
		} else if (!strcmp(e->kind, "resync_ns")) {
			/*
			 * expect resync_ns X within S: from the first step of
			 * CLOCK_REALTIME the probe saw in the window (a resume's
			 * sleep time, someone's date -s), the time until every
			 * later valid sample has |err| < X
			 */
			int64_t t_step = -1, t_ok = -1;
			size_t j, first = w1, nok = 0;

			for (j = 0; j < njmp && t_step < 0; j++)
				if (jmp[j].raw >= start_raw)
					t_step = jmp[j].raw;
			/* from the last valid sample at or over X on */
			for (k = w0; t_step >= 0 && k < w1; k++) {
				if (smp[k].raw < t_step || !smp[k].valid)
					continue;
				if (first == w1)
					first = k;
				if (llabs(smp[k].err) >= e->a)
					first = k + 1;
			}
			/* ... the first valid one after it, and how many follow */
			for (k = first; t_step >= 0 && k < w1; k++) {
				if (!smp[k].valid)
					continue;
				if (t_ok < 0)
					t_ok = smp[k].raw;
				nok++;
			}
			snprintf(desc, sizeof(desc),
				 "|err| < %.0f ns within %.2f s of the first step the probe saw",
				 e->a, e->b);
			if (t_step < 0 || nok < 10)
				tap(0, desc, "measured %s expected <= %.2f s",
				    t_step < 0 ? "no step" :
				    "fewer than 10 valid samples under it", e->b);
			else
				printf("# resync: |err| < %.0f ns %.3f s after the step\n",
				       e->a, (t_ok - t_step) * 1e-9);
			if (t_step >= 0 && nok >= 10)
				tap(e->n >= 3 && (t_ok - t_step) * 1e-9 <= e->b,
				    desc, "measured %.3f s expected <= %.2f s",
				    (t_ok - t_step) * 1e-9, e->b);
		} else if (!strcmp(e->kind, "err_span_ns")) {
			/* expect err_span_ns X T1 T2: max(err) - min(err) <= X */
			int64_t lo = INT64_MAX, hi = INT64_MIN;
			long n = 0;

			for (k = w0; k < w1; k++) {
				double t = (smp[k].raw - ev_raw) * 1e-9;

				if (!smp[k].valid || t < e->b || t > e->c)
					continue;
				n++;
				if (smp[k].err < lo)
					lo = smp[k].err;
				if (smp[k].err > hi)
					hi = smp[k].err;
			}
			snprintf(desc, sizeof(desc),
				 "err moves by <= %.0f ns in [%.1f, %.1f] s", e->a,
				 e->b, e->c);
			tap(e->n >= 4 && n > 1 && hi - lo <= e->a, desc,
			    "measured span %lld ns (%lld..%lld, %ld samples) expected <= %.0f",
			    n ? (long long)(hi - lo) : -1LL, (long long)lo,
			    (long long)hi, n, e->a);
		} else if (!strcmp(e->kind, "follows_intent_ns")) {
			double dmax = 0, dsum = 0;
			long n = 0;

			for (k = w0; k < w1; k++) {
				double want, d;

				if (!smp[k].valid || !intended(&smp[k], &want))
					continue;
				d = smp[k].err - want;
				dsum += d;
				if (fabs(d) > fabs(dmax))
					dmax = d;
				n++;
			}
			snprintf(desc, sizeof(desc),
				 "err follows the intended line within %.0f ns (%ld samples, mean dev %.2f, max dev %.2f)",
				 e->a, n, n ? dsum / n : 0, dmax);
			tap(n && fabs(dmax) <= e->a, desc,
			    "measured max deviation %.2f ns expected <= %.0f",
			    dmax, e->a);
		} else if (!strcmp(e->kind, "bracket_contains_ns")) {
			/* probe err interpolated at each bracket's raw time */
			long n = 0, bad = 0;
			double worst = 0, wsum = 0;
			size_t j = 0;

			for (k = 0; k < nbrk; k++) {
				const struct brk *b = &brks[k];
				const struct sample *s0, *s1;
				double e0, miss;

				while (j + 1 < nsmp && smp[j + 1].raw <= b->raw)
					j++;
				if (j + 1 >= nsmp)
					break;
				s0 = &smp[j];
				s1 = &smp[j + 1];
				if (!s0->valid || !s1->valid || s0->raw > b->raw ||
				    s1->raw - s0->raw > 50000000 ||
				    s0->seq != s1->seq)	/* same page: same line */
					continue;
				e0 = s0->err + (double)(s1->err - s0->err) *
				     (b->raw - s0->raw) / (s1->raw - s0->raw);
				miss = e0 < b->lo ? b->lo - e0 :
				       e0 > b->hi ? e0 - b->hi : 0;
				n++;
				wsum += b->width;
				if (miss > e->a) {
					bad++;
					if (miss > worst)
						worst = miss;
				}
			}
			snprintf(desc, sizeof(desc),
				 "userspace bracket contains the probe's err +- %.0f ns (%ld brackets, mean width %.0f ns)",
				 e->a, n, n ? wsum / n : 0);
			tap(n && !bad, desc,
			    "measured %ld of %ld outside, worst miss %.0f ns expected 0",
			    bad, n, worst);
		} else if (!strcmp(e->kind, "min_samples")) {
			size_t nv = 0;

			for (k = w0; k < w1; k++)
				nv += smp[k].valid;
			snprintf(desc, sizeof(desc), "at least %.0f valid samples",
				 e->a);
			tap(nv >= e->a, desc, "measured %zu expected >= %.0f",
			    nv, e->a);
		} else if (!strcmp(e->kind, "nopage_min") ||
			   !strcmp(e->kind, "nopage_max")) {
			long np = 0;

			for (k = w0; k < w1; k++)
				np += !smp[k].valid;
			snprintf(desc, sizeof(desc), "nopage samples %s %.0f",
				 e->kind[7] == 'm' && e->kind[8] == 'i' ? ">=" : "<=",
				 e->a);
			tap(nwin && (e->kind[8] == 'i' ? np >= e->a : np <= e->a),
			    desc,
			    "measured %ld expected %s %.0f", np,
			    e->kind[8] == 'i' ? ">=" : "<=", e->a);
		} else {
			snprintf(desc, sizeof(desc), "known expectation %.31s",
				 e->kind);
			tap(0, desc, "measured unknown directive expected a documented one");
		}
	}
	tap(lost == 0, "probe lost no samples", "measured %ld lost expected 0",
	    lost);

	if (tap_n != nplan) {
		int ran = tap_n;

		tap(0, "checks run as planned", "measured %d expected %d", ran,
		    nplan);
	}
	{
		const char *st = stat_value("steps"), *di = stat_value("disruptions");
		char cs[32];

		if (converge_s >= 0)
			snprintf(cs, sizeof(cs), "%.3f", converge_s);
		else
			snprintf(cs, sizeof(cs), "none");
		printf("SUMMARY scenario=%s converge_s=%s p50_ns=%lld p99_ns=%lld"
		       " max_ns=%lld steps=%s disruptions=%s samples=%zu boot_s=%.2f\n",
		       name, cs, (long long)p50, (long long)p99, (long long)mx,
		       st ? st : "na", di ? di : "na", nwin, boot_s);
	}
	free(absv);
	return tap_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--live")) {
		live();
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "--final"))
		return final(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: vmclock-analyze --live < DATAPORT\n"
		"       vmclock-analyze --final SCENARIO DATAPORT SIMLOG NAME\n");
	return 2;
}
