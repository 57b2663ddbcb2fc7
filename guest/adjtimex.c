// SPDX-License-Identifier: GPL-2.0
/*
 * How this module reaches do_adjtimex(), the kernel-side body of
 * adjtimex(2): frequency, tick, set-offset, status, error bounds and TAI,
 * with the syscall's own validation.
 *
 * The entry is resolved by common/kadjtimex.c, shared with vmclock_host; it
 * never calls do_adjtimex() indirectly, which would fault on IBT kernels.
 * A kernel where it cannot be resolved safely refuses the module with a
 * clear message: a discipline that cannot steer the clock has no degraded
 * mode worth having.
 */
#include <linux/timex.h>

#include "../common/kadjtimex.h"
#include "vmclock_discipline.h"

int vmcd_adjtimex_init(void)
{
	return vmclock_kadjtimex_init();
}

const char *vmcd_adjtimex_how(void)
{
	return vmclock_kadjtimex_how();
}

int vmcd_adjtimex(struct __kernel_timex *txc)
{
	return vmclock_kadjtimex(txc);
}
