// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-compat: exercise what ptp_vmclock offers (and vmclock_discipline's
 * compatibility interfaces on kernels without it), as its users do.
 *
 *   vmc-compat dev [/dev/vmclock0]   read, mmap rules, poll; exit 0 if all hold
 *   vmc-compat precise N [PTPDEV]    N PTP_SYS_OFFSET_PRECISE reads, 10 ms apart:
 *                                    prints "PRECISE <realtime - device> ns" each,
 *                                    then "PRECISE-SUMMARY n= p50= max=" of |x|
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fails;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "COMPAT-OK" : "COMPAT-FAIL", what);
	fails += !ok;
}

/* In a child that dropped root: what an ordinary user may open. */
static int unprivileged(const char *path)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		int ro, rw;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		ro = open(path, O_RDONLY);
		rw = open(path, O_RDWR);
		_exit(ro >= 0 && rw < 0 && errno == EACCES ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

static int dev(const char *path)
{
	uint32_t buf[0x70 / 4];
	struct pollfd p;
	void *m;
	int fd = open(path, O_RDONLY), i;

	check(fd >= 0, "open read-only");
	if (fd < 0)
		return 1;
	check(read(fd, buf, sizeof(buf)) == sizeof(buf) &&
	      buf[0] == 0x4b4c4356, "read() gives the page (magic VCLK)");
	check(unprivileged(path), "as nobody: read-only open works, read-write is refused");

	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED && *(volatile uint32_t *)m == 0x4b4c4356,
	      "mmap read-only shows the page");
	if (m != MAP_FAILED)
		check(mprotect(m, 4096, PROT_READ | PROT_WRITE) < 0,
		      "mprotect to writable refused");
	check(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) ==
	      MAP_FAILED, "mmap writable refused");
	check(mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED,
	      "mmap of more than one page refused");

	/* the producer republishes: poll must report each new seq_count */
	for (i = 0; i < 3; i++) {
		p.fd = fd;
		p.events = POLLIN;
		check(poll(&p, 1, 2000) == 1 && (p.revents & POLLIN),
		      "poll() wakes on a new seq_count");
		lseek(fd, 0, SEEK_SET);
		if (read(fd, buf, sizeof(buf)) != sizeof(buf))
			fails++;
	}
	close(fd);
	return fails ? 1 : 0;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int precise(int n, const char *path)
{
	struct ptp_sys_offset_precise p;
	int64_t *v = calloc(n, sizeof(*v));
	int fd = open(path, O_RDONLY), i, k = 0;

	if (fd < 0 || !v) {
		perror(path);
		return 1;
	}
	for (i = 0; i < n; i++) {
		memset(&p, 0, sizeof(p));
		if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p)) {
			printf("PRECISE error %s\n", strerror(errno));
			return 1;
		}
		v[k] = (p.sys_realtime.sec - p.device.sec) * 1000000000LL +
		       (int64_t)p.sys_realtime.nsec - p.device.nsec;
		printf("PRECISE %lld\n", (long long)v[k]);
		v[k] = llabs(v[k]);
		k++;
		usleep(10000);
	}
	qsort(v, k, sizeof(*v), cmp);
	printf("PRECISE-SUMMARY n=%d p50=%lld max=%lld\n", k,
	       (long long)v[k / 2], (long long)v[k - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "dev"))
		return dev(argc > 2 ? argv[2] : "/dev/vmclock0");
	if (argc >= 3 && !strcmp(argv[1], "precise"))
		return precise(atoi(argv[2]), argc > 3 ? argv[3] : "/dev/ptp0");
	fprintf(stderr, "usage: vmc-compat dev [DEV] | precise N [PTPDEV]\n");
	return 2;
}
