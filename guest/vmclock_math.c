// SPDX-License-Identifier: GPL-2.0
/* The shared arithmetic unit, compiled into this module unchanged. */
#include "../lib/vmclock_math.c"
