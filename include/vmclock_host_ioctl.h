/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) WITH Linux-syscall-note */
/*
 * ioctl ABI of /dev/vmclock_host (vmclock_host.ko).
 *
 * Each file open for writing is one guest's view: one page in the vmclock
 * page ABI (vmclock_abi.h), mapped read-only by the VMM into its guest; at
 * most max_views (module parameter) at once, ENOSPC beyond. Files open only
 * for reading share the host's untransformed page. The ioctls
 * below set what differs between guests (counter offset and scaling, the
 * disruption marker, the VM generation counter) and, for privileged
 * userspace, an explicit reference line that replaces the one derived from
 * the host kernel's timekeeping.
 *
 * Every structure starts with @size (bytes, set by the caller to the
 * sizeof() it was built with) and @flags (unknown bits are refused), has
 * fixed-width fields and explicit padding (which must be zero), so later
 * versions can grow without breaking older callers.
 *
 * Usable from userspace: needs only <linux/types.h> and <linux/ioctl.h>.
 */
#ifndef VMCLOCK_HOST_IOCTL_H
#define VMCLOCK_HOST_IOCTL_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VMCLOCK_HOST_IOC_MAGIC		0xE7

/*
 * Guest counter = ((host counter * ratio) >> frac_bits) + offset, modulo
 * 2^64: the way KVM derives a guest's TSC (frac_bits is 48 on Intel VMX,
 * 32 on AMD SVM). The view's page is then written in guest counter units.
 * Identity (the default of a new view): ratio = 1 << frac_bits, offset 0.
 */
struct vmclock_host_tsc {
	__u32 size;		/* sizeof(struct vmclock_host_tsc) */
	__u32 flags;		/* none defined yet: must be 0 */
	__u64 offset;		/* guest counter ticks, two's complement */
	__u64 ratio;		/* guest ticks per host tick, 2^-frac_bits */
	__u8 frac_bits;		/* 0..63 */
	__u8 pad[7];		/* must be 0 */
};

/*
 * Ratios outside 2^-16..2^8 (a guest counter 65536 times slower to 256
 * times faster than the host's) are refused, as is any transform whose
 * page, made from the current line, fails the guests' validator (a period
 * outside the page ABI's ~1 MHz..275 GHz among others).
 */
#define VMCLOCK_HOST_TSC_RATIO_MIN_LOG2	(-16)
#define VMCLOCK_HOST_TSC_RATIO_MAX_LOG2	8

/* vmclock_host_info.flags */
#define VMCLOCK_HOST_INFO_REFERENCE	(1U << 0)	/* explicit reference active */
#define VMCLOCK_HOST_INFO_COUNTER_OK	(1U << 1)	/* host clocksource is the counter */
#define VMCLOCK_HOST_INFO_NTP_OK	(1U << 2)	/* host NTP state readable */
/* this file reads the host's shared untransformed page (opened read-only) */
#define VMCLOCK_HOST_INFO_SHARED	(1U << 3)
/* the explicit reference is older than reference_timeout_ms: degraded */
#define VMCLOCK_HOST_INFO_REFERENCE_EXPIRED (1U << 4)

struct vmclock_host_info {
	__u32 size;		/* filled in: sizeof(struct vmclock_host_info) */
	__u32 flags;		/* VMCLOCK_HOST_INFO_* */
	__u64 tsc_offset;	/* this view's transform, see vmclock_host_tsc */
	__u64 tsc_ratio;
	__u8 tsc_frac_bits;
	__u8 counter_id;	/* VMCLOCK_COUNTER_* on this view's page */
	__u8 clock_status;	/* VMCLOCK_STATUS_* on this view's page */
	/*
	 * The guests' validator (vmc_page_validate, enum vmc_page_verdict in
	 * vmclock_math.h) on the page this view's transform makes from the
	 * current line: 0 (ok) or why it failed; the page then carries the
	 * view's last valid line with clock_status unreliable.
	 */
	__u8 page_verdict;
	__u8 pad[4];
	__u64 disruption_marker;
	__u64 vm_generation_counter;
	__u64 rewrites;		/* times this view's page was rewritten */
	char clocksource[32];	/* host clocksource name, NUL-terminated */
};

