// SPDX-License-Identifier: GPL-2.0
/*
 * vmclockctl: the operator's view of vmclock_discipline (guest) and
 * vmclock_host (host).
 *
 * Module state and loading go through libkmod; everything else is read from
 * (and the knobs written to) the modules' sysfs. No dmesg parsing.
 * See docs/vmclockctl.8 for commands and exit codes.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libkmod.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define __printf(a, b)	__attribute__((format(printf, a, b)))

#ifndef VMCLOCKCTL_VERSION
#define VMCLOCKCTL_VERSION "unknown"
#endif

/* Exit codes (docs/vmclockctl.8, EXIT STATUS). */
enum {
	EXIT_SYNC = 0,		/* locked, or the command succeeded */
	EXIT_ERR = 1,		/* usage, bad value, I/O or permission error */
	EXIT_UNSYNC = 2,	/* discipline loaded, state other than locked */
	EXIT_NODEV = 3,		/* no vmclock device, or no time data on it */
	EXIT_NOTLOADED = 4,	/* module not loaded */
};

#define GUEST_MOD	"vmclock_discipline"
#define HOST_MOD	"vmclock_host"
#define SPARK_MAX	64	/* longest sparkline window, samples */

static const char *sysfs = "/sys";
static bool fake_root;		/* --sysfs-root: no libkmod state queries */
static bool json;
static long long dev_index = -1;	/* -d: vmclockN (0..UINT_MAX); -1: the first */

static void __printf(1, 2) err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmclockctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* sysfs helpers ---------------------------------------------------------- */

/*
 * Read the first line of a file, newline stripped; false (and @buf empty)
 * if it cannot be opened or read, or is empty.
 */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	buf[0] = '\0';
	if (!f)
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (!ok) {
		buf[0] = '\0';
		return false;
	}
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* An integer as the kernel prints it (and JSON allows): no leading zero. */
static bool is_int(const char *s)
{
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return false;
	while (isdigit((unsigned char)*s))
		s++;
	return *s == '\0';
}

/* JSON output ------------------------------------------------------------ */

static bool jw_first = true;

static void jw_sep(void)
{
	if (!jw_first)
		putchar(',');
	jw_first = false;
}

