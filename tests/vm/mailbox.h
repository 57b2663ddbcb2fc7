/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest -> host handshake record of the QEMU test harness (test-only ABI).
 *
 * The probe (tests/probe/vmclock_probe.c) writes one record into the
 * mailbox page (guest-physical 0x1f001000, next to the vmclock page) when it
 * loads; the simulator (tests/vm/sim/vmclock-sim.c) reads it through the
 * shared-memory RAM file and defines its reference line relative to it.
 *
 * Protocol: the probe writes every field except @magic, issues a write
 * barrier, then writes @magic. A reader waits for @magic, then a read
 * barrier, then reads the rest. @seq counts records (1 for the first).
 * All fields are host-endian (x86-64: little-endian).
 */
#ifndef VMCLOCK_TEST_MAILBOX_H
#define VMCLOCK_TEST_MAILBOX_H

#include <linux/types.h>

#define VMCLOCK_MAILBOX_MAGIC	0x58424d56	/* "VMBX" */

struct vmclock_mailbox {
	__u32 magic;		/* 0x00 VMCLOCK_MAILBOX_MAGIC, written last */
	__u32 seq;		/* 0x04 record number, 1 = first */
	__u64 tsc;		/* 0x08 counter value of the snapshot (cycles) */
	__s64 realtime_ns;	/* 0x10 CLOCK_REALTIME at @tsc, ns since epoch */
	__s64 mono_raw_ns;	/* 0x18 CLOCK_MONOTONIC_RAW at @tsc, ns */
	__u32 raw_mult;		/* 0x20 tkr_raw.mult: ns = cycles * mult >> shift */
	__u32 raw_shift;	/* 0x24 tkr_raw.shift */
	char clocksource[16];	/* 0x28 tkr_mono.clock->name, NUL-terminated */
	/*
	 * The guest's free-running CLOCK_REALTIME rate relative to its raw
	 * rate (NTP frequency 0): ntp_tick / (cycle_interval << shift) ns per
	 * cycle against raw_mult >> raw_shift. They differ by the rounding of
	 * cycle_interval, up to ~50 ppb at HZ=250 and 2.6 GHz.
	 */
	__u64 cycle_interval;	/* 0x38 cycles per NTP interval (1/HZ) */
	__u64 ntp_tick;		/* 0x40 ns per NTP interval << tkr_mono.shift */
	__u32 mono_mult;	/* 0x48 tkr_mono.mult at load */
	__u32 mono_shift;	/* 0x4c tkr_mono.shift */
	/*
	 * Heartbeat, outside the magic protocol: the counter at the probe's
	 * latest sample, stored on every sample. It stops while the VM is
	 * stopped and comes back behind the host's counter by the time the
	 * guest counter stood still (TCG), which the simulator measures.
	 */
	__u64 hb_tsc;		/* 0x50 counter at the latest sample (cycles) */
};

_Static_assert(sizeof(struct vmclock_mailbox) == 0x58, "vmclock_mailbox size");

#endif /* VMCLOCK_TEST_MAILBOX_H */
