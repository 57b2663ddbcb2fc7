/* SPDX-License-Identifier: GPL-2.0 */
/* vmclock_host.ko internals shared by the files under host/. */
#ifndef VMCLOCK_HOST_H
#define VMCLOCK_HOST_H

#include <linux/types.h>
#include "vmclock_math.h"

/*
 * The host timekeeper's line, copied in the pvclock_gtod notifier.
 * Time at host counter c is
 *   xtime_sec + nsfix * 2^-32 ns + (c - cycle_last) * tick / interval
 * with tick in ns * 2^32 per @interval counter ticks.
 */
struct vmch_tk {
	u64 cycle_last;		/* host counter */
	u64 interval;		/* counter ticks per kernel tick */
	u64 tick;		/* ns * 2^32 per @interval ticks */
	u64 xtime_sec;		/* s, CLOCK_REALTIME */
	u64 nsfix;		/* ns * 2^32 into xtime_sec, < 10^9 * 2^32 */
	u32 seq;		/* bumps on every copy */
	u32 steps;		/* bumps on clock steps and clocksource changes */
	bool counter_ok;	/* the clocksource is the CPU's counter */
	char cs_name[32];
};

/* Host NTP state (do_adjtimex with modes = 0). */
struct vmch_ntp {
	int state;		/* TIME_OK, TIME_INS, ... or TIME_ERROR */
	int status;		/* STA_* */
	long maxerror;		/* us */
	long esterror;		/* us */
	int tai;		/* s, TAI - UTC (Linux's adjtimex sign) */
};

/* follow.c: the pvclock_gtod notifier side */
int vmch_follow_start(void (*kick)(void));
void vmch_follow_stop(void);
void vmch_follow_get(struct vmch_tk *tk);

struct vmch_follow_stats {
	u64 calls;		/* notifier invocations */
	u64 copies;		/* of which changed the line */
	u64 ns_total;		/* ns spent inside the notifier */
	u64 ns_max;
};

void vmch_follow_stats(struct vmch_follow_stats *st);

/* ntp.c: read-only access to the host's NTP state */
int vmch_ntp_init(void);
int vmch_ntp_read(struct vmch_ntp *ntp);

#endif /* VMCLOCK_HOST_H */