static void jw_strval(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jw_key(const char *k)
{
	jw_sep();
	jw_strval(k);
	putchar(':');
}

static void jw_open(const char *k, char c)
{
	if (k)
		jw_key(k);
	else
		jw_sep();
	putchar(c);
	jw_first = true;
}

static void jw_close(char c)
{
	putchar(c);
	jw_first = false;
}

static void jw_str(const char *k, const char *v)
{
	jw_key(k);
	if (v)
		jw_strval(v);
	else
		fputs("null", stdout);
}

/* A number if the text is one, else a string; null when absent. */
static void jw_num(const char *k, const char *v)
{
	jw_key(k);
	if (!v)
		fputs("null", stdout);
	else if (is_int(v))
		fputs(v, stdout);
	else
		jw_strval(v);
}

static void jw_bool(const char *k, bool v)
{
	jw_key(k);
	fputs(v ? "true" : "false", stdout);
}

static void jw_int(const char *k, long long v)
{
	jw_key(k);
	printf("%lld", v);
}

/* Modules ---------------------------------------------------------------- */

struct modinfo {
	const char *name;
	bool loaded;
	char initstate[16];	/* live, coming, going, builtin */
	char version[64];
};

static struct kmod_ctx *kctx(void)
{
	static struct kmod_ctx *ctx;

	if (!ctx) {
		ctx = kmod_new(NULL, NULL);
		if (!ctx)
			err("libkmod: cannot create a context");
	}
	return ctx;
}

/*
 * Presence through libkmod (kmod_module_get_initstate reads
 * /sys/module/NAME/initstate); with --sysfs-root the same file is read
 * under that root, as libkmod cannot be pointed elsewhere. Only "no such
 * module" (-ENOENT) means not loaded: any other failure is reported and
 * returned, so that an error is never shown as "not loaded".
 */
static int module_query(const char *name, struct modinfo *mi)
{
	char path[PATH_MAX];

	memset(mi, 0, sizeof(*mi));
	mi->name = name;
	if (fake_root) {
		snprintf(path, sizeof(path), "%s/module/%s", sysfs, name);
		if (is_dir(path)) {
			mi->loaded = true;
			snprintf(path, sizeof(path), "%s/module/%s/initstate",
				 sysfs, name);
			if (!read_line(path, mi->initstate,
				       sizeof(mi->initstate))) {
				if (!access(path, F_OK)) {
					err("%s: cannot read %s", name, path);
					return -EIO;
				}
				strcpy(mi->initstate, "builtin");
			}
		}
	} else {
		struct kmod_ctx *ctx = kctx();
		struct kmod_module *mod;
		int st;

		if (!ctx)
			return -ENOMEM;
		st = kmod_module_new_from_name(ctx, name, &mod);
		if (st < 0) {
			err("libkmod: %s: %s", name, strerror(-st));
			return st;
		}
		st = kmod_module_get_initstate(mod);
		kmod_module_unref(mod);
		if (st < 0 && st != -ENOENT) {
			err("libkmod: %s: cannot read its state: %s", name,
			    strerror(-st));
			return st;
		}
		if (st >= 0) {
			const char *s = kmod_module_initstate_str(st);

			mi->loaded = true;
			snprintf(mi->initstate, sizeof(mi->initstate), "%s",
				 s ? s : "unknown");
		}
	}
	if (mi->loaded) {
		snprintf(path, sizeof(path), "%s/module/%s/version", sysfs,
			 name);
		read_line(path, mi->version, sizeof(mi->version));
	}
	return 0;
}

/* Guest discipline ------------------------------------------------------- */

enum { T_STR, T_INT };

static const struct attr {
	const char *name;
	int type;
	const char *label;	/* human output; NULL: shown elsewhere */
	const char *unit;
} attrs[] = {
	{ "state", T_STR, "State", NULL },
	{ "clocksource", T_STR, "Clocksource", NULL },
	{ "page_status", T_STR, "Page status", NULL },
	{ "time_scale", T_STR, "Time scale", NULL },
	{ "leap", T_STR, "Leap", NULL },
	{ "maxerror_ns", T_INT, "Max error", "ns" },
	{ "offset_ns", T_INT, "Last offset", "ns" },
	{ "freq_ppb", T_INT, "Frequency", NULL },
	{ "ref_freq_ppb", T_INT, "Reference freq", NULL },
	{ "bias_ppb", T_INT, "Learnt bias", NULL },
	{ "hold_bias_ppb", T_INT, "Hold bias", NULL },
	{ "steps", T_INT, "Steps", NULL },
	{ "disruptions", T_INT, "Disruptions", NULL },
	{ "updates", T_INT, "Updates", NULL },
	{ "page_errors", T_INT, "Page errors", NULL },
	{ "foreign_changes", T_INT, "Foreign changes", NULL },
	{ "clock_sets", T_INT, "Stepped by others", NULL },
	{ "resumes", T_INT, "Resumes", NULL },
	{ "last_page_error", T_STR, "Last page error", NULL },
	{ "device", T_STR, NULL, NULL },
	{ "enabled", T_INT, "Enabled", NULL },
	{ "step_threshold_ns", T_INT, "Step threshold", "ns" },
	{ "step_after_sync", T_INT, "Step after sync", NULL },
	{ "slew_max_ppm", T_INT, "Slew max", "ppm" },
	{ "resync_slew_max_ppm", T_INT, "Resync slew max", "ppm" },
	{ "update_interval_ms", T_INT, "Update interval", "ms" },
	{ "idle_interval_ms", T_INT, "Idle interval", "ms" },
};

#define NATTRS ARRAY_SIZE(attrs)

struct gdev {
	unsigned int index;
	char dir[PATH_MAX];
	char val[NATTRS][128];
	bool have[NATTRS];
};

static const char *gval(const struct gdev *g, const char *name)
{
	size_t i;

	for (i = 0; i < NATTRS; i++)
		if (!strcmp(attrs[i].name, name))
			return g->have[i] ? g->val[i] : NULL;
	return NULL;
}

static void gdev_read(struct gdev *g)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < NATTRS; i++) {
		snprintf(path, sizeof(path), "%s/%s", g->dir, attrs[i].name);
		g->have[i] = read_line(path, g->val[i], sizeof(g->val[i]));
	}
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/*
 * Every vmclockN directory, sorted by N (readdir's order is the
 * filesystem's): *@idx is malloc()ed; returns how many, -1 out of memory.
 */
static int gdev_list(unsigned int **idx)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned int *v = NULL, *nv;
	size_t n = 0, cap = 0;
	DIR *d;

	*idx = NULL;
	snprintf(path, sizeof(path), "%s/kernel/%s", sysfs, GUEST_MOD);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		unsigned long long i;
		char *end;

		if (strncmp(de->d_name, "vmclock", 7) ||
		    !isdigit((unsigned char)de->d_name[7]))
			continue;
		errno = 0;
		i = strtoull(de->d_name + 7, &end, 10);
		if (errno || *end || i > UINT_MAX)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nv = cap < INT_MAX ? realloc(v, cap * sizeof(*v)) : NULL;
			if (!nv) {
				closedir(d);
				free(v);
				err("out of memory listing %s", path);
				return -1;
			}
			v = nv;
		}
		v[n++] = i;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_uint);
	*idx = v;
	return n;
}

static void gdev_init(struct gdev *g, unsigned int index)
{
	memset(g, 0, sizeof(*g));
	g->index = index;
	snprintf(g->dir, sizeof(g->dir), "%s/kernel/%s/vmclock%u", sysfs,
		 GUEST_MOD, index);
}

/* Pick the device for monitor/set: -d N, else the lowest N. */
static int gdev_pick(struct gdev *g)
{
	unsigned int *idx;
	int n = gdev_list(&idx), i;

	for (i = 0; i < n; i++)
		if (dev_index < 0 || idx[i] == dev_index)
			break;
	if (i >= n) {
		free(idx);
		return -ENODEV;
	}
	gdev_init(g, idx[i]);
	free(idx);
	return 0;
}

static int state_exit(const char *state)
{
	if (!state)
		return EXIT_ERR;
	if (!strcmp(state, "locked"))
		return EXIT_SYNC;
	if (!strcmp(state, "no-time-data"))
		return EXIT_NODEV;
	return EXIT_UNSYNC;
}

/* Firmware vmclock devices, whether or not a module follows them. */
static const char * const acpi_ids[] = { "VMCLOCK", "AMZNC10C", "QEMUVCLK" };

