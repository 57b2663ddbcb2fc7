// SPDX-License-Identifier: GPL-2.0
/*
 * hosttest stress NPROC SECS VIEWS (included by hosttest.c; issue 11):
 * NPROC processes, half of them as nobody, each for SECS seconds open up
 * to VIEWS files (read-only and for writing, so together they run into
 * max_views), map and read them, issue every ioctl (good and bad
 * arguments) and close them in turn; meanwhile this process changes the
 * host's frequency by up to +-100 ppm every 50 ms, steps the clock by
 * +-1 ms every second and tries to unload the module (O_NONBLOCK, with a
 * file of its own open, so it must be refused every time).
 * Passes when no call failed other than the way it must (ENOSPC at the
 * view limit, EPERM where the caller may not, EINVAL for a bad argument),
 * every mapped page was valid, the unload was always refused with
 * EWOULDBLOCK, and the views count is back where it started. Load the
 * module with a small max_views (16) so that the limit is reached.
 */
#include <sys/syscall.h>

struct stress_counts {
	unsigned long long opens, nospc, maps, ioctls, refused, bad;
	char first_bad[128];
};

static void stress_bad(struct stress_counts *c, const char *what, int err)
{
	if (!c->bad++)
		snprintf(c->first_bad, sizeof(c->first_bad), "%s: errno %d",
			 what, err);
}

/* ioctl @cmd must succeed, or fail with @allowed (0: must succeed) */
static void stress_ioctl(struct stress_counts *c, int fd, unsigned long cmd,
			 void *arg, int allowed, const char *what)
{
	c->ioctls++;
	if (!ioctl(fd, cmd, arg))
		return;
	if (errno == allowed) {
		c->refused++;
		return;
	}
	stress_bad(c, what, errno);
}

