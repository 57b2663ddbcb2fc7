/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces that drift between the kernels this module builds
 * for, each behind one helper. Features are detected at build time by
 * Kbuild (VMCD_HAVE_* from the kernel headers), never by version checks.
 */
#ifndef VMCLOCK_DISCIPLINE_COMPAT_H
#define VMCLOCK_DISCIPLINE_COMPAT_H

#include <linux/clocksource.h>
#include <linux/timekeeper_internal.h>
#include <linux/timekeeping.h>

/* CLOCK_REALTIME and CLOCK_MONOTONIC_RAW at one counter read */
struct vmcd_snap {
	u64 cycles;		/* the clocksource counter */
	s64 real_ns;		/* CLOCK_REALTIME, ns */
	s64 raw_ns;		/* CLOCK_MONOTONIC_RAW, ns */
};

static inline void vmcd_get_snapshot(struct vmcd_snap *s)
{
	struct system_time_snapshot snap;

	ktime_get_snapshot(&snap);
	s->cycles = snap.cycles;
	s->real_ns = ktime_to_ns(snap.real);
	s->raw_ns = ktime_to_ns(snap.raw);
}

/* From the pvclock_gtod notifier's timekeeper: the clocksource in use */
static inline struct clocksource *vmcd_tk_clock(struct timekeeper *tk)
{
	return tk->tkr_mono.clock;
}

/* ... and its counter ticks per NTP interval (1/NTP_INTERVAL_FREQ s) */
static inline u64 vmcd_tk_cycle_interval(struct timekeeper *tk)
{
	return tk->cycle_interval;
}

#endif /* VMCLOCK_DISCIPLINE_COMPAT_H */
