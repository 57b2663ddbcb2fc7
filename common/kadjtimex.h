/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's adjtimex machinery (do_adjtimex() semantics), reached the same
 * IBT-safe way by both modules: common/kadjtimex.c, compiled into each one
 * (guest/kadjtimex.c, host/kadjtimex.c). Kernel-only.
 */
#ifndef VMCLOCK_KADJTIMEX_H
#define VMCLOCK_KADJTIMEX_H

#include <linux/types.h>

struct __kernel_timex;

/*
 * The entry called, as the kernel declares it: static in
 * kernel/time/posix-timers.c, CLOCK_REALTIME's .clock_adj (6.1 to 7.3).
 * Only its type is used here (typeof); the address comes from kallsyms.
 */
int posix_clock_realtime_adj(const clockid_t which_clock,
			     struct __kernel_timex *t);

/*
 * Resolve once, from module init. 0, or (with a pr_err) -ENOENT when the
 * entry cannot be found (no kprobes, no such symbol), -EOPNOTSUPP when it
 * was found but calling it could fault (not its entry, no ENDBR64).
 */
int vmclock_kadjtimex_init(void);

/* adjtimex(2) on CLOCK_REALTIME: the TIME_* state or -errno. */
int vmclock_kadjtimex(struct __kernel_timex *txc);

/* How the entry is reached, for the load message. */
const char *vmclock_kadjtimex_how(void);

#endif /* VMCLOCK_KADJTIMEX_H */
