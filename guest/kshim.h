/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces that drift between the kernels this module builds
 * for, each behind one helper. Features are detected at build time by
 * Kbuild (VMCD_HAVE_* from the kernel headers), never by version checks.
 */
#ifndef VMCLOCK_DISCIPLINE_KSHIM_H
#define VMCLOCK_DISCIPLINE_KSHIM_H

#include <linux/clocksource.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/timekeeper_internal.h>
#include <linux/timekeeping.h>

/* CLOCK_REALTIME and CLOCK_MONOTONIC_RAW at one counter read */
struct vmcd_snap {
	u64 cycles;		/* the clocksource counter */
	s64 real_ns;		/* CLOCK_REALTIME, ns */
	s64 raw_ns;		/* CLOCK_MONOTONIC_RAW, ns */
};

/*
 * Linux 7.3 replaced ktime_get_snapshot() (fields real/raw/boot) with
 * ktime_get_snapshot_id(clockid, &snap) (fields systime/monoraw, plus
 * hw_cycles/hw_csid for derived clocksources). @cycles stays the counter
 * value of the clocksource in use (the TSC here).
 */
static inline void vmcd_get_snapshot(struct vmcd_snap *s)
{
	struct system_time_snapshot snap;

#ifdef VMCD_HAVE_KTIME_GET_SNAPSHOT_ID
	ktime_get_snapshot_id(CLOCK_REALTIME, &snap);
	s->cycles = snap.cycles;
	s->real_ns = ktime_to_ns(snap.systime);
	s->raw_ns = ktime_to_ns(snap.monoraw);
#else
	ktime_get_snapshot(&snap);
	s->cycles = snap.cycles;
	s->real_ns = ktime_to_ns(snap.real);
	s->raw_ns = ktime_to_ns(snap.raw);
#endif
}

/* From the pvclock_gtod notifier's timekeeper: the clocksource in use */
static inline struct clocksource *vmcd_tk_clock(struct timekeeper *tk)
{
	return tk->tkr_mono.clock;
}

/*
 * ... and its raw rate, mult / 2^shift ns per counter tick: the rate of
 * CLOCK_MONOTONIC_RAW, against which adjtimex frequencies are realised
 */
static inline u32 vmcd_tk_raw_mult(struct timekeeper *tk)
{
	return tk->tkr_raw.mult;
}

static inline u32 vmcd_tk_raw_shift(struct timekeeper *tk)
{
	return tk->tkr_raw.shift;
}

/* ... the counter value of its last accumulation (on the tick grid) */
static inline u64 vmcd_tk_cycle_last(struct timekeeper *tk)
{
	return tk->tkr_mono.cycle_last;
}

/* ... CLOCK_REALTIME - CLOCK_MONOTONIC, ns: changes only when it steps */
static inline s64 vmcd_tk_offs_real(struct timekeeper *tk)
{
	return ktime_to_ns(tk->offs_real);
}

/*
 * ... CLOCK_BOOTTIME - CLOCK_MONOTONIC, ns: grows only by the sleep time
 * the kernel injects on resume (persistent clock, nonstop counter or RTC)
 */
static inline s64 vmcd_tk_offs_boot(struct timekeeper *tk)
{
	return ktime_to_ns(tk->offs_boot);
}

/* ... and its counter ticks per NTP interval (1/NTP_INTERVAL_FREQ s) */
static inline u64 vmcd_tk_cycle_interval(struct timekeeper *tk)
{
	return tk->cycle_interval;
}

/* Make a mapping impossible to mprotect() to what @flags allow (VM_MAY*). */
static inline void vmcd_vma_clear_flags(struct vm_area_struct *vma,
					vm_flags_t flags)
{
#ifdef VMCD_HAVE_VM_FLAGS_CLEAR
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * How the vmclock region is mapped into the kernel: write-back, and on a
 * confidential guest (SEV, TDX) decrypted, i.e. shared with the host that
 * writes it, as ptp_vmclock maps it. Kernels without MEMREMAP_DEC have no
 * such guests to support.
 */
#ifdef VMCD_HAVE_MEMREMAP_DEC
#define VMCD_MEMREMAP_FLAGS	(MEMREMAP_WB | MEMREMAP_DEC)
#else
#define VMCD_MEMREMAP_FLAGS	MEMREMAP_WB
#endif

/* The first @size bytes of @res mapped for reading; NULL on failure. */
static inline const void *vmcd_map_region(const struct resource *res,
					  size_t size)
{
	return memremap(res->start, size, VMCD_MEMREMAP_FLAGS);
}

/*
 * A cross-timestamp's counter identity (get_device_system_crosststamp):
 * the clocksource pointer up to 6.x, its id (cs_id) from 6.9 on.
 */
static inline void vmcd_counterval_set_cs(struct system_counterval_t *sc,
					  struct clocksource *cs)
{
#ifdef VMCD_HAVE_COUNTERVAL_CS_ID
	sc->cs_id = cs ? cs->id : CSID_GENERIC;
#else
	sc->cs = cs;
#endif
}

#endif /* VMCLOCK_DISCIPLINE_KSHIM_H */
