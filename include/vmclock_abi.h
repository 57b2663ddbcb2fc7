/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) WITH Linux-syscall-note */
/*
 * vmclock page ABI: a hypervisor-published linear function from the CPU's
 * counter to time,
 *
 *   time = time_sec + time_frac_sec * 2^-64
 *        + (counter - counter_value) * counter_period_frac_sec
 *          * 2^-(64 + counter_period_shift)      [seconds]
 *
 * Written from the public VMClock specification (v1.0 with the v1.1 fix).
 * All fields are little-endian. A field exists only if @size covers it.
 * Usable from the kernel and from userspace: needs only <linux/types.h>.
 */
#ifndef VMCLOCK_ABI_H
#define VMCLOCK_ABI_H

#include <linux/types.h>

#define VMCLOCK_MAGIC			0x4b4c4356	/* "VCLK" */
#define VMCLOCK_VERSION			1

/* counter_id */
#define VMCLOCK_COUNTER_ARM_VCNT	0	/* Arm CNTVCT_EL0 */
#define VMCLOCK_COUNTER_X86_TSC		1
#define VMCLOCK_COUNTER_INVALID		0xff	/* no time data on the page */

/* time_type */
#define VMCLOCK_TIME_UTC		0
#define VMCLOCK_TIME_TAI		1
#define VMCLOCK_TIME_MONOTONIC		2
#define VMCLOCK_TIME_INVALID_SMEARED	3	/* not supported */
#define VMCLOCK_TIME_INVALID_MAYBE_SMEARED 4	/* not supported */

/* flags */
#define VMCLOCK_FLAG_TAI_OFFSET_VALID		(1ULL << 0)
#define VMCLOCK_FLAG_DISRUPTION_SOON		(1ULL << 1)	/* ~ a day */
#define VMCLOCK_FLAG_DISRUPTION_IMMINENT	(1ULL << 2)	/* ~ an hour */
#define VMCLOCK_FLAG_PERIOD_ESTERROR_VALID	(1ULL << 3)
#define VMCLOCK_FLAG_PERIOD_MAXERROR_VALID	(1ULL << 4)
#define VMCLOCK_FLAG_TIME_ESTERROR_VALID	(1ULL << 5)
#define VMCLOCK_FLAG_TIME_MAXERROR_VALID	(1ULL << 6)
#define VMCLOCK_FLAG_TIME_MONOTONIC		(1ULL << 7)
#define VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT	(1ULL << 8)
#define VMCLOCK_FLAG_NOTIFICATION_PRESENT	(1ULL << 9)
#define VMCLOCK_FLAGS_KNOWN			((1ULL << 10) - 1)

/* clock_status */
#define VMCLOCK_STATUS_UNKNOWN		0
#define VMCLOCK_STATUS_INITIALIZING	1
#define VMCLOCK_STATUS_SYNCHRONIZED	2
#define VMCLOCK_STATUS_FREERUNNING	3
#define VMCLOCK_STATUS_UNRELIABLE	4

/* leap_second_smearing_hint: a hint only, published time is never smeared */
#define VMCLOCK_SMEARING_STRICT		0
#define VMCLOCK_SMEARING_NOON_LINEAR	1
#define VMCLOCK_SMEARING_UTC_SLS	2

/* leap_indicator */
#define VMCLOCK_LEAP_NONE		0
#define VMCLOCK_LEAP_PRE_POS		1	/* insert at end of month */
#define VMCLOCK_LEAP_PRE_NEG		2	/* delete at end of month */
#define VMCLOCK_LEAP_POS		3	/* in 23:59:60 now */
#define VMCLOCK_LEAP_POST_POS		4	/* insertion just happened */
#define VMCLOCK_LEAP_POST_NEG		5	/* deletion just happened */

/*
 * Largest counter_period_shift accepted: frac * 2^-(64 + shift) must still
 * describe a counter of at least ~1 Hz; 2^63 Hz is far beyond any counter.
 */
#define VMCLOCK_PERIOD_SHIFT_MAX	63