static int fw_devices(char names[][64], int max)
{
	char path[PATH_MAX], buf[128];
	struct dirent *de;
	DIR *d;
	int n = 0;
	size_t i;

	snprintf(path, sizeof(path), "%s/bus/acpi/devices", sysfs);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)) && n < max) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/bus/acpi/devices/%s/hid",
				 sysfs, de->d_name);
			if (!read_line(path, buf, sizeof(buf)))
				continue;
			for (i = 0; i < ARRAY_SIZE(acpi_ids); i++)
				if (!strcmp(buf, acpi_ids[i]))
					snprintf(names[n++], 64, "acpi:%.58s",
						 de->d_name);
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/bus/platform/devices", sysfs);
	d = opendir(path);
	if (d) {
		while ((de = readdir(d)) && n < max) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path),
				 "%s/bus/platform/devices/%s/of_node/compatible",
				 sysfs, de->d_name);
			/* first string of the NUL-separated list */
			if (read_line(path, buf, sizeof(buf)) &&
			    !strcmp(buf, "amazon,vmclock"))
				snprintf(names[n++], 64, "of:%.60s", de->d_name);
		}
		closedir(d);
	}
	return n;
}

/* Host module ------------------------------------------------------------ */

struct hstat {
	char key[32][32];
	char val[32][64];
	int n;
	int err;	/* errno when the stats could not be read */
};

static bool host_stats(struct hstat *h)
{
	char path[PATH_MAX], line[128];
	FILE *f;

	h->n = 0;
	snprintf(path, sizeof(path), "%s/kernel/debug/%s/stats", sysfs,
		 HOST_MOD);
	f = fopen(path, "re");
	if (!f) {
		h->err = errno;
		return false;
	}
	while (h->n < 32 && fgets(line, sizeof(line), f)) {
		char *sp;

		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		snprintf(h->key[h->n], sizeof(h->key[0]), "%.31s", line);
		snprintf(h->val[h->n], sizeof(h->val[0]), "%.63s", sp + 1);
		h->n++;
	}
	fclose(f);
	return true;
}

static const char *hval(const struct hstat *h, const char *k)
{
	int i;

	for (i = 0; i < h->n; i++)
		if (!strcmp(h->key[i], k))
			return h->val[i];
	return NULL;
}

static const char *transforms_note =
	"per-view counter transforms are visible only to each view's own file (VMCLOCK_HOST_GET_INFO); vmclock_host exposes no system-wide list";

/* status ----------------------------------------------------------------- */

#define LBL "%-18s: "

/* ppb as ppm; @dir: positive means faster (a rate, not a correction) */
static void print_ppb(const char *label, const char *v, bool dir)
{
	long long ppb;

	printf(LBL, label);
	if (!v || !is_int(v)) {
		printf("%s\n", v ? v : "-");
		return;
	}
	ppb = strtoll(v, NULL, 10);
	if (dir)
		printf("%.3f ppm %s (%s ppb)\n", llabs(ppb) / 1000.0,
		       ppb >= 0 ? "fast" : "slow", v);
	else
		printf("%+.3f ppm (%s ppb)\n", ppb / 1000.0, v);
}

static void print_guest_dev(const struct gdev *g)
{
	const char *v;
	size_t i;

	v = gval(g, "device");
	printf(LBL "vmclock%u: %s\n", "Device", g->index, v ? v : "-");
	for (i = 0; i < NATTRS; i++) {
		const struct attr *a = &attrs[i];

		v = g->have[i] ? g->val[i] : NULL;
		if (!a->label)
			continue;
		if (!strcmp(a->name, "freq_ppb") ||
		    !strcmp(a->name, "ref_freq_ppb") ||
		    !strcmp(a->name, "bias_ppb") ||
		    !strcmp(a->name, "hold_bias_ppb")) {
			print_ppb(a->label, v, strcmp(a->name, "bias_ppb") &&
				  strcmp(a->name, "hold_bias_ppb"));
		} else if (!strcmp(a->name, "offset_ns") && v && is_int(v)) {
			printf(LBL "%s ns (CLOCK_REALTIME %s the page)\n",
			       a->label, v,
			       v[0] == '-' ? "behind" :
			       strcmp(v, "0") ? "ahead of" : "on");
		} else {
			printf(LBL "%s%s%s\n", a->label, v ? v : "-",
			       v && a->unit ? " " : "",
			       v && a->unit ? a->unit : "");
		}
	}
}

static void print_module(const char *label, const struct modinfo *mi)
{
	printf(LBL, label);
	if (mi->loaded)
		printf("%s %s (%s)\n", mi->name,
		       mi->version[0] ? mi->version : "(no version)",
		       mi->initstate);
	else
		printf("%s not loaded\n", mi->name);
}

static void json_module(const struct modinfo *mi)
{
	jw_str("module", mi->name);
	jw_bool("loaded", mi->loaded);
	jw_str("initstate", mi->loaded ? mi->initstate : NULL);
	jw_str("version", mi->loaded && mi->version[0] ? mi->version : NULL);
}

