/* SPDX-License-Identifier: GPL-2.0 */
/* The unit tests' one TAP helper: "ok N - ..." / "not ok N - ...". */
#ifndef VMCLOCK_TEST_TAP_H
#define VMCLOCK_TEST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;

/* One test point; returns @ok so callers can add diagnostics on failure. */
static int tap(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		tap_failed++;
	return ok;
}

#endif /* VMCLOCK_TEST_TAP_H */
