// SPDX-License-Identifier: GPL-2.0
/*
 * Robustness commands of hosttest (included by hosttest.c):
 *
 *   hosttest mapping            zero-length read, PROT_EXEC, MADV_DONTNEED,
 *                               writes through /proc/self/mem,
 *                               process_vm_writev and ptrace, a map after
 *                               close()
 *   hosttest status             clocksource switch, TIME_ERROR, negative
 *                               error bounds, boundary ratios, a reference
 *                               with a transform, per-view verdicts
 *   hosttest views MAX          read-only opens share a page; views (files
 *                               open for writing) bounded at MAX and
 *                               charged, as nobody; rewrites in batches
 *   hosttest loadopen KO N      N times: load KO, open and read at once
 *   hosttest reftimeout MS      an explicit reference degrades after MS
 *   hosttest stress NPROC SECS VIEWS  NPROC processes open, map, ioctl,
 *                               close in loops while the host's clock is
 *                               adjusted and stepped and unloads are tried
 *   hosttest seqwindow N SECS   an RT thread never finds one of N views
 *                               inside a preempted odd-seq window (boot
 *                               with preempt=full)
 */
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <grp.h>
#include "vmclock_math.h"

#define CS_FILE	"/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define CS_AVAIL "/sys/devices/system/clocksource/clocksource0/available_clocksource"
#define CGROUP	"/sys/fs/cgroup"
#define NOBODY	65534

