// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the arithmetic in lib/vmclock_math.c: tables of answers
 * verified by hand (and with exact integer arithmetic in bc/python), then
 * seeded random cases against reference implementations written here
 * with different means (signed __int128, a 256-bit integer, long double).
 *
 *   test_math [--seed N|--seed random] [--cases N]
 */
#include <inttypes.h>
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
#define PLAN	22

typedef unsigned __int128 u128;
typedef __int128 s128;

#define S64_MAX	INT64_MAX
#define S64_MIN	INT64_MIN
#define MAX_DIAG 5	/* mismatches printed per random check */

/* TAP ------------------------------------------------------------------- */

static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static const char *u128_str(u128 x, char *buf)
{
	char tmp[48];
	int i = 0, j = 0;

	do {
		tmp[i++] = '0' + (int)(x % 10);
		x /= 10;
	} while (x);
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = 0;
	return buf;
}

/* Seeded generator (splitmix64) ---------------------------------------- */

static __u64 rng_state;

static __u64 rnd(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A random value of random bit length 0..bits: covers small and large. */
static __u64 rnd_len(unsigned int bits)
{
	unsigned int n = rnd() % (bits + 1);

	return n ? rnd() >> (64 - n) : 0;
}

static __u64 rnd_range(__u64 lo, __u64 hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/* 256-bit unsigned integers, four 64-bit limbs, least significant first */

struct big {
	__u64 w[4];
};

static struct big big_u128(u128 x)
{
	struct big b = { { (__u64)x, (__u64)(x >> 64), 0, 0 } };

	return b;
}

static struct big big_mul64(struct big a, __u64 m)
{
	struct big r;
	u128 carry = 0;
	int i;

	for (i = 0; i < 4; i++) {
		u128 t = (u128)a.w[i] * m + carry;

		r.w[i] = (__u64)t;
		carry = t >> 64;
	}
	if (carry)
		abort();	/* the tests never need more than 256 bits */
	return r;
}

static struct big big_shl(struct big a, unsigned int n)
{
	unsigned int ws = n / 64, bs = n % 64, i, j;
	struct big r = { { 0 } };

	for (i = 0; i < 4; i++) {
		__u64 hi;

		if (!a.w[i])
			continue;
		j = i + ws;
		hi = bs ? a.w[i] >> (64 - bs) : 0;
		if (j >= 4 || (hi && j + 1 >= 4))
			abort();	/* never more than 256 bits */
		r.w[j] |= a.w[i] << bs;
		if (hi)
			r.w[j + 1] |= hi;
	}
	return r;
}

static struct big big_shr(struct big a, unsigned int n)
{
	int ws = n / 64, bs = n % 64, i, j;
	struct big r = { { 0 } };

	for (i = 0; i < 4; i++) {
		j = i - ws;
		if (j >= 0)
			r.w[j] |= a.w[i] >> bs;
		if (bs && j >= 1)
			r.w[j - 1] |= a.w[i] << (64 - bs);
	}
	return r;
}

static int big_cmp(struct big a, struct big b)
{
	int i;

	for (i = 3; i >= 0; i--)
		if (a.w[i] != b.w[i])
			return a.w[i] < b.w[i] ? -1 : 1;
	return 0;
}

/* a - b for a >= b */
static struct big big_sub(struct big a, struct big b)
{
	struct big r;
	int i, borrow = 0;

	for (i = 0; i < 4; i++) {
		__u64 t = a.w[i] - b.w[i] - borrow;

		borrow = a.w[i] < b.w[i] || (a.w[i] == b.w[i] && borrow);
		r.w[i] = t;
	}
	return r;
}

static struct big big_absdiff(struct big a, struct big b)
{
	return big_cmp(a, b) >= 0 ? big_sub(a, b) : big_sub(b, a);
}

static int big_fits64(struct big a)
{
	return !a.w[1] && !a.w[2] && !a.w[3];
}

/* Tables ---------------------------------------------------------------- */

static int ncases = 100000;

static void test_table_period_from_hz(void)
{
	/* frac = round(2^(64 + shift) / hz), computed with exact integers */
	static const struct {
		__u64 hz;
		int ret;
		unsigned int shift;
		__u64 frac;
	} t[] = {
		{ 1000000000, 0, 29, 0x89705F4136B4A597ULL },	/* the spec */
		{ 2600000000ULL, 0, 31, 0xd371cd9f67dad75fULL }, /* a TSC */
		{ 24000000, 0, 24, 0xb2f4fc0794908cf2ULL },	/* Arm */
		{ 19200000, 0, 24, 0xdfb23b0979b4b02fULL },	/* RPi Arm */
		{ 100000000, 0, 26, 0xabcc77118461cefdULL },	/* HPET */
		{ 3, 0, 1, 0xaaaaaaaaaaaaaaabULL },
		{ 2, 0, 0, 0x8000000000000000ULL },
		/* 2^64 / 2^30 does not fit 64 bits: one shift less */
		{ 1ULL << 30, 0, 29, 0x8000000000000000ULL },
		{ ~0ULL, 0, 63, 0x8000000000000001ULL },
		{ 1, -1, 0, 0 },
		{ 0, -1, 0, 0 },
	};
	unsigned int i;
	int bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vmc_period p = { 0, 0 };
		int ret = vmc_period_from_hz(t[i].hz, &p);

		if (ret != t[i].ret || (!ret && (p.shift != t[i].shift ||
						  p.frac != t[i].frac))) {
			diag("hz %llu: ret %d shift %u frac 0x%016llx"
			     ", expected ret %d shift %u frac 0x%016llx",
			     t[i].hz, ret, p.shift, p.frac, t[i].ret,
			     t[i].shift, t[i].frac);
			bad++;
		}
	}
	tap(!bad, "period_from_hz: table of %zu frequencies",
	    sizeof(t) / sizeof(t[0]));
}

static void test_table_period_other(void)
{
	struct vmc_period p, q;
	int bad = 0;

	/* 1 ns per tick, said three ways, must encode identically */
	if (vmc_period_from_scaled_ns(1, 0, 1, &p) || p.shift != 29 ||
	    p.frac != 0x89705F4136B4A597ULL) {
		diag("scaled_ns(1, 0, 1): shift %u frac 0x%016llx", p.shift,
		     p.frac);
		bad++;
	}
	if (vmc_period_from_scaled_ns(1000000000ULL << 8, 8, 1000000000, &q) ||
	    q.shift != p.shift || q.frac != p.frac) {
		diag("scaled_ns(1e9 << 8, 8, 1e9): shift %u frac 0x%016llx",
		     q.shift, q.frac);
		bad++;
	}
	/* a kernel mult/shift for 2.6 GHz: 6451 * 2^-14 ns per tick */
	if (vmc_period_from_scaled_ns(6451, 14, 1, &p) || p.shift != 31 ||
	    p.frac != 0xd875ab058558a28cULL) {
		diag("scaled_ns(6451, 14, 1): shift %u frac 0x%016llx",
		     p.shift, p.frac);
		bad++;
	}
	if (vmc_period_from_scaled_ns(0, 0, 1, &p) != -1 ||
	    vmc_period_from_scaled_ns(1, 0, 0, &p) != -1 ||
	    vmc_period_from_scaled_ns(1, 0, ~0ULL, &p) != -1) {
		diag("scaled_ns of zero ns or ticks or a huge ticks not refused");
		bad++;
	}
	/* a period of 2^64 ns per tick needs a negative shift */
	if (vmc_period_from_scaled_ns(~0ULL, 0, 1, &p) != -1) {
		diag("scaled_ns(2^64 - 1 ns): not refused, shift %u", p.shift);
		bad++;
	}
	tap(!bad, "period_from_scaled_ns: hand-checked encodings and refusals");

	bad = 0;
	p.shift = 29;
	p.frac = 0x89705F4136B4A597ULL;
	if (vmc_period_to_hz(&p) != 1000000000) {
		diag("to_hz(1 GHz) = %llu", vmc_period_to_hz(&p));
		bad++;
	}
	p.shift = 0;
	p.frac = 1ULL << 63;
	if (vmc_period_to_hz(&p) != 2) {
		diag("to_hz(0.5 s) = %llu", vmc_period_to_hz(&p));
		bad++;
	}
	p.frac = 0;
	if (vmc_period_to_hz(&p) != 0) {
		diag("to_hz(0) = %llu", vmc_period_to_hz(&p));
		bad++;
	}
	p.shift = 64;
	p.frac = 1ULL << 63;
	if (vmc_period_to_hz(&p) != 0) {
		diag("to_hz(shift 64) = %llu", vmc_period_to_hz(&p));
		bad++;
	}
	tap(!bad, "period_to_hz: 1 GHz, 2 Hz, zero, shift out of range");

	/* span of 1e9 ticks at 1 GHz: (2^93 - 192993792) / 2^29 ns/2^-64 */
	bad = 0;
	p.shift = 29;
	p.frac = 0x89705F4136B4A597ULL;
	if (vmc_period_span(&p, 1000000000, 0) != 999999999 ||
	    vmc_period_span(&p, 1000000000, 16) != (1000000000ULL << 16) - 1 ||
	    vmc_period_span(&p, 0, 32) != 0 ||
	    vmc_period_span(&p, ~0ULL, 32) != ~0ULL ||
	    vmc_period_span(&p, 1ULL << 40, 0) != (1ULL << 40) - 1) {
		diag("span(1 GHz): 1e9 -> %llu, 1e9 @16 -> %llu"
		     ", 2^64-1 @32 -> %llu, 2^40 -> %llu",
		     vmc_period_span(&p, 1000000000, 0),
		     vmc_period_span(&p, 1000000000, 16),
		     vmc_period_span(&p, ~0ULL, 32),
		     vmc_period_span(&p, 1ULL << 40, 0));
		bad++;
	}
	tap(!bad, "period_span: 1 GHz truncates just below whole ns, saturates");

	/* ff: the 1 GHz encoding is 0.36 * 2^-64 s short per second */
	bad = 0;
	if (vmc_period_ff_ppb16(&p, 1000000000) != -1) {
		diag("ff(1 GHz, 1e9) = %lld, expected -1",
		     vmc_period_ff_ppb16(&p, 1000000000));
		bad++;
	}
	vmc_period_from_hz(1000050000, &q);	/* 50 ppm faster counter */
	/* 1e9 ticks of q last 1e9 / 1.00005 ns: -49.9975 ppm */
	if (llabs(vmc_period_ff_ppb16(&q, 1000000000) +
		  (__s64)(49997.50012499375 * 65536)) > 1) {
		diag("ff(1.00005 GHz, 1e9) = %lld, expected %.1f",
		     vmc_period_ff_ppb16(&q, 1000000000),
		     -49997.50012499375 * 65536);
		bad++;
	}
	/* diff: a 1 GHz tick against a 1.00005 GHz tick: +50 ppm exactly */
	if (llabs(vmc_period_diff_ppb16(&p, &q) - 50000LL * 65536) > 1 ||
	    vmc_period_diff_ppb16(&p, &p) != 0) {
		diag("diff(1 GHz, 1.00005 GHz) = %lld, expected %lld",
		     vmc_period_diff_ppb16(&p, &q), 50000LL * 65536);
		bad++;
	}
	tap(!bad, "period_ff_ppb16 / diff_ppb16: 1 GHz and +50 ppm");
}

static void test_table_frac_ns(void)
{
	static const struct {
		__u64 frac, ns;
	} f2n[] = {
		{ 0, 0 },
		{ 1, 0 },
		{ 1ULL << 63, 500000000 },
		{ 18446744073ULL, 1 },		/* 0.99999999996 ns */
		{ 9223372036ULL, 0 },		/* 0.49999999997 ns */
		{ 9223372037ULL, 1 },		/* 0.50000000002 ns */
		{ ~0ULL, 1000000000 },		/* rounds up to a whole s */
	};
	static const struct {
		__u32 ns;
		__u64 frac;
	} n2f[] = {
		{ 0, 0 },
		{ 1, 18446744074ULL },		/* 18446744073.71 */
		{ 500000000, 1ULL << 63 },
		{ 999999999, 18446744055262807542ULL },
		{ 1000000000, ~0ULL },		/* out of range */
		{ 0xffffffff, ~0ULL },
	};
	unsigned int i;
	int bad = 0;

	for (i = 0; i < sizeof(f2n) / sizeof(f2n[0]); i++) {
		if (vmc_frac_to_ns(f2n[i].frac) != f2n[i].ns) {
			diag("frac_to_ns(%llu) = %llu, expected %"
			     "llu", f2n[i].frac, vmc_frac_to_ns(f2n[i].frac),
			     f2n[i].ns);
			bad++;
		}
	}
	for (i = 0; i < sizeof(n2f) / sizeof(n2f[0]); i++) {
		if (vmc_ns_to_frac(n2f[i].ns) != n2f[i].frac) {
			diag("ns_to_frac(%u) = %llu, expected %llu",
			     n2f[i].ns, vmc_ns_to_frac(n2f[i].ns),
			     n2f[i].frac);
			bad++;
		}
	}
	tap(!bad, "frac_to_ns / ns_to_frac: edge cases");
}

static void test_table_line(void)
{
	const __u64 f = 0x89705F4136B4A597ULL;	/* 1 GHz */
	static const struct {
		__u64 cv;
		__s64 sec;
		__u64 frac;
		__u64 c;
		__s64 want_sec;
		__u64 want_frac;
	} t[] = {
		{ 5000, 1000, 0, 5000, 1000, 0 },
		/* 1e9 ticks are 1 s less 0.36 * 2^-64 s: no carry yet */
		{ 5000, 1000, 0, 5000 + 1000000000, 1000, ~0ULL },
		/* ...but with one more 2^-64 s the fraction carries */
		{ 5000, 1000, 1, 5000 + 1000000000, 1001, 0 },
		/* one tick before: -18446744073.7 rounds down (to -inf) */
		{ 5000, 1000, 0, 4999, 999, 0xfffffffbb47d05f6ULL },
		/* a second before: 999 s + 0.36 * 2^-64, floored */
		{ 5000, 1000, 0, 5000 - 1000000000ULL, 999, 0 },
		/* before, with a fraction to borrow from */
		{ 5000, 1000, 1ULL << 63, 4999, 1000,
		  (1ULL << 63) - 18446744074ULL },
		/* the counter wrapped between cv and c: 15 ticks later */
		{ ~0ULL - 9, 7, 0, 5, 7, 276701161105ULL },
		/* cv lies 10 ticks ahead of c across the wrap */
		{ 4, 7, 0, ~0ULL - 5, 6, ~0ULL - 184467440737ULL },
		/* negative seconds (before the epoch) */
		{ 0, -1, 0, 1000000000, -1, ~0ULL },
	};
	unsigned int i;
	int bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vmc_line l = {
			.counter_value = t[i].cv,
			.period = { f, 29 },
			.time = { t[i].sec, t[i].frac },
		};
		struct vmc_ts r = vmc_line_time_at(&l, t[i].c);

		if (r.sec != t[i].want_sec || r.frac != t[i].want_frac) {
			diag("row %u: {%lld, 0x%016llx"
			     "}, expected {%lld, 0x%016llx}",
			     i, r.sec, r.frac, t[i].want_sec,
			     t[i].want_frac);
			bad++;
		}
	}
	tap(!bad, "line_time_at: 1 GHz line before/after counter_value, carries");
}

