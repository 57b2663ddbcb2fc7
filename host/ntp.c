// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only access to the host's NTP state.
 *
 * The NTP state (time_status, time_state, maxerror, ...) is static in
 * kernel/time/ntp.c and do_adjtimex() is not exported. common/kadjtimex.c,
 * shared with the guest module, resolves an IBT-safe entry to it once; it
 * is only ever called with modes = 0 from process context, which changes
 * nothing.
 */
#include <linux/timex.h>

#include "../common/kadjtimex.h"
#include "vmclock_host.h"

int vmch_ntp_init(void)
{
	return vmclock_kadjtimex_init();
}

int vmch_ntp_read(struct vmch_ntp *ntp)
{
	struct __kernel_timex txc = { .modes = 0 };
	int ret;

	ret = vmclock_kadjtimex(&txc);
	if (ret < 0)
		return ret;
	ntp->state = ret;
	ntp->status = txc.status;
	ntp->maxerror = txc.maxerror;
	ntp->esterror = txc.esterror;
	ntp->tai = txc.tai;
	return 0;
}