static void stress_worker(struct stress_counts *c, int id, int secs, int nviews)
{
	int64_t end = now_ns(CLOCK_MONOTONIC) + (int64_t)secs * 1000000000;
	int *fds = calloc(nviews, sizeof(int));
	unsigned int seed = 2654435761u * (id + 1);
	bool nobody = id & 1;

	if (!fds)
		exit(1);
	if (nobody && (setgroups(0, NULL) ||
		       setresgid(NOBODY, NOBODY, NOBODY) ||
		       setresuid(NOBODY, NOBODY, NOBODY)))
		exit(1);
	while (now_ns(CLOCK_MONOTONIC) < end) {
		int n = 1 + rand_r(&seed) % nviews, i, k = 0;

		for (i = 0; i < n; i++) {
			int wr = rand_r(&seed) & 1;
			int fd = open(DEV, wr ? O_RDWR : O_RDONLY);

			c->opens++;
			if (fd < 0) {
				if (errno == ENOSPC)
					c->nospc++;
				else if (nobody && wr && errno == EACCES)
					c->refused++;	/* the node is 0444 */
				else
					stress_bad(c, "open", errno);
				continue;
			}
			fds[k++] = fd;
		}
		for (i = 0; i < k; i++) {
			int fd = fds[i];
			struct vmclock_host_info info = { .size = sizeof(info) };
			struct vmclock_host_tsc t = {
				.size = sizeof(t), .frac_bits = 48,
				.ratio = (1ULL << 48) + (rand_r(&seed) % 1000),
				.offset = rand_r(&seed),
			};
			struct vmclock_host_reference r = good_ref();
			const struct vmclock_abi *m;
			int wr = (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
			/* what a read-only file, or nobody, is refused with */
			int ro = wr ? 0 : EPERM, priv = wr && !nobody ? 0 : EPERM;

			m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
			if (m == MAP_FAILED) {
				stress_bad(c, "mmap", errno);
			} else {
				c->maps++;
				if (m->magic != VMCLOCK_MAGIC)
					stress_bad(c, "page magic", 0);
			}
			stress_ioctl(c, fd, VMCLOCK_HOST_GET_INFO, &info, 0,
				     "GET_INFO");
			stress_ioctl(c, fd, VMCLOCK_HOST_SET_TSC, &t, ro,
				     "SET_TSC");
			t.frac_bits = 64;	/* bad: EINVAL, or EPERM first */
			stress_ioctl(c, fd, VMCLOCK_HOST_SET_TSC, &t,
				     wr ? EINVAL : EPERM, "SET_TSC bad");
			stress_ioctl(c, fd, VMCLOCK_HOST_BUMP_DISRUPTION, NULL,
				     ro, "BUMP_DISRUPTION");
			stress_ioctl(c, fd, VMCLOCK_HOST_BUMP_GENERATION, NULL,
				     ro, "BUMP_GENERATION");
			if (rand_r(&seed) % 8 == 0) {
				stress_ioctl(c, fd, VMCLOCK_HOST_SET_REFERENCE,
					     &r, priv, "SET_REFERENCE");
				stress_ioctl(c, fd, VMCLOCK_HOST_CLEAR_REFERENCE,
					     NULL, priv, "CLEAR_REFERENCE");
			}
			stress_ioctl(c, fd, _IO(VMCLOCK_HOST_IOC_MAGIC, 0x7f),
				     NULL, ENOTTY, "unknown ioctl");
			if (m != MAP_FAILED) {
				if (m->magic != VMCLOCK_MAGIC)
					stress_bad(c, "page magic after", 0);
				munmap((void *)m, 4096);
			}
		}
		/* close in a shuffled order */
		while (k) {
			i = rand_r(&seed) % k;
			close(fds[i]);
			fds[i] = fds[--k];
		}
	}
	exit(0);
}

static int cmd_stress(int nproc, int secs, int nviews)
{
	struct stress_counts *c = mmap(NULL, nproc * sizeof(*c),
				       PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int64_t end, next_step;
	unsigned long long adj = 0, steps = 0, tries = 0, unloads = 0;
	unsigned long long total_bad = 0, opens = 0, nospc = 0, ioctls = 0;
	unsigned int seed = 1;
	long long v0, v1;
	int fd, i, status, dead = 0;

	if (c == MAP_FAILED || nproc < 1 || secs < 1 || nviews < 1)
		return 2;
	memset(c, 0, nproc * sizeof(*c));
	v0 = stat_value("views");
	fd = open_or_die(DEV, O_RDONLY);
	for (i = 0; i < nproc; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (!pid)
			stress_worker(&c[i], i, secs, nviews);
	}
	end = now_ns(CLOCK_MONOTONIC) + (int64_t)secs * 1000000000;
	next_step = now_ns(CLOCK_MONOTONIC) + 1000000000;
	while (now_ns(CLOCK_MONOTONIC) < end) {
		struct timex tx = {
			.modes = ADJ_FREQUENCY,
			/* +-100 ppm, ppm << 16 */
			.freq = ((long)(rand_r(&seed) % 201) - 100) << 16,
		};

		if (adjtimex(&tx) >= 0)
			adj++;
		if (now_ns(CLOCK_MONOTONIC) >= next_step) {
			struct timex st = {
				.modes = ADJ_SETOFFSET | ADJ_NANO,
				.time.tv_sec = (steps & 1) ? -1 : 0,
				/* +1 ms, then -1 ms: normalised timeval */
				.time.tv_usec = (steps & 1) ? 999000000 : 1000000,
			};

			if (adjtimex(&st) >= 0)
				steps++;
			next_step += 1000000000;
		}
		tries++;
		if (!syscall(SYS_delete_module, "vmclock_host", O_NONBLOCK))
			unloads++;
		else if (errno != EWOULDBLOCK)
			unloads++;	/* not refused the way it must be */
		sleep_ms(50);
	}
	{
		struct timex tx = { .modes = ADJ_FREQUENCY, .freq = 0 };

		adjtimex(&tx);
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			dead++;
	close(fd);
	sleep_ms(100);
	v1 = stat_value("views");
	for (i = 0; i < nproc; i++) {
		opens += c[i].opens;
		nospc += c[i].nospc;
		ioctls += c[i].ioctls;
		total_bad += c[i].bad;
		if (c[i].bad)
			printf("# worker %d: %llu bad, first %s\n", i, c[i].bad,
			       c[i].first_bad);
	}
	printf("M %d processes %d s: %llu opens (%llu at the view limit), %llu ioctls, %llu frequency changes, %llu steps, %llu unload attempts\n",
	       nproc, secs, opens, nospc, ioctls, adj, steps, tries);
	result(!dead, "%d workers exited cleanly", nproc);
	result(!total_bad, "no call failed but the way it must (%llu bad)",
	       total_bad);
	result(nospc > 0, "the view limit was reached (%llu ENOSPC)", nospc);
	result(!unloads && tries > 0,
	       "every unload attempt refused with EWOULDBLOCK (%llu tries)",
	       tries);
	result(adj > 0 && steps > 0, "host frequency changed and stepped");
	result(v0 >= 0 && v1 == v0, "views back to %lld (measured %lld)", v0, v1);
	return 0;
}