static void test_table_ts(void)
{
	static const struct {
		__s64 sec;
		__u64 frac;
		__s64 ns;
	} t[] = {
		{ 0, 0, 0 },
		{ 1, 1ULL << 63, 1500000000 },
		{ -1, 1ULL << 63, -500000000 },
		{ 0, ~0ULL, 1000000000 },
		{ 1783000000, 0, 1783000000000000000LL },
		/* the last whole seconds that fit: 9223372036.854775807 s */
		{ 9223372036LL, 0, 9223372036000000000LL },
		{ 9223372036LL, 0xdad296587a1d301aULL, 9223372036854775807LL },
		{ 9223372037LL, 0, S64_MAX },
		{ S64_MAX, ~0ULL, S64_MAX },
		{ -9223372036LL, 0, -9223372036000000000LL },
		{ -9223372037LL, 1ULL << 63, -9223372036500000000LL },
		{ -9223372038LL, 0, S64_MIN },
		{ S64_MIN, 0, S64_MIN },
	};
	unsigned int i;
	int bad = 0;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct vmc_ts ts = { t[i].sec, t[i].frac };
		__s64 r = vmc_ts_to_ns(ts);

		if (r != t[i].ns) {
			diag("ts_to_ns({%lld, 0x%016llx}) = %"
			     "lld, expected %lld", t[i].sec, t[i].frac,
			     r, t[i].ns);
			bad++;
		}
	}
	tap(!bad, "ts_to_ns: rounding, negative times, saturation at 2^63 ns");

	bad = 0;
	{
		struct vmc_ts a = { 10, 0 }, b = { 9, 1ULL << 63 };
		struct vmc_ts mx = { S64_MAX, 0 }, mn = { S64_MIN, 0 };

		if (vmc_ts_diff_ns(a, b) != 500000000 ||
		    vmc_ts_diff_ns(b, a) != -500000000 ||
		    vmc_ts_diff_ns(a, a) != 0 ||
		    vmc_ts_diff_ns(mx, mn) != S64_MAX ||
		    vmc_ts_diff_ns(mn, mx) != S64_MIN) {
			diag("diff: %lld %lld %lld %"
			     "lld %lld", vmc_ts_diff_ns(a, b),
			     vmc_ts_diff_ns(b, a), vmc_ts_diff_ns(a, a),
			     vmc_ts_diff_ns(mx, mn), vmc_ts_diff_ns(mn, mx));
			bad++;
		}
	}
	tap(!bad, "ts_diff_ns: borrow, sign, saturation");
}

