// SPDX-License-Identifier: GPL-2.0
/*
 * pll-offset: leave the kernel PLL with a pending offset, as an NTP daemon
 * does (ADJ_STATUS with STA_PLL, ADJ_OFFSET in us), so a test can check
 * that whoever takes the clock next cancels it. Busybox's adjtimex cannot
 * set the status word.
 *
 * Usage: pll-offset OFFSET_US   set STA_PLL and the offset; print the state
 *        pll-offset             print "status N offset N" only
 * Exit 0 when adjtimex() succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>

int main(int argc, char **argv)
{
	struct timex tx = { .modes = 0 };

	if (argc > 1) {
		tx.modes = ADJ_STATUS | ADJ_OFFSET;
		tx.status = STA_PLL;
		tx.offset = strtol(argv[1], NULL, 0);
	}
	if (adjtimex(&tx) < 0) {
		perror("adjtimex");
		return 1;
	}
	tx.modes = 0;
	if (adjtimex(&tx) < 0) {
		perror("adjtimex");
		return 1;
	}
	printf("status %d offset %ld\n", tx.status, tx.offset);
	return 0;
}
