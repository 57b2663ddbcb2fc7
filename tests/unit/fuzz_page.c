// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: arbitrary bytes as a vmclock page.
 *
 * Input: le32 region size, u8 CPU counter_id, three le64 counter values,
 * then the page (zero-filled up to sizeof(struct vmclock_abi)).
 *
 * Every page goes through vmc_page_validate(); one that validates is
 * decoded and its time, ns and error bound computed at the counters,
 * with these invariants: the verdict is in range and has a text, time at
 * counter_value is the page's time, time is monotonic in the counter
 * around counter_value (and equals an exact signed 128-bit reference),
 * ns are monotonic with it, and the error bound never shrinks as the
 * counter moves away from counter_value.
 *
 * Built with -DVMC_SEED_GEN it is instead a program writing a seed corpus
 * into the directory named by its argument.
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmclock_math.h"

#define HDR	(4 + 1 + 3 * 8)

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
			__FILE__, __LINE__, #x);			\
		abort();						\
	}								\
} while (0)

typedef __int128 s128;
typedef unsigned __int128 u128;

static __u64 get_le64(const uint8_t *p)
{
	__u64 v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* exact: time_sec * 2^64 + time_frac + floor((c - cv) * frac / 2^shift) */
static s128 ref_time(const struct vmc_line *l, __u64 c)
{
	__s64 d = (__s64)(c - l->counter_value);
	s128 q = ((s128)d * (s128)l->period.frac) >> l->period.shift;

	return (s128)((u128)(__u64)l->time.sec << 64) + l->time.frac + q;
}

static s128 ts128(struct vmc_ts t)
{
	return (s128)((u128)(__u64)t.sec << 64) + t.frac;
}

static __u64 absd(__u64 c, __u64 cv)
{
	__s64 d = (__s64)(c - cv);

	return d < 0 ? -(__u64)d : (__u64)d;
}

static void check_valid(const struct vmclock_abi *page, const __u64 *cs)
{
	struct vmc_line l;
	struct vmc_ts t0, t[3];
	__s64 ns[3];
	__u64 me[3], me0, c[3];
	__u64 maxerr = le64toh(page->time_maxerror_nanosec);
	__u64 rate = le64toh(page->counter_period_maxerror_rate_frac_sec);
	int i, j;
	int sane;

	vmc_page_line(page, &l);
	/* no wrap of the seconds: period < 2^-19 s, |delta| < 2^63 */
	sane = l.time.sec > -(1LL << 61) && l.time.sec < (1LL << 61);

	t0 = vmc_line_time_at(&l, l.counter_value);
	CHECK(t0.sec == l.time.sec && t0.frac == l.time.frac);
	me0 = vmc_maxerror_ns_at(&l, maxerr, rate, l.counter_value);
	CHECK(me0 >= maxerr);
	(void)vmc_ts_to_ns(t0);

	for (i = 0; i < 3; i++) {
		/* counters near counter_value, as a guest would read them */
		c[i] = l.counter_value + (__u64)((__s64)cs[i] >> (i * 20));
		t[i] = vmc_line_time_at(&l, c[i]);
		if (sane)
			CHECK(ts128(t[i]) == ref_time(&l, c[i]));
		ns[i] = vmc_ts_to_ns(t[i]);
		me[i] = vmc_maxerror_ns_at(&l, maxerr, rate, c[i]);
		CHECK(me[i] >= me0);
		CHECK(vmc_maxerror_ns_at(&l, maxerr, rate,
					 2 * l.counter_value - c[i]) == me[i]);
	}
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			__s64 di = (__s64)(c[i] - l.counter_value);
			__s64 dj = (__s64)(c[j] - l.counter_value);

			if (di > dj)
				continue;
			if (sane) {
				CHECK(ts128(t[i]) <= ts128(t[j]));
				CHECK(ns[i] <= ns[j]);
			}
			if (absd(c[i], l.counter_value) <=
			    absd(c[j], l.counter_value))
				CHECK(me[i] <= me[j]);
		}
	}
}

static enum vmc_page_verdict run_one(const uint8_t *data, size_t size)
{
	struct vmclock_abi page;
	enum vmc_page_verdict v;
	__u32 region;
	__u64 cs[3];
	__u8 cpu;
	const char *s;
	int i;