static void test_table_maxerror(void)
{
	/* 1 ppm of a 1 GHz tick: 1e-15 s = round(2^93 * 1e-15) */
	const __u64 rate = 9903520314283ULL;
	struct vmc_line l = {
		.counter_value = 1ULL << 40,
		.period = { 0x89705F4136B4A597ULL, 29 },
		.time = { 1000, 0 },
	};
	__u64 at0 = vmc_maxerror_ns_at(&l, 500, rate, l.counter_value);
	__u64 fwd = vmc_maxerror_ns_at(&l, 500, rate,
					  l.counter_value + 1000000000);
	__u64 back = vmc_maxerror_ns_at(&l, 500, rate,
					   l.counter_value - 1000000000);
	__u64 hour = vmc_maxerror_ns_at(&l, 500, rate,
					   l.counter_value + 3600000000000ULL);
	__u64 norate = vmc_maxerror_ns_at(&l, 500, 0, l.counter_value + 7);
	__u64 sat = vmc_maxerror_ns_at(&l, ~0ULL - 10, rate,
					  l.counter_value + 1000000000);

	/* 1 s at 1 ppm is 999.99999997 ns, rounded up */
	if (!tap(at0 >= 500 && at0 <= 501 && fwd == 1500 && back == 1500 &&
		 hour == 3600500 && norate == 500 && sat == ~0ULL,
		 "maxerror_ns_at: 1 ppm growth both ways, saturation"))
		diag("at cv %llu (500..501), +1 s %llu"
		     " (1500), -1 s %llu (1500), +1 h %llu"
		     " (3600500), no rate %llu (500), near max %"
		     "llu", at0, fwd, back, hour, norate, sat);
}

