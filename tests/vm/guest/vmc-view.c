// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-view PID disruption|generation: do what a host's orchestration does
 * to a guest's clock on a migration or a restore, to the /dev/vmclock_host
 * view that process PID (a VMM) holds open: take its file with
 * pidfd_getfd() (the same open file, so the same view; opening the device
 * again would make a new one) and call VMCLOCK_HOST_BUMP_DISRUPTION or
 * VMCLOCK_HOST_BUMP_GENERATION on it. Exit 0 on success, 1 when PID holds
 * no view or the call fails, 2 on bad usage.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/types.h>

#include "../../../include/vmclock_host_ioctl.h"

int main(int argc, char **argv)
{
	char dir[64], path[320], target[64];
	unsigned long req;
	struct dirent *d;
	int pidfd, fd = -1, theirs = -1;
	ssize_t n;
	DIR *dp;

	if (argc != 3 || (strcmp(argv[2], "disruption") &&
			  strcmp(argv[2], "generation"))) {
		fprintf(stderr, "usage: vmc-view PID disruption|generation\n");
		return 2;
	}
	req = !strcmp(argv[2], "disruption") ? VMCLOCK_HOST_BUMP_DISRUPTION :
					      VMCLOCK_HOST_BUMP_GENERATION;
	snprintf(dir, sizeof(dir), "/proc/%s/fd", argv[1]);
	pidfd = syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	dp = opendir(dir);
	if (pidfd < 0 || !dp) {
		perror("vmc-view: pidfd_open or /proc/PID/fd");
		return 1;
	}
	while ((d = readdir(dp))) {
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strcmp(target, "/dev/vmclock_host"))
			continue;
		theirs = atoi(d->d_name);
		fd = syscall(SYS_pidfd_getfd, pidfd, theirs, 0);
		break;
	}
	closedir(dp);
	if (theirs < 0) {
		fprintf(stderr, "vmc-view: process %s holds no /dev/vmclock_host view\n",
			argv[1]);
		return 1;
	}
	if (fd < 0) {
		perror("vmc-view: pidfd_getfd");
		return 1;
	}
	if (ioctl(fd, req)) {
		perror("vmc-view: ioctl");
		return 1;
	}
	printf("vmc-view: bumped the %s of process %s's view (fd %d there)\n",
	       argv[2], argv[1], theirs);
	return 0;
}