/* vmclock_host_reference.page_flags the caller may set */
#define VMCLOCK_HOST_REF_PAGE_FLAGS	((1ULL << 0) | (1ULL << 3) |	\
					 (1ULL << 4) | (1ULL << 5) |	\
					 (1ULL << 6) | (1ULL << 7))

/*
 * An explicit counter-to-time line in HOST counter units, for hosts whose
 * userspace knows it better than the kernel (a 1PPS-latched counter).
 * Fields mean what the page ABI fields of the same name mean. time_type is
 * VMCLOCK_TIME_UTC or VMCLOCK_TIME_TAI (then with a valid tai_offset_sec:
 * the pages stay UTC, their time_type never changes); tai_offset_sec
 * follows Linux's sign (UTC - TAI, -37 s in 2026). It replaces the
 * kernel-derived line in every view until VMCLOCK_HOST_CLEAR_REFERENCE;
 * later calls replace it again. Not set again within reference_timeout_ms
 * (module parameter), it is published free-running with a maxerror rate
 * of at least 500 ppm. Needs CAP_SYS_TIME and a file open for writing.
 */
struct vmclock_host_reference {
	__u32 size;		/* sizeof(struct vmclock_host_reference) */
	__u32 flags;		/* none defined yet: must be 0 */
	__u64 counter_value;	/* host counter at time_sec + time_frac_sec */
	__u64 time_sec;		/* s */
	__u64 time_frac_sec;	/* 2^-64 s */
	__u64 counter_period_frac_sec;	/* 2^-(64 + shift) s per host tick */
	__u64 counter_period_esterror_rate_frac_sec;	/* same unit */
	__u64 counter_period_maxerror_rate_frac_sec;	/* same unit */
	__u64 time_esterror_nanosec;	/* ns */
	__u64 time_maxerror_nanosec;	/* ns */
	__u64 page_flags;	/* subset of VMCLOCK_HOST_REF_PAGE_FLAGS */
	__u8 counter_period_shift;	/* 0..63 */
	__u8 clock_status;	/* VMCLOCK_STATUS_* */
	__u8 leap_indicator;	/* VMCLOCK_LEAP_* */
	__u8 time_type;		/* VMCLOCK_TIME_UTC or VMCLOCK_TIME_TAI */
	__s16 tai_offset_sec;	/* s, UTC - TAI */
	__u8 pad[2];		/* must be 0 */
};

/* Needs only a readable file. */
#define VMCLOCK_HOST_GET_INFO		_IOR(VMCLOCK_HOST_IOC_MAGIC, 0x00, \
					     struct vmclock_host_info)
/* The rest need a file open for writing (FMODE_WRITE). */
#define VMCLOCK_HOST_SET_TSC		_IOW(VMCLOCK_HOST_IOC_MAGIC, 0x01, \
					     struct vmclock_host_tsc)
/* Live migration: the guest must discard its calibration. */
#define VMCLOCK_HOST_BUMP_DISRUPTION	_IO(VMCLOCK_HOST_IOC_MAGIC, 0x02)
/* Snapshot restore or clone: also bumps the disruption marker. */
#define VMCLOCK_HOST_BUMP_GENERATION	_IO(VMCLOCK_HOST_IOC_MAGIC, 0x03)
/* Also CAP_SYS_TIME. */
#define VMCLOCK_HOST_SET_REFERENCE	_IOW(VMCLOCK_HOST_IOC_MAGIC, 0x04, \
					     struct vmclock_host_reference)
#define VMCLOCK_HOST_CLEAR_REFERENCE	_IO(VMCLOCK_HOST_IOC_MAGIC, 0x05)

#endif /* VMCLOCK_HOST_IOCTL_H */
