/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vmclock_discipline: lock CLOCK_REALTIME to a hypervisor's vmclock page.
 */
#ifndef VMCLOCK_DISCIPLINE_H
#define VMCLOCK_DISCIPLINE_H

#include <linux/ioport.h>
#include <linux/timex.h>
#include <linux/types.h>

/* device.c: the vmclock region found through firmware */
struct vmcd_region {
	struct resource res;	/* one memory range, never claimed */
	char name[32];		/* firmware device name, for status */
};

int vmcd_find_region(unsigned int index, struct vmcd_region *region);

struct vmclock_abi;

/*
 * A seq-consistent copy of the @size-byte page at @page into @copy, with
 * @sample(@arg) run while the page was seen stable (e.g. a counter read).
 * -ETIMEDOUT if the producer kept it odd or changing for
 * VMCD_PAGE_READ_MAX_NS (as upstream ptp_vmclock: 100 ms). Process
 * context only: it reschedules while it waits.
 */
#define VMCD_PAGE_READ_MAX_NS	(100 * NSEC_PER_MSEC)
int vmcd_page_read(const struct vmclock_abi *page, u32 size,
		   struct vmclock_abi *copy, void (*sample)(void *arg),
		   void *arg);

/* adjtimex.c: how this module reaches the kernel's adjtimex machinery */
int vmcd_adjtimex_init(void);
const char *vmcd_adjtimex_how(void);
int vmcd_adjtimex(struct __kernel_timex *txc);

/*
 * lookalike.c: look-alikes of ptp_vmclock's interfaces (PTP clock,
 * /dev/vmclockN) for kernels without it; kshim.h holds the kernel shims.
 */
struct clocksource;
struct vmcd_lookalike;

struct vmcd_lookalike *vmcd_lookalike_create(const struct vmcd_region *r,
					     const struct vmclock_abi *page,
					     u32 page_size, unsigned int index,
					     struct clocksource *(*clock)(void *),
					     void *ctx);
void vmcd_lookalike_seen(struct vmcd_lookalike *c, u32 seq);
bool vmcd_lookalike_watched(struct vmcd_lookalike *c);
void vmcd_lookalike_destroy(struct vmcd_lookalike *c);

#endif /* VMCLOCK_DISCIPLINE_H */
