// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: arbitrary inputs to the division, period and time
 * helpers of lib/vmclock_math.c.
 *
 *  - vmc_div128 equals __int128 division (or ~0 with rem 0 on overflow);
 *  - period encodings are normalised (frac >= 2^63, shift <= 63), exactly
 *    rounded (from_hz) or within 2^-60 (from_scaled_ns, checked in long
 *    double), and vmc_period_to_hz comes back within one Hz;
 *  - span is monotonic in ticks; diff_ppb16 of a period with itself is 0
 *    and agrees with long double; ns <-> frac round-trips;
 *  - ts_diff_ns is antisymmetric up to rounding.
 *
 * Input: a packed record of little-endian fields, zero-filled when short.
 * Built with -DVMC_SEED_GEN it writes a seed corpus into DIR instead.
 */
#include <endian.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmclock_math.h"

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
			__FILE__, __LINE__, #x);			\
		abort();						\
	}								\
} while (0)

typedef unsigned __int128 u128;

struct rec {
	__u64 n_hi, n_lo, d;
	__u64 hz;
	__u64 ns, ticks;
	__u64 frac_a, frac_b, t1, t2;
	__u64 sec_a, fr_a, sec_b, fr_b;
	__u8 ns_shift, shift_a, shift_b, frac_bits;
	__u32 nsec;
} __attribute__((packed));

static void check(const struct rec *r)
{
	u128 n = ((u128)r->n_hi << 64) | r->n_lo;
	struct vmc_period p, a, b;
	__u64 q, rem = 1, back;
	struct vmc_ts ta, tb;
	__s64 dab, dba;
	int ret;

	/* division */
	q = vmc_div128(n, r->d, &rem);
	if (!r->d || r->n_hi >= r->d) {
		CHECK(q == ~0ULL && rem == 0);
	} else {
		CHECK(q == (__u64)(n / r->d));
		CHECK(rem == (__u64)(n % r->d));
	}

	/* period from Hz: |frac * hz - 2^(64 + shift)| <= hz / 2 */
	ret = vmc_period_from_hz(r->hz, &p);
	if (r->hz < 2) {
		CHECK(ret == -1);
	} else {
		u128 one, prod, err;

		CHECK(ret == 0 && p.frac >> 63 && p.shift <= 63);
		one = (u128)1 << (64 + p.shift);
		prod = (u128)p.frac * r->hz;
		err = prod > one ? prod - one : one - prod;
		CHECK(2 * err <= r->hz);
		back = vmc_period_to_hz(&p);
		/* 0: beyond 2^64 - 1 Hz after rounding */
		CHECK(back ? (u128)back + 1 >= r->hz &&
		      (u128)back <= (u128)r->hz + 1 : r->hz >= ~0ULL - 1);
	}

	/* period from scaled ns */
	ret = vmc_period_from_scaled_ns(r->ns, r->ns_shift % 80, r->ticks, &p);
	if (!ret) {
		long double exact = ldexpl((long double)r->ns,
					   -(int)(r->ns_shift % 80)) /
				    (1e9L * r->ticks);
		long double got = ldexpl((long double)p.frac, -64 - p.shift);

		CHECK(p.frac >> 63 && p.shift <= 63);
		CHECK(fabsl(got / exact - 1) <= 0x1p-60L);
	} else {
		CHECK(ret == -1);
	}

	/* span: monotonic in ticks, never UB */
	a.frac = r->frac_a;
	a.shift = r->shift_a;
	b.frac = r->frac_b;
	b.shift = r->shift_b;
	{
		__u64 lo = r->t1 < r->t2 ? r->t1 : r->t2;
		__u64 hi = r->t1 < r->t2 ? r->t2 : r->t1;
		unsigned int fb = r->frac_bits % 33;

		CHECK(vmc_period_span(&a, lo, fb) <= vmc_period_span(&a, hi, fb));
	}
	(void)vmc_period_to_hz(&a);
	(void)vmc_period_ff_ppb16(&a, r->t1);

	/* rate difference */
	if (a.frac)
		CHECK(vmc_period_diff_ppb16(&a, &a) == 0);
	if (a.frac && b.frac && a.shift < 64 && b.shift < 64) {
		__s64 got = vmc_period_diff_ppb16(&a, &b);
		long double want = (ldexpl((long double)a.frac, b.shift - a.shift) /
				    b.frac - 1) * 1e9L * 65536;
		long double err;

		if (want > 0x1p62L)
			want = 0x1p62L;
		err = fabsl((long double)got - want);
		CHECK(err <= 2 + fabsl(want) * 0x1p-44L ||
		      (want > 4.29e18L && got == 1LL << 62));
	}

	/* ns <-> frac */
	CHECK(vmc_frac_to_ns(vmc_ns_to_frac(r->nsec % 1000000000)) ==
	      r->nsec % 1000000000);
	CHECK(vmc_frac_to_ns(r->fr_a) <= 1000000000);

	/* time differences */
	ta.sec = (__s64)r->sec_a;
	ta.frac = r->fr_a;
	tb.sec = (__s64)r->sec_b;
	tb.frac = r->fr_b;
	dab = vmc_ts_diff_ns(ta, tb);
	dba = vmc_ts_diff_ns(tb, ta);
	if (dab != INT64_MAX && dab != INT64_MIN &&
	    dba != INT64_MAX && dba != INT64_MIN)
		CHECK(dab + dba >= -1 && dab + dba <= 1);
	(void)vmc_ts_to_ns(ta);
}

#ifndef VMC_SEED_GEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec r;

	memset(&r, 0, sizeof(r));
	memcpy(&r, data, size < sizeof(r) ? size : sizeof(r));
	check(&r);
	return 0;
}

#else /* seed corpus generator */

int main(int argc, char **argv)
{
	static const struct rec seeds[] = {
		{ .n_hi = 5, .n_lo = 7, .d = 1000000000, .hz = 1000000000,
		  .ns = 1, .ticks = 1, .frac_a = 0x89705F4136B4A597ULL,
		  .shift_a = 29, .frac_b = 0xd371cd9f67dad75fULL,
		  .shift_b = 31, .t1 = 1000000000, .t2 = 2600000000ULL,
		  .sec_a = 1783000000, .fr_a = 1ULL << 63,
		  .sec_b = 1783000001, .frac_bits = 16, .nsec = 999999999 },
		{ .n_hi = ~0ULL - 1, .n_lo = ~0ULL, .d = ~0ULL, .hz = ~0ULL,
		  .ns = 6451, .ns_shift = 14, .ticks = 1,
		  .frac_a = 1ULL << 63, .shift_a = 63, .frac_b = 1,
		  .t1 = ~0ULL, .frac_bits = 32,
		  .sec_a = 9223372036ULL, .sec_b = (__u64)-9223372036LL },
		{ .hz = 24000000, .ns = 1000000000ULL << 32, .ns_shift = 32,
		  .ticks = 24000000, .frac_a = 0xb2f4fc0794908cf2ULL,
		  .shift_a = 24, .frac_b = 0xb2f4fc0794908cf0ULL,
		  .shift_b = 24, .t1 = 24000000 },
	};
	unsigned int i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		FILE *f;

		check(&seeds[i]);	/* a seed must pass the invariants */
		snprintf(path, sizeof(path), "%s/seed-%02u", argv[1], i);
		f = fopen(path, "wb");
		if (!f || fwrite(&seeds[i], sizeof(seeds[i]), 1, f) != 1 ||
		    fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}

#endif
