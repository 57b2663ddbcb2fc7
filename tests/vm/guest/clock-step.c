// SPDX-License-Identifier: GPL-2.0
/*
 * clock-step NS: step CLOCK_REALTIME by NS nanoseconds (signed), as an
 * administrator's or a daemon's step would (clock_adjtime ADJ_SETOFFSET,
 * ADJ_NANO). Exit 0 on success.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timex tx = { .modes = ADJ_SETOFFSET | ADJ_NANO };
	long long ns;

	if (argc != 2) {
		fprintf(stderr, "usage: clock-step NS\n");
		return 2;
	}
	ns = atoll(argv[1]);
	tx.time.tv_sec = ns / 1000000000LL;
	tx.time.tv_usec = ns % 1000000000LL;	/* ns with ADJ_NANO, >= 0 */
	if (tx.time.tv_usec < 0) {
		tx.time.tv_sec--;
		tx.time.tv_usec += 1000000000LL;
	}
	if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
		perror("clock-step: clock_adjtime");
		return 1;
	}
	return 0;
}