	if (size < HDR)
		return VMC_PAGE_VERDICT_MAX;
	memcpy(&region, data, 4);
	region = le32toh(region);
	cpu = data[4];
	for (i = 0; i < 3; i++)
		cs[i] = get_le64(data + 5 + 8 * i);
	memset(&page, 0, sizeof(page));
	memcpy(&page, data + HDR, size - HDR < sizeof(page) ?
	       size - HDR : sizeof(page));

	v = vmc_page_validate(&page, region, cpu);
	CHECK((unsigned int)v < VMC_PAGE_VERDICT_MAX);
	CHECK(vmc_page_validate(&page, region, cpu) == v);	/* pure */
	s = vmc_page_verdict_str(v);
	CHECK(s && *s);
	CHECK(vmc_page_verdict_str((enum vmc_page_verdict)data[4]));

	if (v == VMC_PAGE_OK) {
		CHECK(le32toh(page.magic) == VMCLOCK_MAGIC);
		CHECK(le32toh(page.size) <= region);
		CHECK(page.counter_id == cpu);
		CHECK(page.counter_period_shift <= VMCLOCK_PERIOD_SHIFT_MAX);
		CHECK(page.counter_period_frac_sec != 0);
		check_valid(&page, cs);
	}
	return v;
}

#ifndef VMC_SEED_GEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_one(data, size);
	return 0;
}

#else /* seed corpus generator */

static void good(struct vmclock_abi *p, __u8 cid, __u64 hz)
{
	struct vmc_period per = { 0, 0 };

	vmc_period_from_hz(hz, &per);
	memset(p, 0, sizeof(*p));
	p->magic = htole32(VMCLOCK_MAGIC);
	p->size = htole32(sizeof(*p));
	p->version = htole16(VMCLOCK_VERSION);
	p->counter_id = cid;
	p->seq_count = htole32(2);
	p->flags = htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID |
			   VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			   VMCLOCK_FLAG_PERIOD_MAXERROR_VALID);
	p->clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	p->tai_offset_sec = htole16((__u16)-37);
	p->counter_period_shift = per.shift;
	p->counter_period_frac_sec = htole64(per.frac);
	p->counter_period_maxerror_rate_frac_sec = htole64(per.frac >> 20);
	p->counter_value = htole64(0x123456789abcULL);
	p->time_sec = htole64(1783000000);
	p->time_frac_sec = htole64(0xfffffffff0000000ULL);
	p->time_maxerror_nanosec = htole64(1000);
}

static int n_out;

static void emit(const char *dir, __u32 region, __u8 cpu,
		 const struct vmclock_abi *p, size_t len)
{
	uint8_t buf[HDR + sizeof(*p)];
	__u64 cs[3] = { 1000000, (__u64)-1000, 1ULL << 62 };
	char path[4096];
	FILE *f;
	int i;

	region = htole32(region);
	memcpy(buf, &region, 4);
	buf[4] = cpu;
	for (i = 0; i < 3; i++) {
		__u64 v = htole64(cs[i]);

		memcpy(buf + 5 + 8 * i, &v, 8);
	}
	memcpy(buf + HDR, p, len);
	snprintf(path, sizeof(path), "%s/seed-%02d", dir, n_out++);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, HDR + len, f) != HDR + len || fclose(f)) {
		perror(path);
		exit(1);
	}
	printf("%s: %s\n", path, vmc_page_verdict_str(run_one(buf, HDR + len)));
}

int main(int argc, char **argv)
{
	struct vmclock_abi p;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1000000000);
	emit(argv[1], 4096, 1, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_X86_TSC, 2600000000ULL);
	emit(argv[1], 4096, 1, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_ARM_VCNT, 24000000);
	emit(argv[1], 4096, 0, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1000000000);
	p.counter_id = VMCLOCK_COUNTER_INVALID;		/* QEMU's page */
	emit(argv[1], 4096, 1, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1000000000);
	p.size = htole32(0x68);				/* no vm_gen field */
	emit(argv[1], 4096, 1, &p, 0x68);
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1000000000);
	p.leap_indicator = 6;				/* picosecond era */
	emit(argv[1], 4096, 1, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1000000000);
	p.tai_offset_sec = htole16(37);			/* spec sign */
	emit(argv[1], 4096, 1, &p, sizeof(p));
	good(&p, VMCLOCK_COUNTER_X86_TSC, 1ULL << 38);	/* fastest */
	p.time_sec = htole64((__u64)-5);
	emit(argv[1], 4096, 1, &p, sizeof(p));
	return 0;
}

#endif
