// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-compat: exercise what ptp_vmclock offers (and vmclock_discipline's
 * compatibility interfaces on kernels without it), as its users do.
 *
 *   vmc-compat dev [DEV]          a one-page, page-aligned region: read, the
 *                                 mmap rules, poll; exit 0 if all hold
 *   vmc-compat small SIZE [DEV]   a region of SIZE (< one page) bytes: read
 *                                 gives SIZE bytes, mmap is refused (ENODEV)
 *   vmc-compat precise N [PTPDEV] N PTP_SYS_OFFSET_PRECISE reads, 10 ms apart:
 *                                 prints "PRECISE <realtime - device> ns" each,
 *                                 then "PRECISE-SUMMARY n= p50= max=" of |x|
 *   vmc-compat loop SECONDS [DEV [PTPNAME]]  for SECONDS, over and over:
 *                                 open DEV, read, mmap, poll, close; open
 *                                 the PTP clock named PTPNAME (vmclock0),
 *                                 PTP_SYS_OFFSET_PRECISE and
 *                                 clock_gettime on it, close. The module
 *                                 may come and go meanwhile (ENOENT,
 *                                 ENODEV are counted, not failures, and so
 *                                 are a stuck or refused page's ETIMEDOUT
 *                                 and EINVAL); prints
 *                                 "LOOP rounds= absent= refused= bad=
 *                                 first_bad=" and exits 1 on any other
 *                                 error or a bad page. With
 *                                 VMC_REGISTER_LOCK=FILE set, each PTP
 *                                 open() holds a shared flock() on FILE,
 *                                 which vmc-stress holds exclusively
 *                                 across modprobe (see ptp_open_gated);
 *                                 with VMC_RUN_FILE=FILE set, it also
 *                                 stops as soon as FILE is gone
 *   vmc-compat excl FILE CMD [ARG...]  run CMD holding an exclusive flock()
 *                                 on FILE (busybox has no flock); exits
 *                                 with CMD's status
 *
 * dev and small print "COMPAT-PLAN N" first, then exactly N "COMPAT-OK" or
 * "COMPAT-FAIL" lines (a check whose setup failed is a COMPAT-FAIL), and
 * exit 1 unless all N passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAGIC		0x4b4c4356	/* "VCLK" */
#define SEQ_OFF		0x0c		/* seq_count */
#define PAGE		4096		/* the harness's x86 guests */

static int planned, checks, fails;

static void plan(int n)
{
	planned = n;
	printf("COMPAT-PLAN %d\n", n);
}

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "COMPAT-OK" : "COMPAT-FAIL", what);
	checks++;
	fails += !ok;
}