struct vmclock_abi {
	__le32 magic;			/* 0x00 VMCLOCK_MAGIC */
	__le32 size;			/* 0x04 bytes of the region */
	__le16 version;			/* 0x08 VMCLOCK_VERSION */
	__u8 counter_id;		/* 0x0a VMCLOCK_COUNTER_* */
	__u8 time_type;			/* 0x0b VMCLOCK_TIME_* */
	__le32 seq_count;		/* 0x0c odd while the producer writes */
	__le64 disruption_marker;	/* 0x10 changes on migration/restore */
	__le64 flags;			/* 0x18 VMCLOCK_FLAG_* */
	__u8 pad[2];			/* 0x20 */
	__u8 clock_status;		/* 0x22 VMCLOCK_STATUS_* */
	__u8 leap_second_smearing_hint;	/* 0x23 VMCLOCK_SMEARING_* */
	__le16 tai_offset_sec;		/* 0x24 s16, UTC - TAI (-37 in 2026) */
	__u8 leap_indicator;		/* 0x26 VMCLOCK_LEAP_* */
	__u8 counter_period_shift;	/* 0x27 extra right shift of periods */
	__le64 counter_value;		/* 0x28 counter C1 at time T1 */
	__le64 counter_period_frac_sec;	/* 0x30 2^-(64+shift) s per tick */
	__le64 counter_period_esterror_rate_frac_sec;	/* 0x38 same unit */
	__le64 counter_period_maxerror_rate_frac_sec;	/* 0x40 same unit */
	__le64 time_sec;		/* 0x48 T1 whole seconds */
	__le64 time_frac_sec;		/* 0x50 T1 fraction, 2^-64 s */
	__le64 time_esterror_nanosec;	/* 0x58 ns */
	__le64 time_maxerror_nanosec;	/* 0x60 ns */
	__le64 vm_generation_counter;	/* 0x68 changes on restore/clone */
};

#define VMCLOCK_ABI_OFFSET_CHECK(field, off)				\
	_Static_assert(__builtin_offsetof(struct vmclock_abi, field) == (off), \
		       "vmclock_abi." #field " offset")

VMCLOCK_ABI_OFFSET_CHECK(size, 0x04);
VMCLOCK_ABI_OFFSET_CHECK(version, 0x08);
VMCLOCK_ABI_OFFSET_CHECK(counter_id, 0x0a);
VMCLOCK_ABI_OFFSET_CHECK(time_type, 0x0b);
VMCLOCK_ABI_OFFSET_CHECK(seq_count, 0x0c);
VMCLOCK_ABI_OFFSET_CHECK(disruption_marker, 0x10);
VMCLOCK_ABI_OFFSET_CHECK(flags, 0x18);
VMCLOCK_ABI_OFFSET_CHECK(clock_status, 0x22);
VMCLOCK_ABI_OFFSET_CHECK(leap_second_smearing_hint, 0x23);
VMCLOCK_ABI_OFFSET_CHECK(tai_offset_sec, 0x24);
VMCLOCK_ABI_OFFSET_CHECK(leap_indicator, 0x26);
VMCLOCK_ABI_OFFSET_CHECK(counter_period_shift, 0x27);
VMCLOCK_ABI_OFFSET_CHECK(counter_value, 0x28);
VMCLOCK_ABI_OFFSET_CHECK(counter_period_frac_sec, 0x30);
VMCLOCK_ABI_OFFSET_CHECK(counter_period_esterror_rate_frac_sec, 0x38);
VMCLOCK_ABI_OFFSET_CHECK(counter_period_maxerror_rate_frac_sec, 0x40);
VMCLOCK_ABI_OFFSET_CHECK(time_sec, 0x48);
VMCLOCK_ABI_OFFSET_CHECK(time_frac_sec, 0x50);
VMCLOCK_ABI_OFFSET_CHECK(time_esterror_nanosec, 0x58);
VMCLOCK_ABI_OFFSET_CHECK(time_maxerror_nanosec, 0x60);
VMCLOCK_ABI_OFFSET_CHECK(vm_generation_counter, 0x68);
_Static_assert(sizeof(struct vmclock_abi) == 0x70, "vmclock_abi size");

#endif /* VMCLOCK_ABI_H */
