// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only access to the host's NTP state.
 *
 * The NTP state (time_status, time_state, maxerror, ...) is static in
 * kernel/time/ntp.c and do_adjtimex() is not exported. Its address is
 * resolved once through a kprobe on the symbol, and it is only ever called
 * with modes = 0 from process context, which changes nothing.
 */
#include <linux/kprobes.h>
#include <linux/timex.h>
#include <linux/uaccess.h>
#include "vmclock_host.h"

static int (*vmch_do_adjtimex)(struct __kernel_timex *txc);

int vmch_ntp_init(void)
{
	struct kprobe kp = { .symbol_name = "do_adjtimex" };
	unsigned long addr;
	int ret;

	ret = register_kprobe(&kp);
	if (ret)
		return ret;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

#ifdef CONFIG_X86_KERNEL_IBT
	/*
	 * With IBT the probe lands after the ENDBR64 (f3 0f 1e fa) that
	 * starts the function; an indirect call must hit the ENDBR64.
	 */
	{
		u8 insn[4];

		if (!copy_from_kernel_nofault(insn, (void *)(addr - 4), 4) &&
		    insn[0] == 0xf3 && insn[1] == 0x0f && insn[2] == 0x1e &&
		    insn[3] == 0xfa)
			addr -= 4;
	}
#endif
	vmch_do_adjtimex = (void *)addr;
	return 0;
}

int vmch_ntp_read(struct vmch_ntp *ntp)
{
	struct __kernel_timex txc = { .modes = 0 };
	int ret;

	if (!vmch_do_adjtimex)
		return -EOPNOTSUPP;
	ret = vmch_do_adjtimex(&txc);
	if (ret < 0)
		return ret;
	ntp->state = ret;
	ntp->status = txc.status;
	ntp->maxerror = txc.maxerror;
	ntp->esterror = txc.esterror;
	ntp->tai = txc.tai;
	return 0;
}
