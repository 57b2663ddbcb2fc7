/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-independent vmclock arithmetic, validation and control law.
 *
 * lib/vmclock_math.c is compiled unchanged into both modules and into the
 * userspace tests. It needs a compiler with unsigned __int128 (x86-64,
 * arm64) and never divides 128-bit values with the compiler's helpers,
 * which the kernel does not provide.
 *
 * Units used throughout:
 *   frac    2^-64 s
 *   period  frac * 2^-(64 + shift) s per counter tick (the page's encoding)
 *   ppb16   parts per billion * 2^16 (1 unit = 2^-16 ns/s); adjtimex's
 *           freq unit (ppm * 2^16) is ppb16 / 1000
 *   offset  ns, positive when the local clock is ahead of the reference
 */
#ifndef VMCLOCK_MATH_H
#define VMCLOCK_MATH_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <asm/byteorder.h>
/* the page's little-endian fields in CPU order */
#define vmc_le16(x)	le16_to_cpu(x)
#define vmc_le32(x)	le32_to_cpu(x)
#define vmc_le64(x)	le64_to_cpu(x)
#else
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#define vmc_le16(x)	le16toh(x)
#define vmc_le32(x)	le32toh(x)
#define vmc_le64(x)	le64toh(x)
#endif

#include "vmclock_abi.h"

#define VMC_NSEC_PER_SEC	1000000000ULL
#define VMC_PPB16_PER_PPB	65536LL

struct vmc_period {
	__u64 frac;		/* 2^-(64 + shift) s per tick */
	__u8 shift;
};

/* A point in time: whole seconds plus a 2^-64 s fraction (always >= 0). */
struct vmc_ts {
	__s64 sec;
	__u64 frac;
};

/* The page's linear function, decoded to CPU byte order. */
struct vmc_line {
	__u64 counter_value;	/* counter at @time */
	struct vmc_period period;
	struct vmc_ts time;
};

/* 128/64 division; the quotient must fit 64 bits (returns ~0 if not). */
__u64 vmc_div128(unsigned __int128 n, __u64 d, __u64 *rem);

/* Fraction of a second <-> ns. */
__u64 vmc_frac_to_ns(__u64 frac);		/* rounded to nearest */
__u64 vmc_ns_to_frac(__u32 ns);			/* ns < 10^9, rounded */

/* Time on @line at counter @c; c may lie before counter_value. */
struct vmc_ts vmc_line_time_at(const struct vmc_line *line, __u64 c);

/* A vmc_ts as ns since the epoch, rounded; saturates beyond +-2^63 ns. */
__s64 vmc_ts_to_ns(struct vmc_ts t);

/* (a - b) in ns, rounded; saturates at +-2^63 ns. */
__s64 vmc_ts_diff_ns(struct vmc_ts a, struct vmc_ts b);

/*
 * Period encoding. Both produce a normalised period (frac >= 2^63), the
 * most precise encoding; -1 (ERANGE) when not representable.
 *  from_hz:        seconds per tick = 1 / hz
 *  from_scaled_ns: seconds per tick = (ns * 2^-ns_shift) / (10^9 * ticks)
 */
int vmc_period_from_hz(__u64 hz, struct vmc_period *p);
int vmc_period_from_scaled_ns(__u64 ns, unsigned int ns_shift, __u64 ticks,
			      struct vmc_period *p);

/* Counter frequency in Hz (rounded) for a period; 0 if out of range. */
__u64 vmc_period_to_hz(const struct vmc_period *p);

/*
 * Duration of @ticks counter ticks in units of 2^-frac_bits ns
 * (frac_bits <= 32); saturates at 2^64 - 1.
 */
__u64 vmc_period_span(const struct vmc_period *p, __u64 ticks,
		      unsigned int frac_bits);

/*
 * Relative rate of @a against @b: (a / b - 1) in ppb16, i.e. how much
 * faster a clock ticking at period @b runs than one at @a. Positive when
 * @a is longer (a counter tick is worth more time on @a). Saturates at
 * +-2^62.
 */
__s64 vmc_period_diff_ppb16(const struct vmc_period *a,
			    const struct vmc_period *b);

/*
 * Frequency correction, in ppb16, that makes a clock advancing 10^9 ns per
 * @ticks_per_sec counter ticks (its nominal second) follow @p instead.
 */
__s64 vmc_period_ff_ppb16(const struct vmc_period *p, __u64 ticks_per_sec);

/*
 * Bound on the error of the page's time at counter @c, in ns (rounded up,
 * saturating): time_maxerror + |c - counter_value| * period maxerror rate.
 */
__u64 vmc_maxerror_ns_at(const struct vmc_line *line, __u64 maxerror_ns,
			 __u64 rate_frac, __u64 c);

/*
 * TAI - UTC from the page's tai_offset_sec, if its flag is set and its
 * magnitude is 10..1000 s. Either sign is accepted: Linux writes UTC - TAI
 * (-37 s in 2026), the VMClock specification's prose TAI - UTC (+37);
 * TAI - UTC has been positive since 1972, so the magnitude is unambiguous.
 * A value outside that range only makes the offset unusable: it never
 * makes the page's time data invalid.
 */
bool vmc_page_tai_utc(const struct vmclock_abi *page, int *tai_minus_utc);

/* UTC second of TAI second @tai_sec, with TAI - UTC = @tai_minus_utc s */
static inline __s64 vmc_utc_from_tai(__s64 tai_sec, int tai_minus_utc)
{
	return tai_sec - tai_minus_utc;
}

/* Page validation ------------------------------------------------------ */

enum vmc_page_verdict {
	VMC_PAGE_OK = 0,
	VMC_PAGE_NO_TIME,	/* counter_id invalid: valid page, no time data */
	VMC_PAGE_BAD_MAGIC,
	VMC_PAGE_BAD_SIZE,
	VMC_PAGE_BAD_VERSION,
	VMC_PAGE_BAD_COUNTER,	/* counter of another CPU architecture */
	VMC_PAGE_BAD_TIME_TYPE,
	VMC_PAGE_BAD_STATUS,
	VMC_PAGE_BAD_LEAP,
	VMC_PAGE_BAD_SHIFT,
	VMC_PAGE_BAD_PERIOD,	/* zero, or a counter outside ~1 MHz..275 GHz */
	VMC_PAGE_VERDICT_MAX,
};

/*
 * Checks a seq-consistent copy of a page found in a region of @region_size
 * bytes, for a CPU whose counter is @counter_id. Pure: no side effects.
 */
enum vmc_page_verdict vmc_page_validate(const struct vmclock_abi *page,
					__u32 region_size, __u8 counter_id);

/* Short text for a verdict ("ok", "bad magic", ...). */
const char *vmc_page_verdict_str(enum vmc_page_verdict v);

/* Decode the time line of a validated page. */
void vmc_page_line(const struct vmclock_abi *page, struct vmc_line *line);

/* Control law ------------------------------------------------------------ */

/*
 * The servo turns offsets measured exactly at one counter value into a
 * frequency for the local clock: feed-forward from the page's period, a
 * slowly learnt bias for what the kernel does not realise exactly, and a
 * phase term that removes the whole offset over one update interval
 * (linear slew), bounded by @slew_max_ppb16. Large offsets are stepped.
 */
struct vmc_servo_cfg {
	__u64 step_threshold_ns;	/* step when |offset| exceeds this */
	bool allow_step;		/* false: never step, slew instead */
	__s64 slew_max_ppb16;		/* bound on the phase term, > 0 */
	__u64 interval_ns;		/* nominal time between updates */
};

struct vmc_servo {
	bool have_prev;
	__s64 prev_offset_ns;
	__s64 prev_cmd_ppb16;	/* freq applied at prev, relative to nominal */
	__s64 prev_ff_ppb16;
	__u64 prev_t_ns;	/* local monotonic raw time of prev sample */
	__u64 prev_apply_ns;	/* when prev_cmd took effect (>= prev_t_ns) */
	__s64 older_cmd_ppb16;	/* the command in effect before that */
	bool prev_clamped;
	__s64 bias_ppb16;	/* learnt rate error of the local clock */
	__s64 hold_bias_ppb16;	/* its long-term average, for holds */
	__u32 hold_bias_n;	/* measurements in that average, saturating */
};

enum vmc_servo_action {
	VMC_SERVO_SLEW,		/* apply *freq_ppb16 */
	VMC_SERVO_STEP,		/* step by *step_ns, then apply *freq_ppb16 */
};

/* Largest frequency the servo commands: +-10% (the kernel's tick range). */
#define VMC_SERVO_FREQ_MAX_PPB16	(100000000LL * VMC_PPB16_PER_PPB)

void vmc_servo_reset(struct vmc_servo *s);

/*
 * One update: @offset_ns measured at local raw time @t_ns, with the
 * reference's rate @ff_ppb16 relative to the clock's own (e.g. from
 * vmc_period_diff_ppb16() against the clocksource's raw period). Returns the
 * action and the frequency (ppb16, relative to the clock's nominal rate)
 * to apply until the next update.
 */
enum vmc_servo_action vmc_servo_update(struct vmc_servo *s,
				       const struct vmc_servo_cfg *cfg,
				       __s64 offset_ns, __s64 ff_ppb16,
				       __u64 t_ns, __s64 *freq_ppb16,
				       __s64 *step_ns);

/*
 * The command of the last update took effect at local raw time @t_ns
 * (it may be applied a little after its measurement, e.g. on the
 * kernel's tick grid). Without this call it counts from the measurement.
 */
void vmc_servo_applied(struct vmc_servo *s, __u64 t_ns);

/* Frequency to hold when the reference cannot be followed (ppb16). */
__s64 vmc_servo_holdover(const struct vmc_servo *s, __s64 ff_ppb16);

#endif /* VMCLOCK_MATH_H */
