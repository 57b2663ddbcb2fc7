// SPDX-License-Identifier: GPL-2.0
/*
 * The one place that knows how this module reaches do_adjtimex(), the
 * kernel-side body of adjtimex(2): frequency, tick, set-offset, status,
 * error bounds and TAI, with the syscall's own validation.
 *
 * Stock kernels do not export it. A kernel built with it exported (the
 * Kbuild feature test finds it in Module.symvers) is called directly;
 * otherwise its address is resolved once through a kprobe and checked
 * against kallsyms. A kernel where neither works (no CONFIG_KPROBES, or
 * the symbol is gone) refuses the module with a clear message: a
 * discipline that cannot steer the clock has no degraded mode worth
 * having.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "vmclock_discipline.h"

#ifdef VMCD_HAVE_EXPORTED_DO_ADJTIMEX

int vmcd_adjtimex_init(void)
{
	return 0;
}

const char *vmcd_adjtimex_how(void)
{
	return "exported do_adjtimex";
}

int vmcd_adjtimex(struct __kernel_timex *txc)
{
	return do_adjtimex(txc);
}

#else

static int (*vmcd_do_adjtimex)(struct __kernel_timex *txc);

/* Is @addr exactly the entry of do_adjtimex, by kallsyms? */
static bool vmcd_is_entry(unsigned long addr)
{
	char sym[KSYM_SYMBOL_LEN];

	sprint_symbol(sym, addr);
	return !strncmp(sym, "do_adjtimex+0x0/", 16);
}

int vmcd_adjtimex_init(void)
{
	struct kprobe kp = { .symbol_name = "do_adjtimex" };
	unsigned long addr;
	int ret;

	ret = register_kprobe(&kp);
	if (ret) {
		pr_err("cannot resolve do_adjtimex (kprobe: %d); this kernel cannot be disciplined by this module\n",
		       ret);
		return ret == -EOPNOTSUPP ? -EOPNOTSUPP : -ENOENT;
	}
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	/* On IBT kernels the probe sits after the ENDBR64 at the entry. */
	if (!vmcd_is_entry(addr) && vmcd_is_entry(addr - 4))
		addr -= 4;
	if (!vmcd_is_entry(addr)) {
		pr_err("do_adjtimex resolved to %pS, not its entry; refusing\n",
		       (void *)addr);
		return -ENOENT;
	}
	vmcd_do_adjtimex = (void *)addr;
	return 0;
}

const char *vmcd_adjtimex_how(void)
{
	return "do_adjtimex via kprobe address";
}

int vmcd_adjtimex(struct __kernel_timex *txc)
{
	return vmcd_do_adjtimex(txc);
}

#endif