/* Random checks against references -------------------------------------- */

#define CHECK_LOOP(name, ...) do {					\
	int _bad = 0, _i;						\
	for (_i = 0; _i < ncases; _i++) {				\
		int ok = 1;						\
		__VA_ARGS__					\
		_bad += !ok;				\
	}								\
	tap(!_bad, "%s: %d random cases (%d wrong)", name, ncases,	\
	    _bad);							\
} while (0)

static void test_rand_div128(void)
{
	char b1[48], b2[48];

	CHECK_LOOP("div128 vs __int128 division", {
		__u64 d = rnd_len(64);
		u128 n = ((u128)rnd_len(64) << 64) | rnd();
		__u64 rem = 1, q;

		if (_i % 4 == 0)	/* quotient fits: hi < d */
			n = ((u128)(d ? rnd() % d : 0) << 64) | rnd();
		q = vmc_div128(n, d, &rem);
		if (!d || (n >> 64) >= d)
			ok = q == ~0ULL && rem == 0;
		else
			ok = q == (__u64)(n / d) && rem == (__u64)(n % d);
		if (!ok && _bad < MAX_DIAG)
			diag("n %s d %llu: q %llu rem %llu"
			     ", expected q %s", u128_str(n, b1), d, q, rem,
			     d ? u128_str(n / d, b2) : "~0");
	});
}

