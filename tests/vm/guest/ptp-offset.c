// SPDX-License-Identifier: GPL-2.0
/*
 * ptp-offset: a second, fully external measurement of CLOCK_REALTIME against
 * the vmclock page, through the upstream ptp_vmclock driver alone (none of
 * the project's or the harness's code): PTP_SYS_OFFSET_PRECISE on the PTP
 * clock named NAME gives the device (page) time and CLOCK_REALTIME /
 * CLOCK_MONOTONIC_RAW at one counter value.
 *
 * The PTP clock is UTC on Linux 6.13-6.19 and TAI on 7.0+; the time scale
 * is recognised from the first sample (device - realtime ~ -tai_offset_sec)
 * and TAI is converted with the page's tai_offset_sec (UTC - TAI), read
 * through ptp_vmclock's /dev/NAME.
 *
 * Output, one line per sample (err > 0: CLOCK_REALTIME ahead of the page):
 *   PTPX <mono_raw_ns> <err_ns>
 * and at the end
 *   PTPSUM name=NAME scale=utc|tai tai_offset=N n=N fails=N p50=N p99=N max=N
 *
 * Usage: ptp-offset [-t SECONDS] [-r HZ] [-q] [NAME]   (default 10 s, 100 Hz,
 *        vmclock0; -q: summary only). Exit 0 when every ioctl worked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 100000

static long long ns_of(const struct ptp_clock_time *t)
{
	return (long long)t->sec * 1000000000LL + t->nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* /dev/ptpN whose clock_name is @name, or -1 */
static int open_ptp(const char *name)
{
	char path[300], buf[64];
	struct dirent *de;
	DIR *d = opendir("/sys/class/ptp");
	int fd = -1;

	if (!d)
		return -1;
	while (fd < 0 && (de = readdir(d))) {
		FILE *f;

		if (strncmp(de->d_name, "ptp", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/class/ptp/%s/clock_name",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = 0;
			if (!strcmp(buf, name)) {
				snprintf(path, sizeof(path), "/dev/%s",
					 de->d_name);
				fd = open(path, O_RDONLY);
			}
		}
		fclose(f);
	}
	closedir(d);
	return fd;
}

int main(int argc, char **argv)
{
	static long long errs[MAX_SAMPLES];
	const char *name = "vmclock0";
	double seconds = 10, hz = 100;
	int quiet = 0, opt, fd, vfd, tai = -1;
	unsigned char page[0x70];
	char path[300];
	long n = 0, fails = 0;
	short tai_offset;
	struct timespec start, now, period;

	while ((opt = getopt(argc, argv, "t:r:q")) != -1) {
		switch (opt) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			hz = atof(optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			fprintf(stderr, "usage: ptp-offset [-t S] [-r HZ] [-q] [NAME]\n");
			return 2;
		}
	}
	if (optind < argc)
		name = argv[optind];

	fd = open_ptp(name);
	if (fd < 0) {
		fprintf(stderr, "ptp-offset: no PTP clock named %s\n", name);
		return 1;
	}
	snprintf(path, sizeof(path), "/dev/%s", name);
	vfd = open(path, O_RDONLY);
	if (vfd < 0 || read(vfd, page, sizeof(page)) != sizeof(page)) {
		fprintf(stderr, "ptp-offset: cannot read %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	close(vfd);
	if (page[0] != 'V' || page[1] != 'C' || page[2] != 'L' || page[3] != 'K') {
		fprintf(stderr, "ptp-offset: %s: bad magic\n", path);
		return 1;
	}
	tai_offset = (short)(page[0x24] | page[0x25] << 8);

	period.tv_sec = (time_t)(1 / hz);
	period.tv_nsec = (long)((1 / hz - period.tv_sec) * 1e9);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct ptp_sys_offset_precise p;
		long long dev, real, err;

		memset(&p, 0, sizeof(p));
		if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p)) {
			if (!fails++)
				fprintf(stderr, "ptp-offset: PTP_SYS_OFFSET_PRECISE: %s\n",
					strerror(errno));
		} else {
			dev = ns_of(&p.device);
			real = ns_of(&p.sys_realtime);
			if (tai < 0) {
				long long d = dev - real + tai_offset * 1000000000LL;

				tai = d > -500000000LL && d < 500000000LL &&
				      tai_offset != 0;
			}
			if (tai)
				dev += tai_offset * 1000000000LL;
			err = real - dev;
			if (!quiet)
				printf("PTPX %lld %lld\n", ns_of(&p.sys_monoraw),
				       err);
			if (n < MAX_SAMPLES)
				errs[n++] = err < 0 ? -err : err;
		}
		nanosleep(&period, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) +
		 (now.tv_nsec - start.tv_nsec) * 1e-9 < seconds);

	qsort(errs, n, sizeof(errs[0]), cmp_ll);
	printf("PTPSUM name=%s scale=%s tai_offset=%d n=%ld fails=%ld p50=%lld p99=%lld max=%lld\n",
	       name, tai > 0 ? "tai" : "utc", tai_offset, n, fails,
	       n ? errs[n / 2] : -1, n ? errs[n * 99 / 100] : -1,
	       n ? errs[n - 1] : -1);
	return fails || !n;
}
