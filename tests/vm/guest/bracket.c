// SPDX-License-Identifier: GPL-2.0
/*
 * bracket - userspace cross-check of vmclock_probe (runs in the test guest).
 *
 * Maps the vmclock page read-only through /dev/vmclock_probe and brackets
 * one TSC read between two CLOCK_REALTIME reads:
 *
 *	t1 = CLOCK_REALTIME; c = rdtsc; t2 = CLOCK_REALTIME
 *	lo = t1 - page(c), hi = t2 - page(c)			[ns]
 *
 * so the guest's error against the page at c lies in [lo, hi] (positive:
 * the guest clock is ahead). Own 128-bit arithmetic, no code shared with
 * the probe or the project.
 *
 *	bracket wait SECONDS	exit 0 once the page holds a valid TSC line
 *	bracket run RATE_HZ	print "B <mono_raw_ns> <lo_ns> <hi_ns> <width_ns>"
 *				RATE_HZ times per second (narrowest of 16 tries)
 */
#include <errno.h>
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

#define NSEC_PER_SEC	1000000000LL
#define TRIES		16

static volatile struct vmclock_abi *page;

static int64_t ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int page_valid(const struct vmclock_abi *p)
{
	return p->magic == VMCLOCK_MAGIC && p->size >= sizeof(*p) &&
	       p->version == VMCLOCK_VERSION &&
	       p->counter_id == VMCLOCK_COUNTER_X86_TSC &&
	       (p->time_type == VMCLOCK_TIME_UTC ||
		p->time_type == VMCLOCK_TIME_TAI) &&
	       p->counter_period_shift <= VMCLOCK_PERIOD_SHIFT_MAX &&
	       p->counter_period_frac_sec;
}

/* Page time at @c, ns since the UTC epoch, rounded to nearest. */
static int64_t page_ns(const struct vmclock_abi *p, uint64_t c)
{
	int64_t delta = (int64_t)(c - p->counter_value);
	__int128 t;
	int64_t sec;
	uint64_t nsec;

	t = ((__int128)delta * (__int128)p->counter_period_frac_sec) >>
	    p->counter_period_shift;
	t += (__int128)p->time_frac_sec;
	t += (__int128)p->time_sec << 64;
	sec = (int64_t)(t >> 64);
	nsec = (uint64_t)(((unsigned __int128)(uint64_t)t * NSEC_PER_SEC +
			   ((unsigned __int128)1 << 63)) >> 64);
	if (p->time_type == VMCLOCK_TIME_TAI)
		sec += (int16_t)p->tai_offset_sec;
	return sec * NSEC_PER_SEC + (int64_t)nsec;
}

/* One bracket; 0 on success, -1 if the page is invalid or busy. */
static int one(int64_t *raw, int64_t *lo, int64_t *hi)
{
	struct vmclock_abi copy;
	uint32_t s1, s2;
	int64_t t1, t2, pt;
	uint64_t c;

	s1 = page->seq_count;
	if (s1 & 1)
		return -1;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&copy, (const void *)page, sizeof(copy));
	*raw = ts_ns(CLOCK_MONOTONIC_RAW);
	t1 = ts_ns(CLOCK_REALTIME);
	_mm_lfence();
	c = __rdtsc();
	_mm_lfence();
	t2 = ts_ns(CLOCK_REALTIME);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s2 = page->seq_count;
	if (s1 != s2 || !page_valid(&copy))
		return -1;
	pt = page_ns(&copy, c);
	*lo = t1 - pt;
	*hi = t2 - pt;
	return 0;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 3 || (strcmp(argv[1], "wait") && strcmp(argv[1], "run"))) {
		fprintf(stderr, "usage: bracket wait SECONDS | run RATE_HZ\n");
		return 2;
	}
	fd = open("/dev/vmclock_probe", O_RDONLY);
	if (fd < 0) {
		perror("bracket: /dev/vmclock_probe");
		return 1;
	}
	page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		perror("bracket: mmap");
		return 1;
	}

	if (!strcmp(argv[1], "wait")) {
		int64_t end = ts_ns(CLOCK_MONOTONIC) +
			      atoll(argv[2]) * NSEC_PER_SEC;
		struct vmclock_abi copy;

		while (ts_ns(CLOCK_MONOTONIC) < end) {
			uint32_t s = page->seq_count;

			memcpy(&copy, (const void *)page, sizeof(copy));
			if (s && !(s & 1) && copy.magic == VMCLOCK_MAGIC)
				return 0;
			usleep(10000);
		}
		fprintf(stderr, "bracket: no vmclock page within %s s\n", argv[2]);
		return 1;
	}

	{
		long rate = atol(argv[2]);
		useconds_t gap = rate > 0 ? 1000000 / rate : 250000;

		for (;;) {
			int64_t raw = 0, lo = 0, hi = 0, braw = 0, blo = 0, bhi = 0;
			int64_t best = INT64_MAX;
			char line[128];
			int i, n;

			for (i = 0; i < TRIES; i++) {
				if (one(&raw, &lo, &hi))
					continue;
				if (hi - lo < best) {
					best = hi - lo;
					braw = raw;
					blo = lo;
					bhi = hi;
				}
			}
			if (best != INT64_MAX) {
				n = snprintf(line, sizeof(line),
					     "B %lld %lld %lld %lld\n",
					     (long long)braw, (long long)blo,
					     (long long)bhi, (long long)best);
				/* one write per line: no interleaving */
				if (write(1, line, n) < 0 && errno != EINTR)
					return 1;
			}
			usleep(gap);
		}
	}
	return 0;
}
