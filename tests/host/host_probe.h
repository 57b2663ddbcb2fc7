/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only interface of host_probe.ko: /dev/vmclock_host_probe.
 * Shared by the module and tests/host/hosttest.c.
 */
#ifndef HOST_PROBE_H
#define HOST_PROBE_H

#include <linux/types.h>
#include <linux/ioctl.h>

struct host_probe_sample {
	__s32 fd;		/* in: a /dev/vmclock_host view, host units */
	__s32 gfd;		/* in: a view with a guest transform, or -1 */
	__u64 ratio;		/* in: gfd's transform (see vmclock_host_tsc) */
	__u64 offset;
	__u32 frac_bits;
	__u32 tries;		/* out: page reads needed for a stable pair */
	__u64 cycles;		/* out: host counter of the snapshot */
	__s64 real_ns;		/* out: CLOCK_REALTIME at cycles (truncated) */
	__s64 raw_ns;		/* out: CLOCK_MONOTONIC_RAW at cycles */
	__s64 err_ps;		/* out: page time at cycles - real_ns, ps */
	__s64 gdiff_ps;		/* out: guest page at guest counter - err page */
	__u32 seq;		/* out: fd's seq_count */
	__u32 gseq;		/* out: gfd's seq_count */
	__s64 pending_ns;	/* out: ns since the kernel's line first
				 * moved past fd's page (its rewrite
				 * pending), else -1
				 */
};

#define HOST_PROBE_SAMPLE	_IOWR('h', 0x01, struct host_probe_sample)

#endif /* HOST_PROBE_H */