static void test_rand_frac_ns(void)
{
	CHECK_LOOP("ns_to_frac / frac_to_ns vs exact rounding", {
		__u32 ns = rnd() % 1000000000;
		__u64 fr = rnd();
		__u64 f = vmc_ns_to_frac(ns);
		__u64 n = vmc_frac_to_ns(fr);
		/* |f - ns * 2^64 / 1e9| <= 1/2, in units of 1 / 1e9 */
		s128 e1 = (s128)((u128)f * 1000000000) -
			  (s128)((u128)ns << 64);
		s128 e2 = (s128)((u128)n << 64) -
			  (s128)((u128)fr * 1000000000);

		ok = (e1 < 0 ? -e1 : e1) <= 500000000 &&
		     (e2 < 0 ? -e2 : e2) <= ((s128)1 << 63) &&
		     vmc_frac_to_ns(f) == ns;
		if (!ok && _bad < MAX_DIAG)
			diag("ns %u -> frac %llu -> %llu"
			     "; frac %llu -> ns %llu", ns, f,
			     vmc_frac_to_ns(f), fr, n);
	});
}

/* Independent: signed 128-bit product, floor by arithmetic shift. */
static struct vmc_ts ref_time_at(const struct vmc_line *l, __u64 c)
{
	__s64 d = (__s64)(c - l->counter_value);
	s128 prod = (s128)d * (s128)l->period.frac;	/* |.| < 2^127 */
	s128 q = prod >> l->period.shift;		/* floor */
	u128 t = ((u128)(__u64)l->time.sec << 64) | l->time.frac;
	struct vmc_ts r;

	t += (u128)q;					/* modulo 2^128 */
	r.sec = (__s64)(__u64)(t >> 64);
	r.frac = (__u64)t;
	return r;
}

static void test_rand_line(void)
{
	CHECK_LOOP("line_time_at vs signed 128-bit reference", {
		struct vmc_line l = {
			.counter_value = rnd(),
			.period = { rnd() | (_i & 1 ? 1ULL << 63 : 0),
				    rnd() % 64 },
			.time = { (__s64)rnd_len(40) - (1LL << 38), rnd() },
		};
		__u64 c;
		struct vmc_ts r, w;

		switch (_i % 4) {
		case 0:
			c = rnd();
			break;
		case 1:
			c = l.counter_value + rnd_len(40);
			break;
		case 2:
			c = l.counter_value - rnd_len(40);
			break;
		default:
			c = l.counter_value + (rnd() % 5) - 2;
			break;
		}
		r = vmc_line_time_at(&l, c);
		w = ref_time_at(&l, c);
		ok = r.sec == w.sec && r.frac == w.frac;
		if (!ok && _bad < MAX_DIAG)
			diag("cv %llu c %llu frac %llu"
			     " shift %u: {%lld, %llu"
			     "} expected {%lld, %llu}",
			     l.counter_value, c, l.period.frac, l.period.shift,
			     r.sec, r.frac, w.sec, w.frac);
	});
}