static int cmd_status(bool show_guest, bool show_host)
{
	struct modinfo gm, hm;
	struct gdev *g = NULL;
	unsigned int *idx = NULL;
	char fw[8][64], path[PATH_MAX], misc[32];
	struct hstat hs;
	bool have_stats = false, have_misc = false;
	int ng = 0, nfw, i, rc;

	if (module_query(GUEST_MOD, &gm) || module_query(HOST_MOD, &hm))
		return EXIT_ERR;
	nfw = fw_devices(fw, 8);
	if (gm.loaded) {
		ng = gdev_list(&idx);
		if (ng < 0)
			return EXIT_ERR;
		g = ng ? calloc(ng, sizeof(*g)) : NULL;
		if (ng && !g) {
			free(idx);
			err("out of memory for %d devices", ng);
			return EXIT_ERR;
		}
		for (i = 0; i < ng; i++) {
			gdev_init(&g[i], idx[i]);
			gdev_read(&g[i]);
		}
		free(idx);
	}
	if (hm.loaded) {
		snprintf(path, sizeof(path), "%s/class/misc/%s/dev", sysfs,
			 HOST_MOD);
		have_misc = read_line(path, misc, sizeof(misc));
		have_stats = host_stats(&hs);
	}

	/* the exit code speaks for the guest, unless only the host is asked */
	if (show_guest)
		rc = !gm.loaded ? EXIT_NOTLOADED : !ng ? EXIT_NODEV :
		     state_exit(gval(&g[0], "state"));
	else
		rc = hm.loaded ? EXIT_SYNC : EXIT_NOTLOADED;

	if (json) {
		jw_open(NULL, '{');
		jw_str("vmclockctl", VMCLOCKCTL_VERSION);
		jw_int("exit_code", rc);
		jw_open("firmware_devices", '[');
		for (i = 0; i < nfw; i++) {
			jw_sep();
			jw_strval(fw[i]);
		}
		jw_close(']');
		if (show_guest) {
			jw_open("guest", '{');
			json_module(&gm);
			jw_open("devices", '[');
			for (i = 0; i < ng; i++) {
				size_t a;

				jw_open(NULL, '{');
				jw_int("index", g[i].index);
				for (a = 0; a < NATTRS; a++) {
					const char *v = g[i].have[a] ?
							g[i].val[a] : NULL;

					if (attrs[a].type == T_INT)
						jw_num(attrs[a].name, v);
					else
						jw_str(attrs[a].name, v);
				}
				jw_close('}');
			}
			jw_close(']');
			jw_close('}');
		}
		if (show_host) {
			jw_open("host", '{');
			json_module(&hm);
			jw_str("misc_device", have_misc ? misc : NULL);
			jw_key("stats");
			if (have_stats) {
				jw_first = true;
				putchar('{');
				for (i = 0; i < hs.n; i++)
					jw_num(hs.key[i], hs.val[i]);
				jw_close('}');
			} else {
				fputs("null", stdout);
			}
			jw_key("views");
			fputs("null", stdout);
			jw_str("views_note", transforms_note);
			jw_close('}');
		}
		jw_close('}');
		putchar('\n');
		free(g);
		return rc;
	}

	if (show_guest) {
		print_module("Guest module", &gm);
		printf(LBL, "Firmware devices");
		for (i = 0; i < nfw; i++)
			printf("%s%s", i ? " " : "", fw[i]);
		printf("%s\n", nfw ? "" : "none found");
		if (gm.loaded && !ng)
			printf(LBL "none (module loaded without a vmclockN directory)\n",
			       "Device");
		for (i = 0; i < ng; i++)
			print_guest_dev(&g[i]);
	}
	if (show_host) {
		print_module("Host module", &hm);
		if (hm.loaded) {
			printf(LBL "%s\n", "Host device",
			       have_misc ? "/dev/" HOST_MOD : "missing");
			if (have_stats) {
				const char *ref = hval(&hs, "reference");

				printf(LBL "%s\n", "Host views",
				       hval(&hs, "views") ?: "-");
				printf(LBL "%s\n", "Host clocksource",
				       hval(&hs, "clocksource") ?: "-");
				printf(LBL "%s\n", "Host reference",
				       !ref ? "-" : strcmp(ref, "0") ?
				       "explicit (set by userspace)" :
				       "host kernel timekeeping");
				printf(LBL "%s\n", "Host publishes",
				       hval(&hs, "publishes") ?: "-");
			} else {
				printf(LBL "unknown (%s/kernel/debug/%s/stats: %s)\n",
				       "Host views", sysfs, HOST_MOD,
				       hs.err == ENOENT ?
				       "debugfs not mounted? mount -t debugfs none /sys/kernel/debug" :
				       strerror(hs.err));
			}
			printf(LBL "%s\n", "View transforms", transforms_note);
		}
	}
	free(g);
	return rc;
}

/* monitor ---------------------------------------------------------------- */

static bool utf8_locale(void)
{
	static const char * const vars[] = { "LC_ALL", "LC_CTYPE", "LANG" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vars); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return strcasestr(v, "utf-8") || strcasestr(v, "utf8");
	}
	return false;
}

/* |v|, saturated: |LLONG_MIN| does not fit, LLONG_MAX stands for it. */
static long long sat_abs(long long v)
{
	return v == LLONG_MIN ? LLONG_MAX : llabs(v);
}

/*
 * The bar, 0..7, of @a (0 <= @a <= @max) against @max: a * 7 in 128 bits,
 * as it overflows 64 for |offset| > LLONG_MAX / 7 (~15 days in ns).
 */
