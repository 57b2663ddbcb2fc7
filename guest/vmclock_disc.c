// SPDX-License-Identifier: GPL-2.0
/* The discipline's decisions, compiled into this module unchanged. */
#include "../lib/vmclock_disc.c"
