// SPDX-License-Identifier: GPL-2.0
/*
 * The debug tier's canary: a test-only module that commits, on purpose,
 * each defect the debug kernel is there to catch, so that the tier shows
 * it can go red (tests/debug/run, canary.scn). Never built for users.
 *
 * Each parameter is one defect, done once at load:
 *   leak     a 256-byte allocation is dropped (kmemleak, after unload)
 *   lockdep  two mutexes taken in both orders (lockdep: circular dependency)
 *   uaf      a read of freed memory (KASAN: use-after-free); the object
 *            is larger than a page, so KFENCE (which samples one
 *            allocation every 100 ms and would report it itself) never
 *            takes it
 *   atomic   might_sleep() under a spinlock (DEBUG_ATOMIC_SLEEP)
 *   ubsan    a shift by 40 of a 32-bit value (UBSAN: shift-out-of-bounds)
 *   odebug   kfree() of an armed timer (ODEBUG: free active object;
 *            debugobjects deactivates it, so it never fires)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timer.h>

static bool leak, lockdep, uaf, atomic, ubsan, odebug;
module_param(leak, bool, 0444);
module_param(lockdep, bool, 0444);
module_param(uaf, bool, 0444);
module_param(atomic, bool, 0444);
module_param(ubsan, bool, 0444);
module_param(odebug, bool, 0444);

/* runtime values the compiler cannot fold */
static unsigned int canary_shift = 40;
module_param(canary_shift, uint, 0444);

static DEFINE_MUTEX(canary_a);
static DEFINE_MUTEX(canary_b);
static DEFINE_SPINLOCK(canary_lock);
static void *canary_lost;

struct canary_timer {
	struct timer_list t;
};

static void canary_timer_fn(struct timer_list *t)
{
}

static int __init canary_init(void)
{
	if (leak) {
		canary_lost = kmalloc(256, GFP_KERNEL);
		/* the only reference goes; kmemleak finds it unreferenced */
		WRITE_ONCE(canary_lost, NULL);
		pr_info("leaked 256 bytes\n");
	}
	if (lockdep) {
		mutex_lock(&canary_a);
		mutex_lock(&canary_b);
		mutex_unlock(&canary_b);
		mutex_unlock(&canary_a);
		mutex_lock(&canary_b);
		mutex_lock(&canary_a);
		mutex_unlock(&canary_a);
		mutex_unlock(&canary_b);
		pr_info("took a and b in both orders\n");
	}
	if (uaf) {
		char *p = kmalloc(PAGE_SIZE + 64, GFP_KERNEL);

		if (!p)
			return -ENOMEM;
		kfree(p);
		OPTIMIZER_HIDE_VAR(p);
		pr_info("read %d after free\n", READ_ONCE(p[8]));
	}
	if (atomic) {
		spin_lock(&canary_lock);
		might_sleep();
		spin_unlock(&canary_lock);
	}
	if (ubsan)
		pr_info("1 << %u = %u\n", canary_shift, 1U << canary_shift);
	if (odebug) {
		struct canary_timer *c = kzalloc(sizeof(*c), GFP_KERNEL);

		if (c) {
			timer_setup(&c->t, canary_timer_fn, 0);
			mod_timer(&c->t, jiffies + 60 * HZ);
			kfree(c);
		}
	}
	return 0;
}

static void __exit canary_exit(void)
{
}

module_init(canary_init);
module_exit(canary_exit);

MODULE_DESCRIPTION("vmclock-dkms test only: defects the debug kernel must report");
MODULE_LICENSE("GPL");