static int spark_level(long long a, long long max)
{
	unsigned __int128 l;

	if (max <= 0 || a <= 0)
		return 0;
	if (a >= max)
		return 7;
	l = ((unsigned __int128)a * 7 + max / 2) / max;
	return l > 7 ? 7 : (int)l;
}

/* |offset| of the window as 8-level bars, scaled to the window's max. */
static void sparkline(const long long *w, int n, long long max, bool utf8,
		      char *out, size_t len)
{
	static const char * const blocks[] = {
		"\u2581", "\u2582", "\u2583", "\u2584",
		"\u2585", "\u2586", "\u2587", "\u2588",
	};
	static const char * const ascii[] = {
		"_", ".", "-", ":", "=", "+", "*", "#",
	};
	size_t pos = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		int lvl = spark_level(sat_abs(w[i]), max);
		const char *s = utf8 ? blocks[lvl] : ascii[lvl];

		if (pos + strlen(s) + 1 > len)
			break;
		strcpy(out + pos, s);
		pos += strlen(s);
	}
}

static int cmd_monitor(double interval, long count, int width)
{
	long long win[SPARK_MAX];
	int nwin = 0, rc = EXIT_ERR;
	bool utf8 = utf8_locale();
	struct modinfo gm;
	struct timespec ts;
	struct gdev g;
	long i;

	ts.tv_sec = (time_t)interval;
	ts.tv_nsec = (long)((interval - ts.tv_sec) * 1e9);
	if (!json)
		printf("%-8s %14s %14s  %-12s %s\n", "time", "offset(ns)",
		       "freq(ppb)", "state", "|offset| window");
	for (i = 0; !count || i < count; i++) {
		const char *off, *freq, *state;
		char spark[SPARK_MAX * 3 + 1], tbuf[16];
		long long max = 0;
		time_t now;
		int k;

		if (i)
			nanosleep(&ts, NULL);
		if (module_query(GUEST_MOD, &gm))
			return EXIT_ERR;
		if (!gm.loaded) {
			err("%s not loaded", GUEST_MOD);
			return EXIT_NOTLOADED;
		}
		if (gdev_pick(&g)) {
			err("no vmclock device directory under %s/kernel/%s",
			    sysfs, GUEST_MOD);
			return EXIT_NODEV;
		}
		gdev_read(&g);
		off = gval(&g, "offset_ns");
		freq = gval(&g, "freq_ppb");
		state = gval(&g, "state");
		rc = state_exit(state);
		if (off && is_int(off)) {
			if (nwin == width) {
				memmove(win, win + 1, (width - 1) * sizeof(*win));
				nwin--;
			}
			win[nwin++] = strtoll(off, NULL, 10);
		}
		for (k = 0; k < nwin; k++)
			if (sat_abs(win[k]) > max)
				max = sat_abs(win[k]);
		sparkline(win, nwin, max, utf8, spark, sizeof(spark));
		now = time(NULL);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime(&now));
		if (json) {
			jw_first = true;
			jw_open(NULL, '{');
			jw_int("time", (long long)now);
			jw_int("device", g.index);
			jw_num("offset_ns", off);
			jw_num("freq_ppb", freq);
			jw_str("state", state);
			jw_int("window_max_abs_offset_ns", max);
			jw_close('}');
			putchar('\n');
		} else {
			printf("%-8s %14s %14s  %-12s %s  max %lld ns\n", tbuf,
			       off ?: "-", freq ?: "-", state ?: "-", spark,
			       max);
		}
		fflush(stdout);
	}
	return rc;
}

/* set -------------------------------------------------------------------- */

struct knob {
	const char *name;
	bool boolean;
	bool is_signed;			/* min, max as long long (an int param) */
	unsigned long long min, max;
};

static const struct knob knobs[] = {
	{ "step_threshold_ns", false, false, 1000, ULLONG_MAX },
	{ "step_after_sync", true, false, 0, 1 },
	{ "slew_max_ppm", false, false, 1, 50000 },
	{ "resync_slew_max_ppm", false, false, 1, 50000 },
	{ "update_interval_ms", false, false, 10, 10000 },
	{ "idle_interval_ms", false, false, 10, 60000 },
	{ "enabled", true, false, 0, 1 },
};

#define NKNOBS ARRAY_SIZE(knobs)

/*
 * Parse as the module does (kstrtou64/kstrtou32/kstrtoint base 0,
 * kstrtobool limited to 0/1/y/n) and range-check; writes the canonical
 * decimal into @out.
 */
static bool knob_parse(const struct knob *k, const char *s, char *out,
		       size_t len)
{
	unsigned long long v;
	char *end;

	if (k->is_signed) {
		long long sv;

		if (!isdigit((unsigned char)s[s[0] == '-']))
			return false;
		errno = 0;
		sv = strtoll(s, &end, 0);
		if (errno || *end || sv < (long long)k->min ||
		    sv > (long long)k->max)
			return false;
		snprintf(out, len, "%lld", sv);
		return true;
	}
	if (k->boolean) {
		if (!strcmp(s, "1") || !strcasecmp(s, "y"))
			v = 1;
		else if (!strcmp(s, "0") || !strcasecmp(s, "n"))
			v = 0;
		else
			return false;
	} else {
		if (!isdigit((unsigned char)s[0]))
			return false;
		errno = 0;
		v = strtoull(s, &end, 0);
		if (errno || *end || v < k->min || v > k->max)
			return false;
	}
	snprintf(out, len, "%llu", v);
	return true;
}

