// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-watch: print the notifications vmclock_discipline gives userspace,
 * one line each, as a consumer would see them:
 *   "sysfs NAME=N"  poll() on the attribute NAME woke (POLLPRI|POLLERR)
 *   "uevent ACTION@DEVPATH KEY=VALUE..."  a kobject uevent naming vmclock
 *
 * Usage: vmc-watch [-t SECONDS] [ATTRIBUTE]  (default: .../vmclock0/disruptions)
 * Exits 0 after SECONDS (default 60), 1 on setup errors.
 */
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int read_attr(int fd, char *buf, size_t len)
{
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

int main(int argc, char **argv)
{
	const char *attr = "/sys/kernel/vmclock_discipline/vmclock0/disruptions";
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	double seconds = 60;
	struct pollfd pfd[2];
	struct timespec t0, t;
	const char *name;
	char buf[4096];
	int opt;

	while ((opt = getopt(argc, argv, "t:")) != -1) {
		if (opt != 't')
			return 1;
		seconds = atof(optarg);
	}
	if (optind < argc)
		attr = argv[optind];
	name = strrchr(attr, '/') ? strrchr(attr, '/') + 1 : attr;
	setvbuf(stdout, NULL, _IOLBF, 0);

	pfd[0].fd = open(attr, O_RDONLY);
	pfd[0].events = POLLPRI | POLLERR;
	pfd[1].fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	pfd[1].events = POLLIN;
	if (pfd[0].fd < 0 || pfd[1].fd < 0 ||
	    bind(pfd[1].fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("vmc-watch");
		return 1;
	}
	/* sysfs poll needs one read before it can report a change */
	if (read_attr(pfd[0].fd, buf, sizeof(buf)))
		return 1;
	printf("start %s=%s\n", name, buf);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int left;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = (int)((seconds - (t.tv_sec - t0.tv_sec) -
			      (t.tv_nsec - t0.tv_nsec) * 1e-9) * 1000);
		if (left <= 0)
			return 0;
		if (poll(pfd, 2, left) < 0)
			return 1;
		if (pfd[0].revents & (POLLPRI | POLLERR)) {
			if (read_attr(pfd[0].fd, buf, sizeof(buf)))
				return 1;
			printf("sysfs %s=%s\n", name, buf);
		}
		if (pfd[1].revents & POLLIN) {
			ssize_t n = recv(pfd[1].fd, buf, sizeof(buf) - 1, 0);
			char *p;

			if (n <= 0)
				continue;
			buf[n] = 0;
			if (!strstr(buf, "vmclock"))
				continue;
			/* "ACTION@DEVPATH\0KEY=VALUE\0..." */
			printf("uevent %s", buf);
			for (p = buf + strlen(buf) + 1; p < buf + n;
			     p += strlen(p) + 1)
				printf(" %s", p);
			printf("\n");
		}
	}
}
