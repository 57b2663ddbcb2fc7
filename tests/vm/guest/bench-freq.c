// SPDX-License-Identifier: GPL-2.0
/*
 * bench-freq - sample the frequency the kernel applies to CLOCK_REALTIME.
 *
 * Every INTERVAL ms (default 50) reads adjtimex(modes = 0) and writes
 * "F <ppb> <tick> <freq> <status>" to the probe device, where it becomes an
 * "M <raw_ns> F ..." marker in data.log. ppb is the whole applied rate
 * offset: (tick - nominal) * 100000 ppb (one us of a 10000 us tick is
 * 100 ppm at USER_HZ = 100) plus freq (2^-16 ppm units).
 *
 * Usage: bench-freq [-i MS] [-t SECONDS] [-o PATH]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#define NOMINAL_TICK	10000	/* us per USER_HZ tick */

int main(int argc, char **argv)
{
	const char *path = "/dev/vmclock_probe";
	long interval_ms = 50;
	double seconds = 3600;
	struct timespec next, now;
	int fd, opt;

	while ((opt = getopt(argc, argv, "i:t:o:")) != -1) {
		switch (opt) {
		case 'i':
			interval_ms = atol(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'o':
			path = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: bench-freq [-i MS] [-t SECONDS] [-o PATH]\n");
			return 2;
		}
	}
	if (interval_ms < 1)
		interval_ms = 1;
	fd = open(path, O_WRONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	now = next;
	seconds += now.tv_sec + now.tv_nsec / 1e9;
	for (;;) {
		struct timex tx;
		char line[96];
		long long ppb;
		int n;

		memset(&tx, 0, sizeof(tx));
		if (adjtimex(&tx) < 0) {
			perror("adjtimex");
			return 1;
		}
		ppb = (long long)(tx.tick - NOMINAL_TICK) * 100000 +
		      (long long)tx.freq * 1000 / 65536;
		n = snprintf(line, sizeof(line), "F %lld %ld %ld %d\n", ppb,
			     tx.tick, tx.freq, tx.status);
		if (write(fd, line, n) != n) {
			perror("write");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec + now.tv_nsec / 1e9 > seconds)
			return 0;
		next.tv_nsec += interval_ms * 1000000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
}
