// SPDX-License-Identifier: GPL-2.0
/*
 * bench-read - cost of reading the time from the vmclock page in userspace
 * (mmap, seq protocol, rdtsc, 128-bit math) against clock_gettime().
 *
 * Usage: bench-read [-n CALLS] [PAGE]
 *   PAGE: /dev/vmclock0 (default), any file holding a page at offset 0, or
 *         "synthetic": a page built here from this CPU's TSC (for a run on
 *         the host, outside any VM)
 * Prints one "READ <what> <ns per call> ns/call n=<calls>" line per method:
 *   page       seq read + rdtsc + 128-bit conversion to UTC ns
 *   realtime   clock_gettime(CLOCK_REALTIME) (vDSO)
 *   rdtsc      rdtsc alone
 * and "READ check page-realtime=<ns>" (one read of each, for sanity).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "../../../include/vmclock_abi.h"

#define NSEC_PER_SEC	1000000000ULL

static uint64_t sink;	/* keeps the timed loops */

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* UTC ns from the page; 0 if the page carries no usable time. */
static uint64_t page_read_ns(const struct vmclock_abi *p)
{
	uint32_t seq;
	uint64_t ns;

	do {
		int64_t delta;
		__int128 t;

		seq = __atomic_load_n(&p->seq_count, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		if (p->counter_id != VMCLOCK_COUNTER_X86_TSC ||
		    p->counter_period_shift > VMCLOCK_PERIOD_SHIFT_MAX)
			return 0;
		delta = (int64_t)(__rdtsc() - p->counter_value);
		t = ((__int128)delta * p->counter_period_frac_sec) >>
		    p->counter_period_shift;
		t += p->time_frac_sec;
		ns = p->time_sec * NSEC_PER_SEC +
		     (uint64_t)((__int128)(t * NSEC_PER_SEC) >> 64);
		if (p->time_type == VMCLOCK_TIME_TAI)
			ns += (int64_t)(int16_t)p->tai_offset_sec * NSEC_PER_SEC;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((seq & 1) ||
		 __atomic_load_n(&p->seq_count, __ATOMIC_RELAXED) != seq);
	return ns;
}

/* A page describing this CPU's TSC against CLOCK_REALTIME. */
static void synthetic(struct vmclock_abi *p)
{
	int64_t r0 = now_ns(CLOCK_MONOTONIC_RAW), r1;
	uint64_t c0 = __rdtsc(), c1, rt;
	double hz;
	int s = 0;

	usleep(200000);
	r1 = now_ns(CLOCK_MONOTONIC_RAW);
	c1 = __rdtsc();
	rt = now_ns(CLOCK_REALTIME);
	hz = (double)(c1 - c0) * 1e9 / (double)(r1 - r0);
	while (hz >= 2.0) {
		hz /= 2;
		s++;
	}
	memset(p, 0, sizeof(*p));
	p->magic = VMCLOCK_MAGIC;
	p->size = 4096;
	p->version = VMCLOCK_VERSION;
	p->counter_id = VMCLOCK_COUNTER_X86_TSC;
	p->time_type = VMCLOCK_TIME_UTC;
	p->seq_count = 2;
	p->clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	p->counter_period_shift = s;
	/* 2^(64+s) / f = 2^64 / hz, hz in [1, 2) */
	p->counter_period_frac_sec = (uint64_t)(18446744073709551616.0 / hz);
	p->counter_value = c1;
	p->time_sec = rt / NSEC_PER_SEC;
	p->time_frac_sec = (uint64_t)(((__uint128_t)(rt % NSEC_PER_SEC) << 64) /
				      NSEC_PER_SEC);
}

/* page - realtime, from the tightest of 1000 realtime/page/realtime brackets */
static void page_check(const struct vmclock_abi *p)
{
	int64_t best = INT64_MAX, off = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		int64_t t1 = now_ns(CLOCK_REALTIME);
		int64_t pg = (int64_t)page_read_ns(p);
		int64_t t2 = now_ns(CLOCK_REALTIME);

		if (t2 - t1 < best) {
			best = t2 - t1;
			off = pg - t1 - (t2 - t1) / 2;
		}
	}
	printf("READ check page-realtime=%lld ns (+-%lld)\n", (long long)off,
	       (long long)(best / 2));
}

static double per_call(int64_t t0, long n)
{
	return (double)(now_ns(CLOCK_MONOTONIC) - t0) / n;
}

int main(int argc, char **argv)
{
	const char *path = "/dev/vmclock0";
	static struct vmclock_abi synth;
	const struct vmclock_abi *p;
	long i, n = 1000000;
	int64_t t0;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n') {
			fprintf(stderr, "usage: bench-read [-n CALLS] [PAGE|synthetic]\n");
			return 2;
		}
		n = atol(optarg);
	}
	if (n < 1)
		n = 1;
	if (optind < argc)
		path = argv[optind];
	if (!strcmp(path, "synthetic")) {
		synthetic(&synth);
		p = &synth;
	} else {
		int fd = open(path, O_RDONLY);
		void *m;

		if (fd < 0) {
			perror(path);
			return 1;
		}
		m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (m == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		p = m;
	}
	if (p->magic != VMCLOCK_MAGIC || !page_read_ns(p)) {
		fprintf(stderr, "bench-read: %s: no usable time on the page\n", path);
		return 1;
	}
	/* warm up: under TCG the first calls translate the code (~100 us) */
	for (i = 0; i < 1000; i++)
		sink += page_read_ns(p) + now_ns(CLOCK_REALTIME);
	page_check(p);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++)
		sink += page_read_ns(p);
	printf("READ page %.1f ns/call n=%ld\n", per_call(t0, n), n);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++)
		sink += now_ns(CLOCK_REALTIME);
	printf("READ realtime %.1f ns/call n=%ld\n", per_call(t0, n), n);

	t0 = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++)
		sink += __rdtsc();
	printf("READ rdtsc %.1f ns/call n=%ld\n", per_call(t0, n), n);
	return sink == 1;	/* uses sink: the loops cannot be dropped */
}