/* round(sec * 1e9 + frac * 1e9 / 2^64) saturating, exactly */
static __s64 ref_ts_ns(s128 sec, __u64 frac)
{
	s128 ns;

	if (sec > ((s128)1 << 40) || sec < -((s128)1 << 40))
		return sec > 0 ? S64_MAX : S64_MIN;
	ns = sec * 1000000000 +
	     (s128)(((u128)frac * 1000000000 + ((u128)1 << 63)) >> 64);
	if (ns > S64_MAX)
		return S64_MAX;
	if (ns < S64_MIN)
		return S64_MIN;
	return (__s64)ns;
}

static void test_rand_ts(void)
{
	CHECK_LOOP("ts_to_ns / ts_diff_ns vs exact 128-bit reference", {
		struct vmc_ts a = { (__s64)rnd_len(64), rnd() };
		struct vmc_ts b = { (__s64)rnd_len(64), rnd() };
		s128 dsec;
		__u64 dfrac;

		if (_i & 1)	/* near each other, the usual case */
			b.sec = a.sec - (__s64)(rnd() % 5) + 2;
		if (_i % 3 == 0)	/* near the saturation limit */
			a.sec = 9223372036LL * (_i & 2 ? -1 : 1) +
				(__s64)(rnd() % 5) - 2;
		dsec = (s128)a.sec - b.sec;
		dfrac = a.frac - b.frac;
		if (a.frac < b.frac)
			dsec--;
		ok = vmc_ts_to_ns(a) == ref_ts_ns(a.sec, a.frac) &&
		     vmc_ts_diff_ns(a, b) == ref_ts_ns(dsec, dfrac);
		if (!ok && _bad < MAX_DIAG)
			diag("a {%lld, %llu} b {%lld, %"
			     "llu}: ns %lld (%lld), diff %"
			     "lld (%lld)", a.sec, a.frac, b.sec,
			     b.frac, vmc_ts_to_ns(a), ref_ts_ns(a.sec, a.frac),
			     vmc_ts_diff_ns(a, b), ref_ts_ns(dsec, dfrac));
	});
}

static void test_rand_from_hz(void)
{
	long double worst = 0;

	CHECK_LOOP("period_from_hz: exact rounding, normalised, to_hz round trip", {
		__u64 hz = rnd_len(64);
		struct vmc_period p = { 0, 0 };
		int ret = vmc_period_from_hz(hz, &p);
		__u64 back;

		if (hz < 2) {
			ok = ret == -1;
		} else if (ret) {
			ok = 0;
		} else {
			/* |frac * hz - 2^(64 + shift)| <= hz / 2 */
			u128 prod = (u128)p.frac * hz;
			u128 one = (u128)1 << (64 + p.shift);
			u128 err = prod > one ? prod - one : one - prod;
			long double rel = (long double)err / (long double)one;

			if (rel > worst)
				worst = rel;
			back = vmc_period_to_hz(&p);
			ok = p.frac >> 63 && p.shift <= 63 && 2 * err <= hz &&
			     rel < 0x1p-62L &&
			     (hz < (1ULL << 40) ? back == hz :
			      back - hz + 1 <= 2);
			if (!ok && _bad < MAX_DIAG)
				diag("hz %llu: shift %u frac 0x%016"
				     "llx rel %Lg back %llu", hz,
				     p.shift, p.frac, rel, back);
		}
	});
	diag("worst relative error of the encoded period: %Lg (bound 2^-62 = %Lg)",
	     worst, 0x1p-62L);
}

