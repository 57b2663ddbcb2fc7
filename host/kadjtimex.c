// SPDX-License-Identifier: GPL-2.0
/* The shared adjtimex entry resolver, compiled into this module unchanged. */
#include "../common/kadjtimex.c"