static int done(void)
{
	if (checks != planned) {
		printf("COMPAT-FAIL ran %d checks of %d planned\n", checks,
		       planned);
		return 1;
	}
	return fails ? 1 : 0;
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

/* seq_count of the page's last complete version (read() waits for it). */
static int seq_of(int fd, uint32_t *seq)
{
	return pread(fd, seq, sizeof(*seq), SEQ_OFF) == sizeof(*seq) ? 0 : -1;
}

/*
 * A freshly opened file must not poll readable: upstream semantics are a
 * change since open(). The producer republishes every 100 ms, so a try is
 * judged only when seq_count was the same before open() and after poll().
 * 1: not readable, 0: readable without a change, -1: no judgeable try.
 */
static int quiet_after_open(const char *path, int ref)
{
	struct pollfd p;
	uint32_t s0, s1;
	int i, fd, r;

	for (i = 0; i < 10; i++) {
		if (seq_of(ref, &s0))
			return -1;
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return -1;
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		r = poll(&p, 1, 0);
		close(fd);
		if (r < 0 || seq_of(ref, &s1))
			return -1;
		if (s0 == s1)
			return r == 0;
	}
	return -1;
}

/* poll() wakes on each new seq_count, and read() then clears it. */
static void wakes(int fd, size_t len, int rounds)
{
	static char buf[PAGE];
	struct pollfd p;
	char what[96];
	int i, r;

	for (i = 0; i < rounds; i++) {
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		r = poll(&p, 1, 2000);
		snprintf(what, sizeof(what),
			 "poll() wakes on a new seq_count, then read() (round %d)",
			 i + 1);
		check(r == 1 && (p.revents & POLLIN) &&
		      lseek(fd, 0, SEEK_SET) == 0 &&
		      read(fd, buf, sizeof(buf)) == (ssize_t)len, what);
	}
}

static int dev(const char *path)
{
	static uint32_t buf[PAGE / 4 + 1];
	volatile uint32_t *m;
	void *x;
	int fd, memfd, q, r;

	plan(18);
	fd = open(path, O_RDONLY);
	check(fd >= 0, "open read-only");
	if (fd < 0)
		return done();
	q = quiet_after_open(path, fd);
	check(q == 1, q < 0 ? "poll() right after open: no judgeable try" :
	      "poll() right after open is not readable (no change yet)");
	check(read(fd, buf, sizeof(buf)) == PAGE && buf[0] == MAGIC,
	      "read() gives the whole page (4096 bytes, magic VCLK)");
	check(read(fd, buf, sizeof(buf)) == 0, "read() at the page's end: EOF");
	check(lseek(fd, 0, SEEK_SET) == 0 && read(fd, buf, 0) == 0,
	      "zero-length read() returns 0");
	check(unprivileged(path),
	      "as nobody: read-only open works, read-write is refused");

	m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	check(m != MAP_FAILED && m[0] == MAGIC,
	      "mmap read-only shows the page");
	check(m != MAP_FAILED &&
	      mprotect((void *)m, PAGE, PROT_READ | PROT_WRITE) < 0,
	      "mprotect to writable refused");
	check(m != MAP_FAILED &&
	      mprotect((void *)m, PAGE, PROT_READ | PROT_EXEC) < 0,
	      "mprotect to executable refused");
	memfd = open("/proc/self/mem", O_RDWR);
	r = 0;
	check(m != MAP_FAILED && memfd >= 0 &&
	      pwrite(memfd, &r, sizeof(r), (off_t)(uintptr_t)m) < 0 &&
	      m[0] == MAGIC, "write through /proc/self/mem refused");
	if (memfd >= 0)
		close(memfd);
	if (m != MAP_FAILED)
		munmap((void *)m, PAGE);

	x = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check(x == MAP_FAILED, "mmap writable refused");
	x = mmap(NULL, PAGE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	check(x == MAP_FAILED, "mmap executable refused");
	x = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	check(x == MAP_FAILED, "mmap of more than one page refused");
	x = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE);
	check(x == MAP_FAILED, "mmap at offset one page refused");
	x = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	check(x == MAP_FAILED ||
	      mprotect(x, PAGE, PROT_READ | PROT_WRITE) < 0,
	      "MAP_PRIVATE: refused, or never writable");

	wakes(fd, PAGE, 3);
	close(fd);
	return done();
}

static int small(long size, const char *path)
{
	static uint32_t buf[PAGE / 4];
	void *x;
	int fd, q;

	plan(7);
	fd = open(path, O_RDONLY);
	check(fd >= 0, "open read-only");
	if (fd < 0)
		return done();
	q = quiet_after_open(path, fd);
	check(q == 1, q < 0 ? "poll() right after open: no judgeable try" :
	      "poll() right after open is not readable (no change yet)");
	check(read(fd, buf, sizeof(buf)) == size && buf[0] == MAGIC,
	      "read() gives the whole region (and only it), magic VCLK");
	check(read(fd, buf, sizeof(buf)) == 0,
	      "read() at the region's end: EOF");
	errno = 0;
	x = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	check(x == MAP_FAILED && errno == ENODEV,
	      "mmap of a region that is not one page refused (ENODEV)");
	wakes(fd, size, 2);
	close(fd);
	return done();
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

	if (fd < 0 || !v || n < 1) {
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

#define FD_TO_CLOCKID(fd)	((~(clockid_t)(fd) << 3) | 3)

static int gone(int err)
{
	return err == ENOENT || err == ENODEV || err == ENXIO;
}

/* /dev/ptpN of the PTP clock named @name (its index may change on reload) */
static int ptp_by_name(const char *name, char *dev, size_t len)
{
	char f[64], buf[64];
	int i;

	for (i = 0; i < 8; i++) {
		FILE *fp;

		snprintf(f, sizeof(f), "/sys/class/ptp/ptp%d/clock_name", i);
		fp = fopen(f, "r");
		if (!fp)
			continue;
		if (fgets(buf, sizeof(buf), fp) &&
		    !strncmp(buf, name, strlen(name)) &&
		    buf[strlen(name)] == '\n') {
			fclose(fp);
			snprintf(dev, len, "/dev/ptp%d", i);
			return 0;
		}
		fclose(fp);
	}
	return -1;
}

/*
 * open() of a PTP clock, kept out of the module's registration when
 * $VMC_REGISTER_LOCK names a lock: the kernel's posix_clock_register()
 * (6.1.192, and upstream) makes the char device openable before it sets
 * clk->dev, so an open() in that window takes no device reference and
 * its close() drops one it never took: the PTP clock is freed early and
 * its unregister underflows (docs/guest.md, "Kernel defects"). That is
 * not the module's race, so the stress loops keep out of it; opens
 * racing the unregister stay in.
 */
/* @path opened (created if need be) and flock()ed with @op; -1 on error */
static int lock_take(const char *path, int op)
{
	int lfd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);

	if (lfd < 0 || flock(lfd, op)) {
		fprintf(stderr, "vmc-compat: lock %s: %s\n", path,
			strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	return lfd;
}

static int ptp_open_gated(const char *dev)
{
	const char *lock = getenv("VMC_REGISTER_LOCK");
	int lfd = -1, fd, err;

	if (lock && *lock) {
		lfd = lock_take(lock, LOCK_SH);
		if (lfd < 0) {
			errno = EDEADLK;	/* counted as bad, not absent */
			return -1;
		}
	}
	fd = open(dev, O_RDONLY);
	err = errno;
	if (lfd >= 0)
		close(lfd);
	errno = err;
	return fd;
}

struct loop_count {
	long absent, bad, refused;
	char first[64];
};

/*
 * A failed call: the module's absence; a page it may not use right now
 * (@page_ok: a seq_count stuck odd gives ETIMEDOUT, a malformed or
 * unreliable page EINVAL to the PTP clock); or bad.
 */
static void miss(struct loop_count *c, const char *what, int err, int page_ok)
{
	if (gone(err)) {
		c->absent++;
	} else if (page_ok && (err == ETIMEDOUT ||
			       (page_ok > 1 && err == EINVAL))) {
		c->refused++;
	} else if (!c->bad++) {
		snprintf(c->first, sizeof(c->first), "%s: %s", what,
			 strerror(err));
	}
}

static int loop(int secs, const char *path, const char *ptp)
{
	struct loop_count c = { .first = "none" };
	const char *run = getenv("VMC_RUN_FILE");
	time_t end = time(NULL) + secs;
	char page[PAGE], dev[32];
	long rounds = 0;
	uint32_t magic;

	while (time(NULL) < end && (!run || !access(run, F_OK))) {
		struct ptp_sys_offset_precise p;
		struct pollfd pfd;
		struct timespec ts;
		int fd = open(path, O_RDONLY);
		void *m;

		rounds++;
		if (fd < 0) {
			miss(&c, "open", errno, 0);
		} else {
			if (read(fd, page, sizeof(page)) != sizeof(page)) {
				miss(&c, "read", errno, 1);
			} else {
				memcpy(&magic, page, sizeof(magic));
				if (magic != MAGIC)
					miss(&c, "read magic", EILSEQ, 0);
			}
			m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
			if (m != MAP_FAILED) {
				memcpy(&magic, m, sizeof(magic));
				if (magic != MAGIC)
					miss(&c, "mmap magic", EILSEQ, 0);
				munmap(m, PAGE);
			} else {
				miss(&c, "mmap", errno, 0);
			}
			pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
			if (poll(&pfd, 1, 0) < 0)
				miss(&c, "poll", errno, 0);
			close(fd);
		}
		if (ptp_by_name(ptp, dev, sizeof(dev))) {
			c.absent++;
			continue;
		}
		fd = ptp_open_gated(dev);
		if (fd < 0) {
			miss(&c, "open ptp", errno, 0);
			continue;
		}
		memset(&p, 0, sizeof(p));
		if (ioctl(fd, PTP_SYS_OFFSET_PRECISE, &p))
			miss(&c, "PTP_SYS_OFFSET_PRECISE", errno, 2);
		if (clock_gettime(FD_TO_CLOCKID(fd), &ts))
			miss(&c, "clock_gettime", errno, 2);
		close(fd);
	}
	printf("LOOP rounds=%ld absent=%ld refused=%ld bad=%ld first_bad=\"%s\"\n",
	       rounds, c.absent, c.refused, c.bad, c.first);
	return c.bad ? 1 : 0;
}

static int excl(const char *lock, char **cmd)
{
	int lfd = lock_take(lock, LOCK_EX);
	pid_t pid;
	int st;

	if (lfd < 0)
		return 1;
	pid = fork();
	if (pid < 0) {
		perror("vmc-compat excl: fork");
		return 1;
	}
	if (!pid) {
		/* lfd is O_CLOEXEC: the lock stays with this process alone */
		execvp(cmd[0], cmd);
		perror("vmc-compat excl: exec");
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "excl"))
		return excl(argv[2], argv + 3);
	if (argc >= 2 && !strcmp(argv[1], "dev"))
		return dev(argc > 2 ? argv[2] : "/dev/vmclock0");
	if (argc >= 3 && !strcmp(argv[1], "small")) {
		long size = strtol(argv[2], NULL, 0);

		if (size <= 0 || size >= PAGE) {
			fprintf(stderr, "vmc-compat: small SIZE: 1..%d\n",
				PAGE - 1);
			return 2;
		}
		return small(size, argc > 3 ? argv[3] : "/dev/vmclock0");
	}
	if (argc >= 3 && !strcmp(argv[1], "precise"))
		return precise(atoi(argv[2]), argc > 3 ? argv[3] : "/dev/ptp0");
	if (argc >= 3 && !strcmp(argv[1], "loop"))
		return loop(atoi(argv[2]), argc > 3 ? argv[3] : "/dev/vmclock0",
			    argc > 4 ? argv[4] : "vmclock0");
	fprintf(stderr,
		"usage: vmc-compat dev [DEV] | small SIZE [DEV] | precise N [PTPDEV] | loop S [DEV [PTPNAME]] | excl FILE CMD...\n");
	return 2;
}