static void test_rand_from_scaled_ns(void)
{
	long double worst = 0;
	int accepted = 0;

	CHECK_LOOP("period_from_scaled_ns: exact rounding (256-bit), normalised", {
		__u64 ns = rnd_len(64);
		unsigned int ns_shift = rnd() % 64;
		__u64 ticks = rnd_len(34);
		struct vmc_period p = { 0, 0 };
		int ret = vmc_period_from_scaled_ns(ns, ns_shift, ticks, &p);
		/* the period in s, approximately */
		long double sec = ticks ? ldexpl((long double)ns, -ns_shift) /
				  (1e9L * ticks) : 0;

		if (!ns || !ticks || ticks > ~0ULL / 1000000000) {
			ok = ret == -1;
		} else if (ret) {
			/* refused: the normalised shift is outside 0..63 */
			long double f = ldexpl(sec, 64);

			ok = f >= 0x1p63L * 0.999L ||
			     ldexpl(sec, 64 + 63) < 0x1p63L * 1.001L;
			if (!ok && _bad < MAX_DIAG)
				diag("ns %llu >> %u / %llu"
				     " ticks refused (period %Lg s)", ns,
				     ns_shift, ticks, sec);
		} else {
			/* frac = round(ns * 2^k / d), k = 64 + shift - ns_shift */
			__u64 d = ticks * 1000000000;
			int k = 64 + p.shift - (int)ns_shift;
			struct big a, b, e;
			long double rel;

			accepted++;
			ok = k >= 0 && p.frac >> 63 && p.shift <= 63;
			if (ok) {
				a = big_u128((u128)p.frac * d);
				b = big_shl(big_u128(ns), k);
				e = big_absdiff(a, b);
				ok = big_cmp(big_mul64(e, 2),
					     big_u128(d)) <= 0;
				rel = ldexpl((long double)e.w[0] +
					     ldexpl(e.w[1], 64), 0) /
				      (ldexpl(b.w[0], 0) + ldexpl(b.w[1], 64) +
				       ldexpl(b.w[2], 128) +
				       ldexpl(b.w[3], 192));
				if (rel > worst)
					worst = rel;
				ok = ok && rel < 0x1p-62L;
			}
			if (!ok && _bad < MAX_DIAG)
				diag("ns %llu >> %u / %llu"
				     " ticks: shift %u frac 0x%016llx", ns,
				     ns_shift, ticks, p.shift, p.frac);
		}
	});
	diag("%d encodable; worst relative error %Lg (bound 2^-62)", accepted,
	     worst);

	/* The same period given as Hz and as ns per tick encodes the same. */
	CHECK_LOOP("period_from_scaled_ns(1e9 << 32, 32, hz) == from_hz(hz)", {
		__u64 hz = rnd_range(2, ~0ULL / 1000000000);
		struct vmc_period p = { 0, 0 }, q = { 0, 0 };
		int r1 = vmc_period_from_hz(hz, &p);
		int r2 = vmc_period_from_scaled_ns(1000000000ULL << 32, 32, hz,
						   &q);

		ok = !r1 && !r2 && p.frac == q.frac && p.shift == q.shift;
		if (!ok && _bad < MAX_DIAG)
			diag("hz %llu: %d %u 0x%016llx vs %d %u 0x%016"
			     "llx", hz, r1, p.shift, p.frac, r2, q.shift,
			     q.frac);
	});
}

static struct vmc_period rnd_period(void)
{
	struct vmc_period p = { rnd() | (1ULL << 63), rnd() % 64 };

	if (rnd() % 8 == 0)	/* not normalised, sometimes tiny */
		p.frac = rnd_len(64) | 1;
	return p;
}

static void test_rand_to_hz_span(void)
{
	CHECK_LOOP("period_to_hz vs exact rounding", {
		struct vmc_period p = rnd_period();
		__u64 hz = vmc_period_to_hz(&p);
		/* exact: 2^(64 + shift) / frac, rounded */
		u128 one = (u128)1 << (64 + p.shift);
		u128 q = one / p.frac, r = one % p.frac;
		u128 want = q + (2 * r >= p.frac);

		ok = want >> 64 ? hz == 0 : hz == (__u64)want;
		if (!ok && _bad < MAX_DIAG)
			diag("frac 0x%016llx shift %u: %llu"
			     " expected %llu", p.frac, p.shift, hz,
			     (__u64)want);
	});

	CHECK_LOOP("period_span vs 256-bit floor, saturating", {
		struct vmc_period p = rnd_period();
		__u64 ticks = rnd_len(64);
		unsigned int fb = rnd() % 33;
		__u64 got = vmc_period_span(&p, ticks, fb);
		struct big x = big_shr(big_shl(big_mul64(big_u128((u128)ticks *
								  p.frac),
							 1000000000), fb),
				       64 + p.shift);
		__u64 want = big_fits64(x) ? x.w[0] : ~0ULL;

		ok = got == want;
		if (!ok && _bad < MAX_DIAG)
			diag("frac 0x%016llx shift %u ticks %llu"
			     " bits %u: %llu expected %llu",
			     p.frac, p.shift, ticks, fb, got, want);
	});
}

static long double period_s(const struct vmc_period *p)
{
	return ldexpl((long double)p->frac, -64 - p->shift);
}

