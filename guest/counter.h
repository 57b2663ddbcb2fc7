/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The CPU counter a vmclock page can describe on this architecture: its
 * counter_id in the page, the name of its clocksource, and a read of it.
 * The one definition for the discipline and the PTP clock.
 */
#ifndef VMCLOCK_DISCIPLINE_COUNTER_H
#define VMCLOCK_DISCIPLINE_COUNTER_H

#include <linux/types.h>

#include "vmclock_abi.h"

#if defined(CONFIG_X86)
#include <asm/msr.h>
#define VMCD_COUNTER_ID		VMCLOCK_COUNTER_X86_TSC
#define VMCD_CLOCKSOURCE	"tsc"
static inline u64 vmcd_counter_read(void)
{
	return rdtsc_ordered();
}
#elif defined(CONFIG_ARM64)
#include <asm/arch_timer.h>
#define VMCD_COUNTER_ID		VMCLOCK_COUNTER_ARM_VCNT
#define VMCD_CLOCKSOURCE	"arch_sys_counter"
static inline u64 vmcd_counter_read(void)
{
	return __arch_counter_get_cntvct();
}
#else
#error "vmclock_discipline supports x86-64 and arm64"
#endif

#endif /* VMCLOCK_DISCIPLINE_COUNTER_H */