static const struct knob *knob_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKNOBS; i++)
		if (!strcmp(knobs[i].name, name))
			return &knobs[i];
	return NULL;
}

static void knob_range(const struct knob *k, char *buf, size_t len)
{
	if (k->boolean)
		snprintf(buf, len, "0, 1, y or n");
	else if (k->is_signed)
		snprintf(buf, len, "an integer %lld..%lld", (long long)k->min,
			 (long long)k->max);
	else if (k->max == ULLONG_MAX)
		snprintf(buf, len, "an integer >= %llu", k->min);
	else
		snprintf(buf, len, "an integer %llu..%llu", k->min, k->max);
}

static int cmd_set(const char *name, const char *value)
{
	const struct knob *k = knob_find(name);
	char path[PATH_MAX + 64], canon[32], old[64], now[64], range[48];
	struct modinfo gm;
	struct gdev g;
	FILE *f;
	int e;

	if (!k) {
		size_t i;

		fprintf(stderr, "vmclockctl: unknown knob '%s'; knobs:", name);
		for (i = 0; i < NKNOBS; i++)
			fprintf(stderr, " %s", knobs[i].name);
		fputc('\n', stderr);
		return EXIT_ERR;
	}
	if (!knob_parse(k, value, canon, sizeof(canon))) {
		knob_range(k, range, sizeof(range));
		err("bad value '%s' for %s: must be %s", value, name, range);
		return EXIT_ERR;
	}
	if (module_query(GUEST_MOD, &gm))
		return EXIT_ERR;
	if (!gm.loaded) {
		err("%s not loaded (vmclockctl load guest)", GUEST_MOD);
		return EXIT_NOTLOADED;
	}
	if (gdev_pick(&g)) {
		err("no vmclock device directory under %s/kernel/%s", sysfs,
		    GUEST_MOD);
		return EXIT_NODEV;
	}
	snprintf(path, sizeof(path), "%s/%s", g.dir, name);
	if (!read_line(path, old, sizeof(old)))
		strcpy(old, "?");
	f = fopen(path, "we");
	if (!f) {
		e = errno;
		err("cannot write %s: %s%s", path, strerror(e),
		    e == EACCES || e == EPERM ? " (run as root)" : "");
		return EXIT_ERR;
	}
	fprintf(f, "%s\n", canon);
	e = fflush(f) ? errno : 0;
	if (fclose(f) && !e)
		e = errno;
	if (e) {
		err("writing %s to %s: %s", canon, path, strerror(e));
		return EXIT_ERR;
	}
	if (!read_line(path, now, sizeof(now)))
		strcpy(now, "?");
	if (strcmp(now, canon)) {
		err("%s reads back %s after writing %s", name, now, canon);
		return EXIT_ERR;
	}
	printf("vmclock%u %s: %s -> %s\n", g.index, name, old, now);
	return EXIT_SYNC;
}

/* load, unload ----------------------------------------------------------- */

/* Every module_param of guest/main.c and host/ (tests/ctl-test checks). */
static const struct param {
	const char *mod;
	struct knob k;
} params[] = {
	{ GUEST_MOD, { "device_index", false, false, 0, UINT_MAX } },
	{ GUEST_MOD, { "enabled", true, false, 0, 1 } },
	{ GUEST_MOD, { "step_threshold_ns", false, false, 1000, ULLONG_MAX } },
	{ GUEST_MOD, { "step_after_sync", true, false, 0, 1 } },
	{ GUEST_MOD, { "slew_max_ppm", false, false, 1, 50000 } },
	{ GUEST_MOD, { "resync_slew_max_ppm", false, false, 1, 50000 } },
	{ GUEST_MOD, { "compat", false, true, (unsigned long long)-1LL, 1 } },
	{ GUEST_MOD, { "update_interval_ms", false, false, 10, 10000 } },
	{ GUEST_MOD, { "idle_interval_ms", false, false, 10, 60000 } },
	{ GUEST_MOD, { "max_extrapolation_s", false, false, 0, UINT_MAX } },
	{ HOST_MOD, { "ntp_error", true, false, 0, 1 } },
	{ HOST_MOD, { "tolerance_ns", false, false, 0, UINT_MAX } },
	{ HOST_MOD, { "ntp_poll_ms", false, false, 10, UINT_MAX } },
	{ HOST_MOD, { "max_views", false, false, 0, UINT_MAX } },
	{ HOST_MOD, { "reference_timeout_ms", false, false, 0, UINT_MAX } },
};

static const char *which_mod(const char *w)
{
	if (!w || !strcmp(w, "guest"))
		return GUEST_MOD;
	if (!strcmp(w, "host"))
		return HOST_MOD;
	return NULL;
}