static int page_ok(const struct vmclock_abi *p)
{
	return vmc_page_validate(p, 4096, VMCLOCK_COUNTER_X86_TSC) == VMC_PAGE_OK;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* One value from the debugfs stats; -1 when absent. */
static long long stat_value(const char *key)
{
	char k[64];
	unsigned long long v;
	long long ret = -1;
	FILE *f = fopen(STATS, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %llu", k, &v) == 2)
		if (!strcmp(k, key))
			ret = v;
	fclose(f);
	return ret;
}

/* ------------------------------------------------------------------ */

/* Runs fn in a child; returns its wait status. */
static int in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st = -1;

	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static int touch_after_dontneed(void *arg)
{
	volatile struct vmclock_abi *m = arg;

	if (madvise((void *)m, 4096, MADV_DONTNEED))
		return 3;
	return m->magic == VMCLOCK_MAGIC ? 0 : 4;
}

static int cmd_mapping(void)
{
	int fd = open_or_die(DEV, O_RDONLY), mfd, st, r;
	volatile struct vmclock_abi *m, *pm;
	struct vmclock_abi before, after;
	uint32_t bad = 0xdeadbeef, seq0;
	char buf[16];
	void *x;

	errno = 0;
	r = read(fd, buf, 0);
	result(r == 0, "zero-length read() returns 0");
	printf("# returned %d errno %d\n", r, r ? errno : 0);

	x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	result(x == MAP_FAILED, "mmap with PROT_EXEC refused");
	if (x != MAP_FAILED)
		munmap(x, 4096);
	m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	pm = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED || pm == MAP_FAILED) {
		result(0, "setup: mmap: %s", strerror(errno));
		return 1;
	}
	r = mprotect((void *)m, 4096, PROT_READ | PROT_EXEC);
	result(r < 0, "mprotect to PROT_EXEC refused (VM_MAYEXEC clear)");

	st = in_child(touch_after_dontneed, (void *)m);
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "MADV_DONTNEED, then reading the map: the page again, no SIGBUS");
	printf("# child %s %d\n", WIFSIGNALED(st) ? "killed by signal" : "exit",
	       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));

	/* writes that bypass the page protections (FOLL_FORCE and not) */
	mfd = open("/proc/self/mem", O_RDWR);
	if (mfd < 0 || read_page(fd, &before)) {
		result(0, "setup: /proc/self/mem: %s", strerror(errno));
		return 1;
	}
	r = pwrite(mfd, &bad, 4, (off_t)(uintptr_t)m);
	result(r < 0 && m->magic == VMCLOCK_MAGIC,
	       "write through /proc/self/mem to the shared map fails");
	printf("# pwrite returned %d errno %d\n", r, r < 0 ? errno : 0);
	r = pwrite(mfd, &bad, 4, (off_t)(uintptr_t)pm);
	result(r < 0 && pm->magic == VMCLOCK_MAGIC,
	       "write through /proc/self/mem to a private map fails (no COW copy)");
	printf("# pwrite returned %d errno %d\n", r, r < 0 ? errno : 0);
	close(mfd);
	{
		struct iovec l = { &bad, 4 }, rm = { (void *)m, 4 };

		r = process_vm_writev(getpid(), &l, 1, &rm, 1, 0);
		result(r < 0 && m->magic == VMCLOCK_MAGIC,
		       "process_vm_writev to the map fails");
		printf("# returned %d errno %d\n", r, r < 0 ? errno : 0);
	}
	{
		pid_t pid = fork();
		long pr = 0;

		if (pid == 0) {
			ptrace(PTRACE_TRACEME, 0, 0, 0);
			raise(SIGSTOP);
			_exit(m->magic == VMCLOCK_MAGIC ? 0 : 1);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
			result(0, "setup: traced child: %s", strerror(errno));
			return 1;
		}
		errno = 0;
		pr = ptrace(PTRACE_POKEDATA, pid, (void *)m, (void *)0x41414141L);
		r = errno;
		ptrace(PTRACE_CONT, pid, 0, 0);
		waitpid(pid, &st, 0);
		result(pr < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "PTRACE_POKEDATA into a tracee's map fails");
		printf("# poke returned %ld errno %d, tracee exit %d\n", pr, r,
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	result(!read_page(fd, &after) && after.magic == VMCLOCK_MAGIC &&
	       after.counter_id == before.counter_id &&
	       after.size == before.size,
	       "page unchanged by the attempted writes");

	/* the map outlives the file and keeps following */
	seq0 = m->seq_count;
	close(fd);
	{
		struct timex tx = { .modes = ADJ_FREQUENCY, .freq = 65536 };
		int i;

		adjtimex(&tx);
		for (i = 0; i < 100 && m->seq_count == seq0; i++)
			sleep_ms(10);
		tx.freq = 0;
		adjtimex(&tx);
	}
	result(m->magic == VMCLOCK_MAGIC && m->seq_count != seq0,
	       "a map read after close(): the page, still rewritten");
	printf("# seq_count %u -> %u\n", seq0, m->seq_count);
	munmap((void *)m, 4096);
	munmap((void *)pm, 4096);
	return 0;
}

/* ------------------------------------------------------------------ */

static int get_info(int fd, struct vmclock_host_info *i)
{
	memset(i, 0, sizeof(*i));
	return ioctl(fd, VMCLOCK_HOST_GET_INFO, i);
}

static int set_tsc(int fd, uint64_t ratio, int fb, uint64_t offset)
{
	struct vmclock_host_tsc t = {
		.size = sizeof(t), .ratio = ratio, .frac_bits = fb,
		.offset = offset,
	};

	return ioctl(fd, VMCLOCK_HOST_SET_TSC, &t);
}

/* Waits up to 2 s for the page to show @status. */
static struct vmclock_abi wait_status(int fd, int status)
{
	struct vmclock_abi p;
	int i;

	for (i = 0; i < 40; i++) {
		p = wait_page(fd, 50);
		if (p.clock_status == status)
			break;
	}
	return p;
}

/* Time on @p at counter @c, in ns since the epoch. */
static int64_t page_ns_at(const struct vmclock_abi *p, uint64_t c)
{
	struct vmc_line l;

	vmc_page_line(p, &l);
	return vmc_ts_to_ns(vmc_line_time_at(&l, c));
}

static void status_clocksource(int fd, int gfd)
{
	char avail[256], cs[64];
	struct vmclock_abi p, g;
	struct vmclock_host_info i;
	int ok;

	ok = !read_file(CS_AVAIL, avail, sizeof(avail)) && strstr(avail, "hpet") &&
	     !read_file(CS_FILE, cs, sizeof(cs)) && !write_file(CS_FILE, "hpet");
	printf("# available %s, was %s\n", avail, cs);
	p = wait_status(fd, VMCLOCK_STATUS_UNRELIABLE);
	g = wait_page(gfd, 0);
	get_info(fd, &i);
	result(ok && p.counter_id == VMCLOCK_COUNTER_X86_TSC &&
	       p.time_type == VMCLOCK_TIME_UTC &&
	       p.clock_status == VMCLOCK_STATUS_UNRELIABLE &&
	       !(p.flags & (VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			    VMCLOCK_FLAG_TIME_ESTERROR_VALID)) &&
	       page_ok(&p) && !(i.flags & VMCLOCK_HOST_INFO_COUNTER_OK) &&
	       g.counter_id == VMCLOCK_COUNTER_X86_TSC &&
	       g.clock_status == VMCLOCK_STATUS_UNRELIABLE && page_ok(&g),
	       "host clocksource hpet: counter_id and time_type kept, status unreliable, no bounds");
	printf("# counter_id %u time_type %u status %u flags 0x%llx verdict %s; scaled view counter_id %u status %u; info flags 0x%x cs %s\n",
	       p.counter_id, p.time_type, p.clock_status,
	       (unsigned long long)p.flags,
	       vmc_page_verdict_str(vmc_page_validate(&p, 4096, 1)),
	       g.counter_id, g.clock_status, i.flags, i.clocksource);

	ok = !write_file(CS_FILE, "tsc");
	p = wait_status(fd, VMCLOCK_STATUS_FREERUNNING);
	get_info(fd, &i);
	result(ok && p.counter_id == VMCLOCK_COUNTER_X86_TSC &&
	       p.clock_status == VMCLOCK_STATUS_FREERUNNING && page_ok(&p) &&
	       (i.flags & VMCLOCK_HOST_INFO_COUNTER_OK),
	       "back on the TSC: time data again");
	printf("# status %u, info flags 0x%x cs %s\n", p.clock_status, i.flags,
	       i.clocksource);
}

static void status_ntp(int fd)
{
	struct timex tx = { .modes = ADJ_STATUS, .status = STA_PPSFREQ };
	struct vmclock_abi p;
	int state;

	/*
	 * PPS frequency wanted without a PPS signal: TIME_ERROR without
	 * STA_UNSYNC where the kernel has CONFIG_NTP_PPS; without it (Debian)
	 * adjtimex says TIME_OK and synchronized is right.
	 */
	tx.modes = ADJ_STATUS | ADJ_MAXERROR;
	tx.maxerror = 1000;
	state = adjtimex(&tx);
	p = wait_page(fd, 400);
	result(state == TIME_ERROR ?
	       p.clock_status == VMCLOCK_STATUS_UNRELIABLE &&
	       !(p.flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID) :
	       p.clock_status == VMCLOCK_STATUS_SYNCHRONIZED,
	       "STA_PPSFREQ without a signal: unreliable exactly when adjtimex says TIME_ERROR");
	printf("# adjtimex state %d (TIME_ERROR %d), clock_status %u flags 0x%llx\n",
	       state, TIME_ERROR, p.clock_status, (unsigned long long)p.flags);

	settx(ADJ_STATUS | ADJ_MAXERROR | ADJ_ESTERROR, 0, -1000, -50, 0);
	memset(&tx, 0, sizeof(tx));
	adjtimex(&tx);
	p = wait_page(fd, 400);
	result(p.clock_status == VMCLOCK_STATUS_SYNCHRONIZED &&
	       (!(p.flags & VMCLOCK_FLAG_TIME_MAXERROR_VALID) ||
		p.time_maxerror_nanosec <= 16000000000ULL) &&
	       (!(p.flags & VMCLOCK_FLAG_TIME_ESTERROR_VALID) ||
		p.time_esterror_nanosec <= 16000000000ULL),
	       "negative maxerror/esterror never become huge bounds");
	printf("# kernel kept maxerror %ld esterror %ld; page maxerror %llu esterror %llu flags 0x%llx\n",
	       tx.maxerror, tx.esterror,
	       (unsigned long long)p.time_maxerror_nanosec,
	       (unsigned long long)p.time_esterror_nanosec,
	       (unsigned long long)p.flags);
	settx(ADJ_STATUS, STA_UNSYNC, 0, 0, 0);
}

/* Guest counter for host counter @c under ratio/2^fb and offset. */
static uint64_t guest_counter(uint64_t c, uint64_t ratio, int fb,
			      uint64_t offset)
{
	return (uint64_t)(((unsigned __int128)c * ratio) >> fb) + offset;
}

static void status_ratios(int fd, int gfd)
{
	struct vmclock_abi h, g, b;
	struct vmclock_host_info i;
	uint64_t hz;
	struct vmc_period per;
	struct {
		const char *what;
		double target_hz;	/* 0: use ratio/fb as given */
		uint64_t ratio;
		int fb, ok;
	} t[] = {
		{ "ratio 2^8 (header maximum)", 0, 1ULL << 56, 48, 0 },
		{ "ratio 2^-16 (header minimum)", 0, 1ULL << 32, 48, 0 },
		{ "guest counter 1.0 MHz", 1.0e6, 0, 48, 0 },
		{ "guest counter 1.1 MHz", 1.1e6, 0, 48, 1 },
		{ "guest counter 270 GHz", 270e9, 0, 48, 1 },
		{ "guest counter 280 GHz", 280e9, 0, 48, 0 },
		{ "identity with frac_bits 63", 0, 1ULL << 63, 63, 1 },
		{ "ratio 1 + 2^-63", 0, (1ULL << 63) + 1, 63, 1 },
	};
	unsigned int k;

	if (read_page(fd, &h)) {
		result(0, "setup: read host page");
		return;
	}
	per.frac = h.counter_period_frac_sec;
	per.shift = h.counter_period_shift;
	hz = vmc_period_to_hz(&per);
	printf("# host counter %llu Hz\n", (unsigned long long)hz);
	for (k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		uint64_t ratio = t[k].ratio;
		double ghz;
		int r, good;

		if (t[k].target_hz)
			ratio = (uint64_t)(t[k].target_hz / hz * (1ULL << 48));
		ghz = (double)hz * ratio / (double)(1ULL << t[k].fb);
		if (read_page(gfd, &b))
			memset(&b, 0xff, sizeof(b));
		errno = 0;
		r = set_tsc(gfd, ratio, t[k].fb, 12345);
		if (!t[k].ok) {
			result(r < 0 && errno == EINVAL && same_page(gfd, &b),
			       "%s: EINVAL, page unchanged", t[k].what);
			printf("# returned %d errno %d\n", r, r ? errno : 0);
			continue;
		}
		good = !r && !read_page(gfd, &g) && !read_page(fd, &h) &&
		       !get_info(gfd, &i) && page_ok(&g) && !i.page_verdict;
		/* same time at corresponding counters, within a guest tick */
		if (good) {
			uint64_t c = h.counter_value + 1000000000ULL;
			int64_t d = page_ns_at(&g, guest_counter(c, ratio, t[k].fb, 12345)) -
				    page_ns_at(&h, c);

			/* the anchor drops the fraction of a guest tick */
			good = labs64(d) <= 1e9 / ghz + 2;
			printf("# guest - host at the same instant %lld ns (guest tick %.3f ns)\n",
			       (long long)d, 1e9 / ghz);
		}
		result(good, "%s: accepted, page valid, same time", t[k].what);
	}
	set_tsc(gfd, 1, 0, 0);
}

static void status_reference(int fd, int gfd)
{
	const uint64_t ratio = 3ULL << 47, offset = 987654321;
	struct vmclock_host_reference r = good_ref();
	struct vmclock_host_info gi, hi;
	struct vmclock_abi g, h;
	int ok, k;
	int64_t worst = 0;

	r.page_flags |= VMCLOCK_FLAG_PERIOD_MAXERROR_VALID;
	r.counter_period_maxerror_rate_frac_sec = 1ULL << 40;
	ok = !set_tsc(gfd, ratio, 48, offset) &&
	     !ioctl(gfd, VMCLOCK_HOST_SET_REFERENCE, &r) &&
	     !read_page(gfd, &g) && !read_page(fd, &h);
	for (k = 0; ok && k < 4; k++) {
		uint64_t c = r.counter_value + k * 3000000000ULL;
		int64_t d = page_ns_at(&g, guest_counter(c, ratio, 48, offset)) -
			    page_ns_at(&h, c);

		if (labs64(d) > worst)
			worst = labs64(d);
	}
	result(ok && worst <= 1 && g.clock_status == r.clock_status &&
	       h.counter_value == r.counter_value && page_ok(&g) &&
	       g.time_maxerror_nanosec == r.time_maxerror_nanosec,
	       "a reference through a 1.5 + offset transform: same time at the same instant");
	printf("# max |guest - host| %lld ns over 9 s of counter\n",
	       (long long)worst);

	/*
	 * A reference whose period this view's ratio cannot carry: 1.2 MHz
	 * from the host's counter, ~0.46 MHz from a 1 GHz reference.
	 */
	{
		struct vmc_period per = {
			h.counter_period_frac_sec, h.counter_period_shift
		};
		double hz;

		ok = !ioctl(fd, VMCLOCK_HOST_CLEAR_REFERENCE) && !read_page(fd, &h);
		per.frac = h.counter_period_frac_sec;
		per.shift = h.counter_period_shift;
		hz = vmc_period_to_hz(&per);
		ok = ok && hz > 1.2e9 &&
		     !set_tsc(gfd, (uint64_t)(1.2e6 / hz * (1ULL << 48)), 48, 0);
	}
	r = good_ref();
	r.counter_period_frac_sec = 0x89705f4136b4a597ULL;	/* 1 GHz */
	r.counter_period_shift = 29;
	ok = ok && !ioctl(fd, VMCLOCK_HOST_SET_REFERENCE, &r) &&
	     !read_page(gfd, &g) && !read_page(fd, &h) &&
	     !get_info(gfd, &gi) && !get_info(fd, &hi);
	result(ok && gi.page_verdict == VMC_PAGE_BAD_PERIOD && !hi.page_verdict &&
	       g.clock_status == VMCLOCK_STATUS_UNRELIABLE && page_ok(&g) &&
	       h.clock_status == VMCLOCK_STATUS_SYNCHRONIZED,
	       "view whose scaled page fails validation: verdict in GET_INFO, page unreliable but valid");
	printf("# view verdict %u (%s) status %u valid %d; host verdict %u status %u\n",
	       gi.page_verdict, vmc_page_verdict_str(gi.page_verdict),
	       g.clock_status, page_ok(&g), hi.page_verdict, h.clock_status);
	ioctl(fd, VMCLOCK_HOST_CLEAR_REFERENCE);
	set_tsc(gfd, 1, 0, 0);
}

static int cmd_status(void)
{
	int fd = open_or_die(DEV, O_RDWR), gfd = open_or_die(DEV, O_RDWR);

	if (set_tsc(gfd, 3ULL << 47, 48, 1000)) {
		result(0, "setup: SET_TSC 1.5: %s", strerror(errno));
		return 1;
	}
	status_clocksource(fd, gfd);
	status_ntp(fd);
	status_ratios(fd, gfd);
	status_reference(fd, gfd);
	return 0;
}

/* ------------------------------------------------------------------ */

static long long cg_current(void)
{
	char buf[64];

	if (read_file(CGROUP "/ht/memory.current", buf, sizeof(buf)))
		return -1;
	return atoll(buf);
}

/* A memory cgroup for this process, so that charged memory is seen. */
static int cg_enter(void)
{
	char pid[32];

	mkdir(CGROUP, 0755);
	if (mount("none", CGROUP, "cgroup2", 0, NULL) && errno != EBUSY)
		return -1;
	if (write_file(CGROUP "/cgroup.subtree_control", "+memory"))
		return -1;
	if (mkdir(CGROUP "/ht", 0755) && errno != EEXIST)
		return -1;
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(CGROUP "/ht/cgroup.procs", pid);
}

/* debugfs is root's: read it with the saved uid, then drop back. */
static long long root_stat(const char *key)
{
	long long v;

	if (seteuid(0))
		return -1;
	v = stat_value(key);
	if (seteuid(NOBODY))
		exit(1);
	return v;
}

static int cmd_views(int max)
{
	const int nro = 3 * max;
	struct rlimit rl = { nro + max + 64, nro + max + 64 };
	int *fds = calloc(nro + max + 1, sizeof(int)), n, i, err = 0;
	long long m0, m1, m2, v0, v1, batch;
	int64_t t, worst = 0;

	/*
	 * Write access as a udev rule would give a VMM group. The saved uid
	 * stays 0 only to read debugfs and change the host clock in between.
	 */
	if (!fds || setrlimit(RLIMIT_NOFILE, &rl) || cg_enter() ||
	    chmod(DEV, 0666) || setgroups(0, NULL) ||
	    setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, 0)) {
		result(0, "setup: fds, cgroup, chmod, setuid nobody: %s",
		       strerror(errno));
		return 1;
	}
	v0 = root_stat("views");
	m0 = cg_current();
	for (n = 0; n < nro && (fds[n] = open(DEV, O_RDONLY)) >= 0; n++)
		;
	v1 = root_stat("views");
	m1 = cg_current();
	result(n == nro && v1 == v0 && m0 >= 0 && m1 - m0 < nro * 1024LL,
	       "nobody: %d read-only opens share one page (no view each)", nro);
	printf("# opened %d of %d, views %lld -> %lld, charged %lld bytes (%lld per file), expected < 1024 per file\n",
	       n, nro, v0, v1, m1 - m0, n ? (m1 - m0) / n : 0);
	for (i = 0; i < n; i++)
		close(fds[i]);
	sleep_ms(1000);		/* closed files are freed after RCU */

	m0 = cg_current();
	for (n = 0; n <= max && (fds[n] = open(DEV, O_RDWR)) >= 0; n++)
		;
	err = errno;
	m1 = cg_current();
	v1 = root_stat("views");
	result(n == max && fds[n] < 0 && err == ENOSPC,
	       "nobody (write access): %d views, the next open ENOSPC", max);
	printf("# opened %d views (limit %d), then errno %d (ENOSPC %d); stats views %lld\n",
	       n, max, err, ENOSPC, v1);
	/* memcg charges in per-CPU batches of 64 pages: allow a quarter */
	result(m1 - m0 >= (long long)n * 3072,
	       "views charged to the opener's memory cgroup");
	printf("# charged %lld bytes for %d views (%lld per view), expected >= 3072 per view (a page each, less batching)\n",
	       m1 - m0, n, n ? (m1 - m0) / n : 0);
	printf("M views %d charged_bytes_per_view %lld\n", n,
	       n ? (m1 - m0) / n : 0);

	/* rewrites of every view while one VMM bumps its marker */
	for (i = 0; i < 20; i++) {
		struct timex tx = { .modes = ADJ_FREQUENCY,
				    .freq = (i & 1) ? 65536 : -65536 };
		int64_t t0;

		if (seteuid(0) || adjtimex(&tx) < 0 || seteuid(NOBODY)) {
			result(0, "setup: adjtimex as root: %s", strerror(errno));
			return 1;
		}
		t0 = now_ns(CLOCK_MONOTONIC);
		ioctl(fds[0], VMCLOCK_HOST_BUMP_DISRUPTION);
		t = now_ns(CLOCK_MONOTONIC) - t0;
		if (t > worst)
			worst = t;
		sleep_ms(50);
	}
	batch = root_stat("publish_batch_max");
	result(batch > 0 && batch <= 64,
	       "rewrites of %d views hold the lock for at most 64 at a time", n);
	printf("# publish_batch_max %lld views, expected 1..64\n", batch);
	printf("M bump_disruption_max_ns %lld (nobody, %d views)\n",
	       (long long)worst, n);

	for (i = 0; i < n; i++)
		close(fds[i]);
	m2 = cg_current();
	v1 = root_stat("views");
	i = open(DEV, O_RDWR);
	result(v1 == 0 && i >= 0 && m2 - m0 < (long long)n * 1024,
	       "closing the views frees them: views 0, a new view opens");
	printf("# views %lld, memory after close %+lld bytes\n", v1, m2 - m0);
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * As SCHED_FIFO, so that no work item the load queued runs before the
 * open and read right after finit_module() (one CPU).
 */
static int cmd_loadopen(const char *ko, int n)
{
	struct sched_param sp = { .sched_priority = 10 };
	int i, bad = 0, mfd, fd;
	struct vmclock_abi p;

	if (sched_setscheduler(0, SCHED_FIFO, &sp)) {
		result(0, "setup: SCHED_FIFO: %s", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		mfd = open(ko, O_RDONLY);
		if (mfd < 0 || syscall(SYS_finit_module, mfd, "", 0)) {
			result(0, "setup: finit_module %s: %s", ko, strerror(errno));
			return 1;
		}
		close(mfd);
		/* before any work item ran: the page the view starts with */
		memset(&p, 0, sizeof(p));
		fd = open(DEV, O_RDONLY);
		if (fd < 0 || read_page(fd, &p) ||
		    p.counter_id != VMCLOCK_COUNTER_X86_TSC ||
		    !p.counter_period_frac_sec || !page_ok(&p)) {
			if (!bad)
				printf("# load %d: counter_id %u period 0x%llx verdict %s\n",
				       i, p.counter_id,
				       (unsigned long long)p.counter_period_frac_sec,
				       vmc_page_verdict_str(vmc_page_validate(&p, 4096, 1)));
			bad++;
		}
		if (fd >= 0)
			close(fd);
		if (syscall(SYS_delete_module, "vmclock_host", 0)) {
			result(0, "setup: delete_module: %s", strerror(errno));
			return 1;
		}
	}
	result(!bad, "a view opened right after load already has a valid line (%d loads)", n);
	printf("# %d of %d first pages invalid\n", bad, n);
	return 0;
}

/* ------------------------------------------------------------------ */

static int cmd_reftimeout(int ms)
{
	int fd = open_or_die(DEV, O_RDWR);
	struct vmclock_host_reference r = good_ref();
	struct vmclock_host_info i;
	struct vmclock_abi p0, p1;
	int ok;

	ok = !ioctl(fd, VMCLOCK_HOST_SET_REFERENCE, &r) && !read_page(fd, &p0);
	result(ok && p0.clock_status == VMCLOCK_STATUS_SYNCHRONIZED,
	       "a fresh reference is published as given");
	p1 = wait_page(fd, ms + 400);
	get_info(fd, &i);
	result(p1.clock_status == VMCLOCK_STATUS_FREERUNNING &&
	       (p1.flags & VMCLOCK_FLAG_PERIOD_MAXERROR_VALID) &&
	       p1.counter_period_maxerror_rate_frac_sec >=
	       p1.counter_period_frac_sec / 2000 && page_ok(&p1) &&
	       (i.flags & VMCLOCK_HOST_INFO_REFERENCE_EXPIRED),
	       "after %d ms without a new reference: free-running, maxerror growing >= 500 ppm",
	       ms);
	printf("# status %u flags 0x%llx rate 0x%llx (period 0x%llx) info flags 0x%x\n",
	       p1.clock_status, (unsigned long long)p1.flags,
	       (unsigned long long)p1.counter_period_maxerror_rate_frac_sec,
	       (unsigned long long)p1.counter_period_frac_sec, i.flags);
	ok = !ioctl(fd, VMCLOCK_HOST_SET_REFERENCE, &r) && !read_page(fd, &p1) &&
	     !get_info(fd, &i);
	result(ok && p1.clock_status == VMCLOCK_STATUS_SYNCHRONIZED &&
	       !(i.flags & VMCLOCK_HOST_INFO_REFERENCE_EXPIRED),
	       "setting it again restores it");
	ioctl(fd, VMCLOCK_HOST_CLEAR_REFERENCE);
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * An RT thread (a vCPU thread, say) wakes every ~100 us, looks at every
 * view's seq_count through its map and reads a page it finds odd, while
 * all views are rewritten back to back. On one CPU it can only find an odd
 * seq_count if it preempted the writer inside the window (preempt=full):
 * the writer then never finishes while the RT thread spins.
 */
static int cmd_seqwindow(int nviews, int secs)
{
	struct rlimit rl = { nviews + 64, nviews + 64 };
	volatile struct vmclock_abi **m = calloc(nviews, sizeof(*m));
	int *fds = calloc(nviews, sizeof(int)), st, i = 0, k;
	long long pub0, pubs = -1;
	char cmdline[512] = "";
	int pipefd[2];
	pid_t pid;

	read_file("/proc/cmdline", cmdline, sizeof(cmdline));
	if (!m || !fds || !strstr(cmdline, "preempt=full") || pipe(pipefd) ||
	    setrlimit(RLIMIT_NOFILE, &rl)) {
		result(0, "setup: preempt=full boot, fds (cmdline: %s)", cmdline);
		return 1;
	}
	for (k = 0; k < nviews; k++) {
		fds[k] = open_or_die(DEV, O_RDWR);
		m[k] = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fds[k], 0);
		if (m[k] == MAP_FAILED) {
			result(0, "setup: mmap: %s", strerror(errno));
			return 1;
		}
	}
	pid = fork();
	if (pid == 0) {
		struct sched_param sp = { .sched_priority = 10 };
		int64_t t_end, worst = 0, t0, dt;
		long wakeups = 0, odd = 0, timeouts = 0;
		struct vmclock_abi p;
		char msg[128];

		if (sched_setscheduler(0, SCHED_FIFO, &sp))
			_exit(3);
		t_end = now_ns(CLOCK_MONOTONIC) + secs * 1000000000LL;
		while (now_ns(CLOCK_MONOTONIC) < t_end && odd < 3) {
			struct timespec ts = { 0, 50000 + (wakeups % 7) * 13000 };

			nanosleep(&ts, NULL);
			wakeups++;
			for (k = 0; k < nviews; k++) {
				uint32_t seq = m[k]->seq_count;

				if (!(seq & 1))
					continue;
				odd++;
				t0 = now_ns(CLOCK_MONOTONIC);
				if (pread(fds[k], &p, sizeof(p), 0) < 0 &&
				    errno == ETIMEDOUT)
					timeouts++;
				while (m[k]->seq_count == seq &&
				       now_ns(CLOCK_MONOTONIC) - t0 < 2000000000LL)
					;
				dt = now_ns(CLOCK_MONOTONIC) - t0;
				if (dt > worst)
					worst = dt;
				break;
			}
		}
		snprintf(msg, sizeof(msg), "%ld %ld %ld %lld", wakeups, odd,
			 timeouts, (long long)worst);
		if (write(pipefd[1], msg, strlen(msg) + 1) < 0)
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	{
		struct timex tx = { .modes = ADJ_FREQUENCY };
		int64_t t_end = now_ns(CLOCK_MONOTONIC) + secs * 1000000000LL;

		pub0 = stat_value("publishes");
		while (now_ns(CLOCK_MONOTONIC) < t_end &&
		       waitpid(pid, &st, WNOHANG) == 0) {
			tx.freq = (i++ & 1) ? 65536 : -65536;
			adjtimex(&tx);
		}
		tx.freq = 0;
		adjtimex(&tx);
		pubs = stat_value("publishes") - pub0;
	}
	{
		char msg[128] = "";
		long wakeups = 0, odd = -1, timeouts = -1;
		long long worst = -1;

		if (read(pipefd[0], msg, sizeof(msg) - 1) > 0)
			sscanf(msg, "%ld %ld %ld %lld", &wakeups, &odd, &timeouts,
			       &worst);
		waitpid(pid, &st, 0);
		result(WIFEXITED(st) && !WEXITSTATUS(st) && wakeups > 1000 &&
		       pubs > 100 && odd == 0,
		       "RT thread woken %ld times during %lld rewrites of %d views: never inside an odd-seq window",
		       wakeups, pubs, nviews);
		printf("# %ld wakeups found an odd seq_count, %ld read()s of it gave ETIMEDOUT, longest odd %lld ns; child status 0x%x\n",
		       odd, timeouts, worst, st);
		printf("M seqwindow views %d publishes %lld wakeups %ld odd %ld longest_odd_ns %lld\n",
		       nviews, pubs, wakeups, odd, worst);
	}
	for (k = 0; k < nviews; k++)
		close(fds[k]);
	return 0;
}

#include "hosttest_stress.c"

static int robust_main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "stress"))
		return cmd_stress(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (argc >= 2 && !strcmp(argv[1], "mapping"))
		return cmd_mapping();
	if (argc >= 2 && !strcmp(argv[1], "status"))
		return cmd_status();
	if (argc >= 3 && !strcmp(argv[1], "views"))
		return cmd_views(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "loadopen"))
		return cmd_loadopen(argv[2], atoi(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "reftimeout"))
		return cmd_reftimeout(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "seqwindow"))
		return cmd_seqwindow(atoi(argv[2]), atoi(argv[3]));
	return 2;
}