static void test_rand_rates(void)
{
	const long double k = 1e9L * 65536;
	long double worst = 0;

	CHECK_LOOP("period_diff_ppb16 vs long double (1 ppb16 + 2^-45 relative)", {
		struct vmc_period a = rnd_period(), b;
		long double want, err;
		__s64 got;

		switch (_i % 3) {
		case 0:		/* near each other: the real use */
			b = a;
			b.frac += (__s64)rnd_len(48) * (_i & 8 ? 1 : -1);
			if (!(b.frac >> 63))
				b.frac |= 1ULL << 63;
			break;
		case 1:		/* a shift apart */
			b.shift = a.shift ? a.shift - 1 : 1;
			b.frac = a.frac;
			break;
		default:
			b = rnd_period();
			break;
		}
		got = vmc_period_diff_ppb16(&a, &b);
		want = (period_s(&a) / period_s(&b) - 1) * k;
		if (want >= 0x1p62L)
			want = 0x1p62L;
		err = fabsl((long double)got - want);
		/*
		 * The smaller period keeps at least 45 bits: 1 ppb16 plus
		 * 2^-45 of the result; beyond a ratio of 2^16 the result
		 * saturates a little early.
		 */
		ok = err <= 1 + fabsl(want) * 0x1p-45L ||
		     (want > 4.29e18L && got == 1LL << 62);
		if (_i % 3 != 2)	/* within 2x: 1 ppb16 */
			ok = err <= 1;
		if (ok && want < 4.29e18L && err > worst)
			worst = err;
		if (!ok && _bad < MAX_DIAG)
			diag("a 0x%016llx>>%u b 0x%016llx"
			     ">>%u: %lld expected %.1Lf", a.frac,
			     a.shift, b.frac, b.shift, got, want);
	});
	diag("diff_ppb16 worst error %Lg ppb16 (unsaturated)", worst);

	worst = 0;
	CHECK_LOOP("period_ff_ppb16 vs long double (within 1 ppb16)", {
		__u64 hz = rnd_range(1000000, 10000000000ULL);
		struct vmc_period p;
		long double want, err;
		__s64 got;

		/* a counter within +-1000 ppm of a nominal hz */
		vmc_period_from_hz(hz + (__s64)(hz / 1000 * ((rnd() % 2001)
						  - 1000.0) / 1000), &p);
		got = vmc_period_ff_ppb16(&p, hz);
		want = (period_s(&p) * hz - 1) * k;
		/* span truncates to 2^-16 ns: the result lies in [want-1, want] */
		err = want - (long double)got;
		ok = err > -0.001L && err < 1.001L;
		if (ok && fabsl(err) > worst)
			worst = fabsl(err);
		if (!ok && _bad < MAX_DIAG)
			diag("hz %llu period 0x%016llx>>%u: %"
			     "lld expected %.3Lf", hz, p.frac, p.shift,
			     got, want);
	});
	diag("ff_ppb16 worst error %Lg ppb16", worst);

	CHECK_LOOP("maxerror_ns_at within [exact, exact + 1] ns, symmetric", {
		struct vmc_line l = {
			.counter_value = rnd(),
			.period = rnd_period(),
		};
		__u64 rate = rnd_len(50), me = rnd_len(40);
		__u64 dc = rnd_len(44);
		__u64 up = vmc_maxerror_ns_at(&l, me, rate,
						 l.counter_value + dc);
		__u64 dn = vmc_maxerror_ns_at(&l, me, rate,
						 l.counter_value - dc);
		struct big g = big_shr(big_mul64(big_u128((u128)dc * rate),
						 1000000000),
				       64 + l.period.shift);
		u128 exact = (u128)me + g.w[0];	/* floor */

		ok = big_fits64(g) && up == dn && up >= exact &&
		     up <= exact + 1;
		if (!ok && _bad < MAX_DIAG)
			diag("me %llu rate %llu dc %llu"
			     ": %llu/%llu expected %llu"
			     "..+1", me, rate, dc, up, dn, (__u64)exact);
	});
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--seed N|random] [--cases N]\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	__u64 seed = 20261125;	/* fixed: runs are reproducible */
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "random")) {
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				seed = (__u64)ts.tv_sec * 1000000007ULL ^
				       (__u64)ts.tv_nsec ^
				       ((__u64)getpid() << 32);
			} else {
				seed = strtoull(argv[i], NULL, 0);
			}
		} else if (!strcmp(argv[i], "--cases") && i + 1 < argc) {
			ncases = atoi(argv[++i]);
		} else {
			usage(argv[0]);
		}
	}
	rng_state = seed;

	printf("TAP version 13\n1..%d\n", PLAN);
	diag("test_math: seed %llu (rerun with --seed %llu)",
	     seed, seed);

	test_table_period_from_hz();
	test_table_period_other();
	test_table_frac_ns();
	test_table_line();
	test_table_ts();
	test_table_maxerror();

	test_rand_div128();
	test_rand_frac_ns();
	test_rand_line();
	test_rand_ts();
	test_rand_from_hz();
	test_rand_from_scaled_ns();
	test_rand_to_hz_span();
	test_rand_rates();

	if (tap_n != PLAN)
		tap(0, "ran %d tests, planned %d", tap_n, PLAN);
	return tap_failed ? 1 : 0;
}