/* Check name=value pairs against the module's parameters; build options. */
static int load_options(const char *mod, int argc, char **argv, char *opts,
			size_t len)
{
	size_t pos = 0, i;
	int a;

	opts[0] = '\0';
	for (a = 0; a < argc; a++) {
		const char *eq = strchr(argv[a], '=');
		const struct param *p = NULL;
		char canon[32], name[64], range[48];

		if (!eq || eq == argv[a] || (size_t)(eq - argv[a]) >= sizeof(name)) {
			err("bad parameter '%s': expected name=value", argv[a]);
			return EXIT_ERR;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - argv[a]),
			 argv[a]);
		for (i = 0; i < ARRAY_SIZE(params); i++)
			if (!strcmp(params[i].mod, mod) &&
			    !strcmp(params[i].k.name, name))
				p = &params[i];
		if (!p) {
			fprintf(stderr, "vmclockctl: %s has no parameter '%s'; parameters:",
				mod, name);
			for (i = 0; i < ARRAY_SIZE(params); i++)
				if (!strcmp(params[i].mod, mod))
					fprintf(stderr, " %s", params[i].k.name);
			fputc('\n', stderr);
			return EXIT_ERR;
		}
		if (!knob_parse(&p->k, eq + 1, canon, sizeof(canon))) {
			knob_range(&p->k, range, sizeof(range));
			err("bad value '%s' for %s: must be %s", eq + 1, name,
			    range);
			return EXIT_ERR;
		}
		if (pos + strlen(name) + strlen(canon) + 3 > len) {
			err("too many parameters");
			return EXIT_ERR;
		}
		pos += snprintf(opts + pos, len - pos, "%s%s=%s",
				pos ? " " : "", name, canon);
	}
	return 0;
}

static int cmd_load(const char *which, int argc, char **argv)
{
	const char *name = which_mod(which);
	struct kmod_module *mod;
	struct modinfo mi;
	struct kmod_ctx *ctx;
	char opts[1024];
	int ret;

	if (!name) {
		err("load: expected guest or host, not '%s'", which);
		return EXIT_ERR;
	}
	ret = load_options(name, argc, argv, opts, sizeof(opts));
	if (ret)
		return ret;
	if (fake_root) {
		err("load: not with --sysfs-root");
		return EXIT_ERR;
	}
	if (module_query(name, &mi))
		return EXIT_ERR;
	if (mi.loaded) {
		if (argc) {
			err("%s already loaded; parameters not applied (unload first, or use set)",
			    name);
			return EXIT_ERR;
		}
		printf("%s already loaded (%s)\n", name, mi.version);
		return EXIT_SYNC;
	}
	ctx = kctx();
	if (!ctx)
		return EXIT_ERR;
	ret = kmod_module_new_from_name(ctx, name, &mod);
	if (ret < 0) {
		err("libkmod: %s: %s", name, strerror(-ret));
		return EXIT_ERR;
	}
	if (!kmod_module_get_path(mod)) {
		err("%s not found in the modules directory of this kernel (install it: make install or DKMS)",
		    name);
		kmod_module_unref(mod);
		return EXIT_ERR;
	}
	/* modprobe's path: dependencies, modprobe.d options, then ours */
	ret = kmod_module_probe_insert_module(mod, 0, opts, NULL, NULL, NULL);
	kmod_module_unref(mod);
	if (ret < 0) {
		ret = -ret;
		err("loading %s%s%s failed: %s%s", name, *opts ? " " : "", opts,
		    strerror(ret),
		    ret == ENODEV || ret == ENOENT ? " (no vmclock device found)" :
		    ret == EPERM || ret == EACCES ? " (run as root)" :
		    ret == EINVAL ? " (parameter refused by the module)" : "");
		return ret == ENODEV || ret == ENOENT ? EXIT_NODEV : EXIT_ERR;
	}
	if (ret > 0) {
		/* blacklisted or a failed install command */
		err("loading %s refused by the modprobe configuration (%d)",
		    name, ret);
		return EXIT_ERR;
	}
	module_query(name, &mi);
	printf("%s %s loaded%s%s\n", name, mi.version, *opts ? ": " : "", opts);
	return EXIT_SYNC;
}

static int cmd_unload(const char *which)
{
	const char *name = which_mod(which);
	struct kmod_module *mod;
	struct modinfo mi;
	int ret;

	if (!name) {
		err("unload: expected guest or host, not '%s'", which);
		return EXIT_ERR;
	}
	if (fake_root) {
		err("unload: not with --sysfs-root");
		return EXIT_ERR;
	}
	if (module_query(name, &mi))
		return EXIT_ERR;
	if (!mi.loaded) {
		err("%s not loaded", name);
		return EXIT_NOTLOADED;
	}
	ret = kmod_module_new_from_name(kctx(), name, &mod);
	if (ret < 0) {
		err("libkmod: %s: %s", name, strerror(-ret));
		return EXIT_ERR;
	}
	ret = kmod_module_remove_module(mod, 0);
	kmod_module_unref(mod);
	if (ret < 0) {
		err("unloading %s failed: %s%s", name, strerror(-ret),
		    -ret == EBUSY ? " (in use)" :
		    -ret == EPERM ? " (run as root)" : "");
		return EXIT_ERR;
	}
	printf("%s unloaded\n", name);
	return EXIT_SYNC;
}

/* main ------------------------------------------------------------------- */

