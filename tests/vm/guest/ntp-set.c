// SPDX-License-Identifier: GPL-2.0
/*
 * ntp-set TAI MAXERR_US: say, as an NTP daemon would after synchronising,
 * that CLOCK_REALTIME is synchronised (STA_UNSYNC cleared, no other status
 * bit), TAI - UTC = TAI s, maxerror MAXERR_US and esterror half of it.
 * vmclock_host publishes these as the page's status, tai_offset_sec and
 * error bounds. Prints the resulting adjtimex state; exit 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>

int main(int argc, char **argv)
{
	struct timex tx = { 0 };
	int state;

	if (argc != 3) {
		fprintf(stderr, "usage: ntp-set TAI MAXERR_US\n");
		return 2;
	}
	tx.modes = ADJ_TAI | ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR;
	tx.constant = atol(argv[1]);
	tx.status = 0;
	tx.maxerror = atol(argv[2]);
	tx.esterror = tx.maxerror / 2;
	state = adjtimex(&tx);
	if (state < 0) {
		perror("ntp-set: adjtimex");
		return 1;
	}
	tx.modes = 0;
	state = adjtimex(&tx);
	printf("NTPSET state=%d status=0x%x tai=%d maxerror=%ld esterror=%ld\n",
	       state, tx.status, tx.tai, tx.maxerror, tx.esterror);
	return state < 0 || (tx.status & STA_UNSYNC) || tx.tai != atol(argv[1]);
}
