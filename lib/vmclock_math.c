// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel-independent vmclock arithmetic, page validation and control law.
 * See include/vmclock_math.h for the units. Compiled unchanged into both
 * modules (through one-line wrappers) and into the userspace tests.
 */
#include "../include/vmclock_math.h"

#ifndef __SIZEOF_INT128__
#error "vmclock needs a 64-bit compiler with unsigned __int128"
#endif

#define VMC_S64_MAX	((__s64)(~0ULL >> 1))
#define VMC_S64_MIN	(-VMC_S64_MAX - 1)
/* Whole seconds whose ns (plus a fraction) can fit an s64 (2262 AD). */
#define VMC_SEC_NS_LIMIT 9223372036LL

static unsigned int vmc_bitlen64(__u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

static unsigned int vmc_bitlen128(unsigned __int128 x)
{
	__u64 hi = x >> 64;

	return hi ? 64 + vmc_bitlen64(hi) : vmc_bitlen64((__u64)x);
}

__u64 vmc_div128(unsigned __int128 n, __u64 d, __u64 *rem)
{
	__u64 hi = n >> 64, lo = (__u64)n, q = 0;
	int i;

	if (!d || hi >= d) {
		if (rem)
			*rem = 0;
		return ~0ULL;
	}
	if (!hi) {
		if (rem)
			*rem = lo % d;
		return lo / d;
	}
	/* Restoring division; hi < d holds before each step. */
	for (i = 0; i < 64; i++) {
		__u64 top = hi >> 63;

		hi = (hi << 1) | (lo >> 63);
		lo <<= 1;
		q <<= 1;
		if (top || hi >= d) {
			hi -= d;
			q |= 1;
		}
	}
	if (rem)
		*rem = hi;
	return q;
}

/* round(|a| * b / c) with a's sign, saturating at +-S64_MAX. */
static __s64 vmc_muldiv_s64(__s64 a, __u64 b, __u64 c)
{
	unsigned __int128 n;
	__u64 mag = a < 0 ? -(__u64)a : (__u64)a;
	__u64 q;

	if (!c)
		return 0;
	n = (unsigned __int128)mag * b + c / 2;
	q = vmc_div128(n, c, NULL);
	if (q > (__u64)VMC_S64_MAX)
		q = VMC_S64_MAX;
	return a < 0 ? -(__s64)q : (__s64)q;
}

static __s64 vmc_clamp_s64(__s64 v, __s64 lo, __s64 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

__u64 vmc_frac_to_ns(__u64 frac)
{
	return ((unsigned __int128)frac * VMC_NSEC_PER_SEC + (1ULL << 63)) >> 64;
}

__u64 vmc_ns_to_frac(__u32 ns)
{
	unsigned __int128 n = ((unsigned __int128)ns << 64) + VMC_NSEC_PER_SEC / 2;

	if (ns >= VMC_NSEC_PER_SEC)
		return ~0ULL;
	return vmc_div128(n, VMC_NSEC_PER_SEC, NULL);
}

struct vmc_ts vmc_line_time_at(const struct vmc_line *line, __u64 c)
{
	__u64 d = c - line->counter_value;
	bool neg = (__s64)d < 0;
	unsigned int shift = line->period.shift;
	struct vmc_ts t;
	unsigned __int128 p, q;
	__u64 dsec, dfrac;

	/* A counter before counter_value gives a negative delta. */
	if (neg)
		d = -d;
	p = (unsigned __int128)d * line->period.frac;	/* 2^-(64 + shift) s */
	if (shift >= 128) {
		q = 0;
	} else {
		q = p >> shift;				/* 2^-64 s */
		/* Round towards -inf so that time stays monotonic in c. */
		if (neg && shift && (p & (((unsigned __int128)1 << shift) - 1)))
			q++;
	}
	dsec = q >> 64;
	dfrac = (__u64)q;

	if (!neg) {
		t.frac = line->time.frac + dfrac;
		t.sec = (__s64)((__u64)line->time.sec + dsec +
				(t.frac < dfrac));
	} else {
		t.frac = line->time.frac - dfrac;
		t.sec = (__s64)((__u64)line->time.sec - dsec -
				(line->time.frac < dfrac));
	}
	return t;
}

static __s64 vmc_sec_frac_to_ns(__s64 sec, __u64 frac)
{
	__u64 fns = vmc_frac_to_ns(frac);	/* 0..10^9 */
	__u64 mag;

	if (sec >= 0) {
		if (sec > VMC_SEC_NS_LIMIT)
			return VMC_S64_MAX;
		mag = (__u64)sec * VMC_NSEC_PER_SEC + fns;	/* < 2^64 */
		return mag > (__u64)VMC_S64_MAX ? VMC_S64_MAX : (__s64)mag;
	}
	/* sec * 10^9 + fns still fits down to sec = -(limit + 1) */
	if (sec < -VMC_SEC_NS_LIMIT - 1)
		return VMC_S64_MIN;
	mag = (__u64)-sec * VMC_NSEC_PER_SEC - fns;	/* -(sec * 10^9 + fns) */
	return mag >= (1ULL << 63) ? VMC_S64_MIN : -(__s64)mag;
}

__s64 vmc_ts_to_ns(struct vmc_ts t)
{
	return vmc_sec_frac_to_ns(t.sec, t.frac);
}

__s64 vmc_ts_diff_ns(struct vmc_ts a, struct vmc_ts b)
{
	__s64 dsec;

	if (__builtin_sub_overflow(a.sec, b.sec, &dsec))
		return a.sec > b.sec ? VMC_S64_MAX : VMC_S64_MIN;
	if (a.frac < b.frac) {
		if (dsec == VMC_S64_MIN)
			return VMC_S64_MIN;
		dsec--;
	}
	return vmc_sec_frac_to_ns(dsec, a.frac - b.frac);
}

int vmc_period_from_hz(__u64 hz, struct vmc_period *p)
{
	unsigned int shift;
	unsigned __int128 n;
	__u64 q;

	if (hz < 2)
		return -1;
	shift = vmc_bitlen64(hz) - 1;	/* floor(log2(hz)) */
	for (;;) {
		n = ((unsigned __int128)1 << (64 + shift)) + hz / 2;
		q = vmc_div128(n, hz, NULL);
		/* hz a power of two (or rounding up) overflows: one less. */
		if ((n >> 64) < hz)
			break;
		shift--;
	}
	if (shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return -1;
	p->frac = q;
	p->shift = shift;
	return 0;
}

int vmc_period_from_scaled_ns(__u64 ns, unsigned int ns_shift, __u64 ticks,
			      struct vmc_period *p)
{
	__u64 d, q;
	unsigned __int128 num;
	int k, shift;

	if (!ns || !ticks || ticks > ~0ULL / VMC_NSEC_PER_SEC)
		return -1;
	d = ticks * VMC_NSEC_PER_SEC;
	/* k such that ns * 2^k / d lies in [2^63, 2^64) */
	k = 63 - ((int)vmc_bitlen64(ns) - (int)vmc_bitlen64(d));
	if (k < 0)
		return -1;
	if (vmc_div128((unsigned __int128)ns << k, d, NULL) < (1ULL << 63))
		k++;
	for (;;) {
		num = ((unsigned __int128)ns << k) + d / 2;
		if ((num >> 64) < d)
			break;
		k--;			/* rounding reached 2^64 */
	}
	q = vmc_div128(num, d, NULL);
	shift = k - 64 + (int)ns_shift;
	if (shift < 0 || shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return -1;
	p->frac = q;
	p->shift = shift;
	return 0;
}

__u64 vmc_period_to_hz(const struct vmc_period *p)
{
	unsigned __int128 n;

	if (!p->frac || p->shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return 0;
	n = ((unsigned __int128)1 << (64 + p->shift)) + p->frac / 2;
	if ((n >> 64) >= p->frac)
		return 0;
	return vmc_div128(n, p->frac, NULL);
}

__u64 vmc_period_span(const struct vmc_period *p, __u64 ticks,
		      unsigned int frac_bits)
{
	unsigned __int128 x = (unsigned __int128)ticks * p->frac;	/* 2^-(64 + shift) s */
	unsigned __int128 lo = (unsigned __int128)(__u64)x * VMC_NSEC_PER_SEC;
	unsigned __int128 hi = (x >> 64) * VMC_NSEC_PER_SEC + (lo >> 64);
	unsigned int s = 64 + p->shift - frac_bits;	/* >= 32 */
	unsigned __int128 r;

	/* (hi:lo64) is the 192-bit product in 2^-(64 + shift) ns */
	if (frac_bits > 32 || p->shift > 127)
		return 0;
	if (s >= 64) {
		r = s - 64 >= 128 ? 0 : hi >> (s - 64);
	} else {
		if (vmc_bitlen128(hi) + (64 - s) > 128)
			return ~0ULL;
		r = (hi << (64 - s)) | ((__u64)lo >> s);
	}
	return (r >> 64) ? ~0ULL : (__u64)r;
}

__s64 vmc_period_diff_ppb16(const struct vmc_period *a,
			    const struct vmc_period *b)
{
	const __u64 k = VMC_NSEC_PER_SEC * VMC_PPB16_PER_PPB;
	const __s64 sat = 1LL << 62;
	int ds = (int)b->shift - (int)a->shift;
	/* log2(a / b) lies in (e - 1, e + 1) */
	int e = (int)vmc_bitlen64(a->frac) - (int)vmc_bitlen64(b->frac) + ds;
	unsigned __int128 x = a->frac, y = b->frac, mag;
	unsigned int s;
	bool neg;
	__u64 q;

	/* a / b above 2^16 saturates below */
	if (!b->frac || e > 17)
		return sat;
	/* a / b below 2^-60: (a / b - 1) * k rounds to -k */
	if (!a->frac || e < -61)
		return -(__s64)k;
	/* now -124 < ds < 81 and both shifted values fit 125 bits */
	if (ds > 0)
		x <<= ds;
	else
		y <<= -ds;
	/*
	 * Scale both below 2^63. The larger keeps 63 bits and the smaller at
	 * least 45 (a / b < 2^18): the error stays below 1 ppb16 plus
	 * 2^-45 of the result.
	 */
	s = vmc_bitlen128(x > y ? x : y);
	s = s > 63 ? s - 63 : 0;
	x >>= s;
	y >>= s;
	if (!y)
		return sat;
	neg = x < y;
	mag = neg ? y - x : x - y;
	if (mag >> 16 >= y)
		return neg ? -sat : sat;
	q = vmc_div128(mag * k + (__u64)y / 2, (__u64)y, NULL);
	if (q > (__u64)sat)
		q = sat;
	return neg ? -(__s64)q : (__s64)q;
}

__s64 vmc_period_ff_ppb16(const struct vmc_period *p, __u64 ticks_per_sec)
{
	__u64 span = vmc_period_span(p, ticks_per_sec, 16);	/* 2^-16 ns */
	const __u64 nominal = VMC_NSEC_PER_SEC << 16;

	if (span >= nominal)
		return span - nominal > (__u64)VMC_S64_MAX ?
		       VMC_S64_MAX : (__s64)(span - nominal);
	return -(__s64)(nominal - span);
}

__u64 vmc_maxerror_ns_at(const struct vmc_line *line, __u64 maxerror_ns,
			 __u64 rate_frac, __u64 c)
{
	struct vmc_period rate = { rate_frac, line->period.shift };
	__u64 d = c - line->counter_value;
	__u64 grow, sum;

	if ((__s64)d < 0)
		d = -d;
	grow = vmc_period_span(&rate, d, 0);
	if (grow != ~0ULL && rate_frac)
		grow++;			/* rounded up */
	sum = maxerror_ns + grow;
	return sum < grow ? ~0ULL : sum;
}

enum vmc_page_verdict vmc_page_validate(const struct vmclock_abi *page,
					__u32 region_size, __u8 counter_id)
{
	/* A page needs every field up to time_maxerror_nanosec. */
	const __u32 min_size = __builtin_offsetof(struct vmclock_abi,
						  vm_generation_counter);
	__u32 size = vmc_le32(page->size);
	__u64 flags = vmc_le64(page->flags);
	__u64 frac = vmc_le64(page->counter_period_frac_sec);
	int log2p;

	if (vmc_le32(page->magic) != VMCLOCK_MAGIC)
		return VMC_PAGE_BAD_MAGIC;
	if (size < min_size || size > region_size)
		return VMC_PAGE_BAD_SIZE;
	if ((flags & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT) &&
	    size < sizeof(struct vmclock_abi))
		return VMC_PAGE_BAD_SIZE;
	if (vmc_le16(page->version) != VMCLOCK_VERSION)
		return VMC_PAGE_BAD_VERSION;
	if (page->counter_id == VMCLOCK_COUNTER_INVALID)
		return VMC_PAGE_NO_TIME;
	if (page->counter_id != counter_id)
		return VMC_PAGE_BAD_COUNTER;
	if (page->time_type > VMCLOCK_TIME_MONOTONIC)
		return VMC_PAGE_BAD_TIME_TYPE;
	if (page->clock_status > VMCLOCK_STATUS_UNRELIABLE)
		return VMC_PAGE_BAD_STATUS;
	/* 6 and up: old picosecond-era layouts among others */
	if (page->leap_indicator > VMCLOCK_LEAP_POST_NEG)
		return VMC_PAGE_BAD_LEAP;
	if (page->counter_period_shift > VMCLOCK_PERIOD_SHIFT_MAX)
		return VMC_PAGE_BAD_SHIFT;
	/* log2 of the period in s lies in [log2p - 1, log2p) */
	log2p = (int)vmc_bitlen64(frac) - 64 - page->counter_period_shift;
	if (!frac || log2p > -20 || log2p - 1 < -38)
		return VMC_PAGE_BAD_PERIOD;
	return VMC_PAGE_OK;
}

const char *vmc_page_verdict_str(enum vmc_page_verdict v)
{
	static const char * const str[VMC_PAGE_VERDICT_MAX] = {
		[VMC_PAGE_OK] = "ok",
		[VMC_PAGE_NO_TIME] = "no time data (counter_id invalid)",
		[VMC_PAGE_BAD_MAGIC] = "bad magic",
		[VMC_PAGE_BAD_SIZE] = "bad size",
		[VMC_PAGE_BAD_VERSION] = "unsupported version",
		[VMC_PAGE_BAD_COUNTER] = "counter_id not this CPU's counter",
		[VMC_PAGE_BAD_TIME_TYPE] = "unsupported time_type",
		[VMC_PAGE_BAD_STATUS] = "bad clock_status",
		[VMC_PAGE_BAD_LEAP] = "bad leap_indicator",
		[VMC_PAGE_BAD_SHIFT] = "counter_period_shift out of range",
		[VMC_PAGE_BAD_PERIOD] = "counter period zero or absurd",
	};

	if ((unsigned int)v >= VMC_PAGE_VERDICT_MAX)
		return "unknown";
	return str[v];
}

bool vmc_page_tai_utc(const struct vmclock_abi *page, int *tai_minus_utc)
{
	int v = (__s16)vmc_le16(page->tai_offset_sec);

	if (!(vmc_le64(page->flags) & VMCLOCK_FLAG_TAI_OFFSET_VALID))
		return false;
	if (v < 0)
		v = -v;
	if (v < 10 || v > 1000)
		return false;
	*tai_minus_utc = v;
	return true;
}

void vmc_page_line(const struct vmclock_abi *page, struct vmc_line *line)
{
	line->counter_value = vmc_le64(page->counter_value);
	line->period.frac = vmc_le64(page->counter_period_frac_sec);
	line->period.shift = page->counter_period_shift;
	line->time.sec = (__s64)vmc_le64(page->time_sec);
	line->time.frac = vmc_le64(page->time_frac_sec);
}

/* Control law --------------------------------------------------------- */

/* ns/ns -> ppb16 */
#define VMC_PPB16_PER_UNIT	(VMC_NSEC_PER_SEC * VMC_PPB16_PER_PPB)
/* The bias is learnt only near lock, where the offset is all noise. */
#define VMC_SERVO_BIAS_LEARN_NS	10000
/* Bias update gain 1/4: converges in a few updates, averages noise. */
#define VMC_SERVO_BIAS_GAIN_DIV	4
/*
 * The hold's bias averages the same measurements with gain 1/n for the
 * n-th, from 1/4 (the fast gain: the first four follow the fast bias)
 * down to 1/32 (time constant 3.2 s at 10 Hz). Each interval's residual
 * carries ~1-2 ns of measurement noise, 10-20 ppb at 10 Hz: the fast
 * bias keeps ~5 ppb of it, which tracking needs (it follows the kernel's
 * multiplier toggling) but a 2 s hold on it drifted 5-8 ns/s.
 */
#define VMC_SERVO_HOLD_BIAS_DIV_MIN	4
#define VMC_SERVO_HOLD_BIAS_DIV_MAX	32
/* A rate error beyond 100 ppm is not a bias but a disruption. */
#define VMC_SERVO_BIAS_MAX_PPB16 (100000LL * VMC_PPB16_PER_PPB)

void vmc_servo_reset(struct vmc_servo *s)
{
	s->have_prev = false;
	s->prev_offset_ns = 0;
	s->prev_cmd_ppb16 = 0;
	s->prev_ff_ppb16 = 0;
	s->prev_t_ns = 0;
	s->prev_apply_ns = 0;
	s->older_cmd_ppb16 = 0;
	s->prev_clamped = false;
	s->bias_ppb16 = 0;
	s->hold_bias_ppb16 = 0;
	s->hold_bias_n = 0;
}

enum vmc_servo_action vmc_servo_update(struct vmc_servo *s,
				       const struct vmc_servo_cfg *cfg,
				       __s64 offset_ns, __s64 ff_ppb16,
				       __u64 t_ns, __s64 *freq_ppb16,
				       __s64 *step_ns)
{
	__u64 mag = offset_ns < 0 ? -(__u64)offset_ns : (__u64)offset_ns;
	__s64 p, cmd;

	*step_ns = 0;
	if (cfg->allow_step && mag > cfg->step_threshold_ns) {
		/* The old history no longer describes this clock. */
		s->have_prev = false;
		*step_ns = -offset_ns;
		*freq_ppb16 = vmc_servo_holdover(s, ff_ppb16);
		return VMC_SERVO_STEP;
	}

	/*
	 * Learn only between two measurements near lock: a phase jump of the
	 * reference (a prev near lock, now milliseconds off) is not a rate
	 * error, and learning from it would pin the bias at its clamp, which
	 * the slew hides while following but every hold then runs at.
	 */
	if (s->have_prev && t_ns > s->prev_t_ns &&
	    t_ns - s->prev_t_ns < 8 * cfg->interval_ns && !s->prev_clamped &&
	    (s->prev_offset_ns < 0 ? -s->prev_offset_ns : s->prev_offset_ns) <
	    VMC_SERVO_BIAS_LEARN_NS && mag < VMC_SERVO_BIAS_LEARN_NS) {
		__u64 dt = t_ns - s->prev_t_ns;
		__u64 late = s->prev_apply_ns > s->prev_t_ns &&
			     s->prev_apply_ns < t_ns ?
			     s->prev_apply_ns - s->prev_t_ns : 0;
		/*
		 * Where the commands should have brought us (ns): the older
		 * one until the previous took effect, then the previous one.
		 */
		__s64 pred = s->prev_offset_ns +
			     vmc_muldiv_s64(s->older_cmd_ppb16 -
					    s->prev_ff_ppb16, late,
					    VMC_PPB16_PER_UNIT) +
			     vmc_muldiv_s64(s->prev_cmd_ppb16 - s->prev_ff_ppb16,
					    dt - late, VMC_PPB16_PER_UNIT);
		/*
		 * Positive: the clock ran faster than commanded. The command
		 * already held -bias, so this is the whole rate error d, not
		 * what is left of it: filter towards it.
		 */
		__s64 resid = offset_ns - pred;
		__s64 rate = vmc_muldiv_s64(resid, VMC_PPB16_PER_UNIT, dt);
		__s64 hdiv;

		s->bias_ppb16 = vmc_clamp_s64(s->bias_ppb16 +
					      (rate - s->bias_ppb16) /
					      VMC_SERVO_BIAS_GAIN_DIV,
					      -VMC_SERVO_BIAS_MAX_PPB16,
					      VMC_SERVO_BIAS_MAX_PPB16);
		if (s->hold_bias_n < VMC_SERVO_HOLD_BIAS_DIV_MAX)
			s->hold_bias_n++;
		hdiv = vmc_clamp_s64(s->hold_bias_n,
				     VMC_SERVO_HOLD_BIAS_DIV_MIN,
				     VMC_SERVO_HOLD_BIAS_DIV_MAX);
		s->hold_bias_ppb16 = vmc_clamp_s64(s->hold_bias_ppb16 +
						   (rate - s->hold_bias_ppb16) /
						   hdiv,
						   -VMC_SERVO_BIAS_MAX_PPB16,
						   VMC_SERVO_BIAS_MAX_PPB16);
	}

	/* Remove the whole offset over one interval: a linear slew. */
	p = -vmc_muldiv_s64(offset_ns, VMC_PPB16_PER_UNIT, cfg->interval_ns);
	s->prev_clamped = p > cfg->slew_max_ppb16 || p < -cfg->slew_max_ppb16;
	p = vmc_clamp_s64(p, -cfg->slew_max_ppb16, cfg->slew_max_ppb16);
	cmd = vmc_clamp_s64(ff_ppb16 - s->bias_ppb16 + p,
			    -VMC_SERVO_FREQ_MAX_PPB16, VMC_SERVO_FREQ_MAX_PPB16);

	/* until vmc_servo_applied() says otherwise, cmd acts from now on */
	s->older_cmd_ppb16 = s->have_prev ? s->prev_cmd_ppb16 : cmd;
	s->have_prev = true;
	s->prev_offset_ns = offset_ns;
	s->prev_cmd_ppb16 = cmd;
	s->prev_ff_ppb16 = ff_ppb16;
	s->prev_t_ns = t_ns;
	s->prev_apply_ns = t_ns;
	*freq_ppb16 = cmd;
	return VMC_SERVO_SLEW;
}

void vmc_servo_applied(struct vmc_servo *s, __u64 t_ns)
{
	if (s->have_prev && t_ns >= s->prev_t_ns)
		s->prev_apply_ns = t_ns;
}

__s64 vmc_servo_holdover(const struct vmc_servo *s, __s64 ff_ppb16)
{
	return vmc_clamp_s64(ff_ppb16 - s->hold_bias_ppb16,
			     -VMC_SERVO_FREQ_MAX_PPB16,
			     VMC_SERVO_FREQ_MAX_PPB16);
}