static void help_text(FILE *f)
{
	fprintf(f,
"Usage: vmclockctl [OPTIONS] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  status [guest|host]            modules, devices, page and discipline state\n"
"  monitor [-i SECONDS] [-n COUNT] [-w WIDTH]\n"
"                                 one line per interval: offset, frequency, state\n"
"                                 and a sparkline of |offset| over WIDTH samples\n"
"  load [guest|host] [param=value...]  load a module (libkmod, as modprobe)\n"
"  unload [guest|host]            unload a module\n"
"  set KNOB VALUE                 write a runtime knob of the guest discipline:\n"
"                                 step_threshold_ns (>= 1000), step_after_sync (0/1/y/n),\n"
"                                 slew_max_ppm (1..50000), resync_slew_max_ppm (1..50000),\n"
"                                 update_interval_ms (10..10000),\n"
"                                 idle_interval_ms (10..60000),\n"
"                                 enabled (0/1/y/n)\n"
"\n"
"Options:\n"
"  -j, --json                     machine-readable output (status, monitor)\n"
"  -d, --device N                 the vmclockN directory to use (default: the lowest N)\n"
"      --sysfs-root DIR           read sysfs from DIR instead of /sys (testing)\n"
"  -h, --help                     this text\n"
"  -V, --version                  print the version\n"
"\n"
"Exit status: 0 synchronized (state locked) or success, 1 usage or error,\n"
"2 not synchronized (any other state), 3 no vmclock device or no time data,\n"
"4 module not loaded. See vmclockctl(8).\n");
}

static const struct option gopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "device", required_argument, NULL, 'd' },
	{ "sysfs-root", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'n' },
	{ "width", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

/* Options before or after the command; "set" and "load" stop at the first
 * argument so that a negative value reaches the validation.
 */
static int parse_opts(int argc, char **argv, const char *mode,
		      double *interval, long *count, long *width)
{
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, mode, gopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'd': {
			/* the module's device_index is a uint: 0..UINT_MAX */
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (!isdigit((unsigned char)*optarg) || errno || *end ||
			    v > UINT_MAX) {
				err("bad device index '%s': 0..%u", optarg,
				    UINT_MAX);
				return EXIT_ERR;
			}
			dev_index = v;
			break;
		}
		case 'r':
			sysfs = optarg;
			fake_root = true;
			break;
		case 'h':
			help_text(stdout);
			exit(EXIT_SYNC);
		case 'V':
			printf("vmclockctl %s\n", VMCLOCKCTL_VERSION);
			exit(EXIT_SYNC);
		case 'i':
			*interval = strtod(optarg, &end);
			if (*end || !*optarg || !(*interval >= 0.01) ||
			    *interval > 86400) {
				err("bad interval '%s': seconds, 0.01..86400",
				    optarg);
				return EXIT_ERR;
			}
			break;
		case 'n':
			errno = 0;
			*count = strtol(optarg, &end, 10);
			if (errno || *end || !*optarg || *count < 0) {
				err("bad count '%s': 0 (forever) or more",
				    optarg);
				return EXIT_ERR;
			}
			break;
		case 'w':
			*width = strtol(optarg, &end, 10);
			if (*end || *width < 1 || *width > SPARK_MAX) {
				err("bad width '%s': 1..%d", optarg,
				    SPARK_MAX);
				return EXIT_ERR;
			}
			break;
		default:
			help_text(stderr);
			return EXIT_ERR;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	double interval = 1.0;
	long count = 0, width = 20;
	const char *cmd;
	int rc;

	rc = parse_opts(argc, argv, "+jd:hVi:n:w:", &interval, &count, &width);
	if (rc)
		return rc;
	if (optind >= argc) {
		help_text(stderr);
		return EXIT_ERR;
	}
	cmd = argv[optind];
	argv += optind;
	argc -= optind;
	optind = 0;	/* glibc: restart on the command's arguments */
	rc = parse_opts(argc, argv,
			!strcmp(cmd, "set") || !strcmp(cmd, "load") ?
			"+jd:hVi:n:w:" : "jd:hVi:n:w:",
			&interval, &count, &width);
	if (rc)
		return rc;
	argv += optind;
	argc -= optind;

	if (!strcmp(cmd, "status")) {
		if (argc > 1 || (argc == 1 && !which_mod(argv[0]))) {
			err("status: expected guest or host");
			return EXIT_ERR;
		}
		rc = cmd_status(!argc || !strcmp(argv[0], "guest"),
				!argc || !strcmp(argv[0], "host"));
	} else if (!strcmp(cmd, "monitor")) {
		if (argc) {
			err("monitor: unexpected argument '%s'", argv[0]);
			return EXIT_ERR;
		}
		rc = cmd_monitor(interval, count, width);
	} else if (!strcmp(cmd, "set")) {
		if (argc != 2) {
			err("set: expected KNOB VALUE");
			return EXIT_ERR;
		}
		rc = cmd_set(argv[0], argv[1]);
	} else if (!strcmp(cmd, "load")) {
		if (argc && !strchr(argv[0], '='))
			rc = cmd_load(argv[0], argc - 1, argv + 1);
		else
			rc = cmd_load(NULL, argc, argv);
	} else if (!strcmp(cmd, "unload")) {
		if (argc > 1) {
			err("unload: expected guest or host");
			return EXIT_ERR;
		}
		rc = cmd_unload(argc ? argv[0] : NULL);
	} else if (!strcmp(cmd, "help")) {
		help_text(stdout);
		rc = EXIT_SYNC;
	} else {
		err("unknown command '%s' (see vmclockctl --help)", cmd);
		rc = EXIT_ERR;
	}
	return rc;
}
