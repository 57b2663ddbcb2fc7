// SPDX-License-Identifier: GPL-2.0
/*
 * do_adjtimex() for a module, without ever calling do_adjtimex() indirectly.
 *
 * Stock kernels do not export it. A kernel that does (Kbuild finds it in
 * Module.symvers) is called directly. Otherwise the call goes to
 * CLOCK_REALTIME's .clock_adj, posix_clock_realtime_adj() in
 * kernel/time/posix-timers.c, which is "return do_adjtimex(t);" (checked in
 * 6.1 and 7.3), its address resolved once through a kprobe and checked
 * against kallsyms.
 *
 * Why not do_adjtimex() itself: the kernel calls it only directly, so on
 * CONFIG_X86_KERNEL_IBT kernels objtool lists it in .ibt_endbr_seal and the
 * kernel overwrites its ENDBR64 at boot; an indirect call to it is then a
 * #CP "Missing ENDBR" on CET-IBT hardware. The kernel takes the address of
 * posix_clock_realtime_adj() (struct k_clock clock_realtime), so it keeps
 * its ENDBR64: tests/ibt-check proves both against Debian's 7.3 image. On
 * IBT kernels the ENDBR64 is also checked here before the first call, and
 * the module refuses to load without it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/kallsyms.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/time.h>
#include <linux/timex.h>
#include <linux/uaccess.h>

#include "kadjtimex.h"

#ifdef VMCD_HAVE_EXPORTED_DO_ADJTIMEX

int vmclock_kadjtimex_init(void)
{
	return 0;
}

int vmclock_kadjtimex(struct __kernel_timex *txc)
{
	return do_adjtimex(txc);
}

const char *vmclock_kadjtimex_how(void)
{
	return "exported do_adjtimex";
}

#else

static bool ibt_check;
module_param(ibt_check, bool, 0444);
MODULE_PARM_DESC(ibt_check,
		 "Test knob: check the ENDBR64 at the adjtimex entry also on kernels built without CONFIG_X86_KERNEL_IBT, where no function has one, so loading fails (bool, default N: checked on IBT kernels only)");

/* The target's own type: kCFI kernels check it at the call. */
static typeof(posix_clock_realtime_adj) *vmclock_clock_adj;
static bool vmclock_endbr_checked;

/*
 * ENDBR64 is f3 0f 1e fa, 0xfa1e0ff3 as a little-endian u32. It is kept
 * inverted and loaded with READ_ONCE() so that these bytes never appear as
 * an immediate in this module's text, where they would be a landing pad
 * for any indirect branch (the kernel's gen_endbr() does the same).
 */
static const u32 vmclock_endbr64_inv = ~0xfa1e0ff3U;

static int vmclock_check_endbr(void *fn)
{
	__le32 insn;

	if (copy_from_kernel_nofault(&insn, fn, sizeof(insn))) {
		pr_err("cannot read the entry of %pS; refusing to load\n", fn);
		return -EOPNOTSUPP;
	}
	if (~le32_to_cpu(insn) != READ_ONCE(vmclock_endbr64_inv)) {
		pr_err("%pS starts with %4ph, not ENDBR64: an indirect call would fault under IBT; refusing to load\n",
		       fn, &insn);
		/* FineIBT moves the landing pad into the __cfi_ preamble */
		if (IS_ENABLED(CONFIG_CFI_CLANG))
			pr_err("this kernel is built with kCFI (FineIBT), which this module does not support yet\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Is @addr exactly the entry of the core kernel's @name, by kallsyms? */
static bool vmclock_is_entry(unsigned long addr, const char *name)
{
	char sym[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);

	sprint_symbol(sym, addr);
	return !strncmp(sym, name, len) && !strncmp(sym + len, "+0x0/", 5) &&
	       !strchr(sym, '[');
}

int vmclock_kadjtimex_init(void)
{
	static const char name[] = "posix_clock_realtime_adj";
	/* Disabled: only the address is wanted, no text is patched. */
	struct kprobe kp = {
		.symbol_name = name,
		.flags = KPROBE_FLAG_DISABLED,
	};
	unsigned long addr;
	int ret;

	ret = register_kprobe(&kp);
	if (ret) {
		pr_err("cannot resolve %s (kprobe: %d); this kernel's clock cannot be steered by this module\n",
		       name, ret);
		return -ENOENT;
	}
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);

	/* On IBT kernels the probe sits after the ENDBR64 at the entry. */
	if (!vmclock_is_entry(addr, name) && vmclock_is_entry(addr - 4, name))
		addr -= 4;
	if (!vmclock_is_entry(addr, name)) {
		pr_err("%s resolved to %pS, not its entry; refusing to load\n",
		       name, (void *)addr);
		return -EOPNOTSUPP;
	}

	/*
	 * On every IBT kernel, not only when X86_FEATURE_IBT is on (it can
	 * only be on there): the seal is applied at boot whatever the CPU,
	 * so the check means the same under QEMU's TCG, which has no CET.
	 */
	if (IS_ENABLED(CONFIG_X86_KERNEL_IBT) || ibt_check) {
		ret = vmclock_check_endbr((void *)addr);
		if (ret)
			return ret;
		vmclock_endbr_checked = true;
	}
	vmclock_clock_adj = (typeof(vmclock_clock_adj))addr;
	return 0;
}

int vmclock_kadjtimex(struct __kernel_timex *txc)
{
	if (!vmclock_clock_adj)
		return -EOPNOTSUPP;
	return vmclock_clock_adj(CLOCK_REALTIME, txc);
}

const char *vmclock_kadjtimex_how(void)
{
	return vmclock_endbr_checked ?
	       "posix_clock_realtime_adj via kprobe address, ENDBR64 checked" :
	       "posix_clock_realtime_adj via kprobe address";
}

#endif /* VMCD_HAVE_EXPORTED_DO_ADJTIMEX */
