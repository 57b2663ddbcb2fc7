// SPDX-License-Identifier: GPL-2.0
/*
 * Page validation: a good page, then one malformed field at a time, each
 * with the precise verdict it must get; every verdict has a text.
 */
#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmclock_math.h"
#include "tap.h"

#define CPU_COUNTER	VMCLOCK_COUNTER_X86_TSC
#define REGION		4096

/* A synchronized UTC page for a 1 GHz TSC, as producers here write it. */
static void good_page(struct vmclock_abi *p)
{
	memset(p, 0, sizeof(*p));
	p->magic = htole32(VMCLOCK_MAGIC);
	p->size = htole32(sizeof(*p));
	p->version = htole16(VMCLOCK_VERSION);
	p->counter_id = VMCLOCK_COUNTER_X86_TSC;
	p->time_type = VMCLOCK_TIME_UTC;
	p->seq_count = htole32(2);
	p->disruption_marker = htole64(1);
	p->flags = htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID |
			   VMCLOCK_FLAG_TIME_MAXERROR_VALID |
			   VMCLOCK_FLAG_PERIOD_MAXERROR_VALID |
			   VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT);
	p->clock_status = VMCLOCK_STATUS_SYNCHRONIZED;
	p->tai_offset_sec = htole16((__u16)-37);
	p->counter_period_shift = 29;
	p->counter_value = htole64(123456789);
	p->counter_period_frac_sec = htole64(0x89705F4136B4A597ULL);
	p->counter_period_maxerror_rate_frac_sec = htole64(9903520314283ULL);
	p->time_sec = htole64(1783000000);
	p->time_frac_sec = htole64(1ULL << 63);
	p->time_maxerror_nanosec = htole64(1000);
	p->vm_generation_counter = htole64(7);
}

static void set_period_hz(struct vmclock_abi *p, __u64 hz)
{
	struct vmc_period per = { 0, 0 };

	vmc_period_from_hz(hz, &per);
	p->counter_period_shift = per.shift;
	p->counter_period_frac_sec = htole64(per.frac);
}

struct vcase {
	const char *what;
	void (*mod)(struct vmclock_abi *p, __u32 *region);
	enum vmc_page_verdict want;
};

#define MOD(name, body) \
	static void name(struct vmclock_abi *p, __u32 *region) \
	{ (void)p; (void)region; body; }

MOD(m_none, )
MOD(m_magic, p->magic = htole32(0x4b4c4357))
MOD(m_magic_be, p->magic = htobe32(VMCLOCK_MAGIC))
MOD(m_size_small, p->size = htole32(0x60))
MOD(m_size_zero, p->size = 0)
MOD(m_size_region, *region = 0x70; p->size = htole32(0x1000))
MOD(m_size_nogen, p->size = htole32(0x68))
MOD(m_size_nogen_ok, p->size = htole32(0x68);
    p->flags &= ~htole64(VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT))
MOD(m_size_page, p->size = htole32(0x1000))
MOD(m_version0, p->version = 0)
MOD(m_version2, p->version = htole16(2))
MOD(m_arm, p->counter_id = VMCLOCK_COUNTER_ARM_VCNT)
MOD(m_counter7, p->counter_id = 7)
MOD(m_invalid, p->counter_id = VMCLOCK_COUNTER_INVALID)
MOD(m_invalid_noperiod, p->counter_id = VMCLOCK_COUNTER_INVALID;
    p->counter_period_frac_sec = 0; p->counter_period_shift = 0)
MOD(m_tai, p->time_type = VMCLOCK_TIME_TAI)
MOD(m_mono, p->time_type = VMCLOCK_TIME_MONOTONIC)
MOD(m_tt3, p->time_type = 3)
MOD(m_tt4, p->time_type = 4)
MOD(m_tt5, p->time_type = 5)
MOD(m_unreliable, p->clock_status = VMCLOCK_STATUS_UNRELIABLE)
MOD(m_status5, p->clock_status = 5)
MOD(m_leap5, p->leap_indicator = VMCLOCK_LEAP_POST_NEG)
MOD(m_leap6, p->leap_indicator = 6)
MOD(m_leapff, p->leap_indicator = 0xff)
MOD(m_shift63, p->counter_period_shift = 63;
    p->counter_period_frac_sec = htole64(~0ULL))
MOD(m_shift64, p->counter_period_shift = 64)
MOD(m_shift255, p->counter_period_shift = 255)
MOD(m_zero_period, p->counter_period_frac_sec = 0)
MOD(m_2hz, set_period_hz(p, 2))
MOD(m_1mhz, set_period_hz(p, 1000000))
MOD(m_2p20, set_period_hz(p, 1ULL << 20))
MOD(m_2p20_1, set_period_hz(p, (1ULL << 20) + 1))
MOD(m_24mhz, set_period_hz(p, 24000000))
MOD(m_26ghz, set_period_hz(p, 2600000000ULL))
MOD(m_2p38, set_period_hz(p, 1ULL << 38))
MOD(m_2p38_1, set_period_hz(p, (1ULL << 38) + (1ULL << 20)))
MOD(m_1thz, set_period_hz(p, 1000000000000ULL))
MOD(m_tai_pos, p->tai_offset_sec = htole16(37))
MOD(m_tai_pos_noflag, p->tai_offset_sec = htole16(37);
    p->flags &= ~htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID))
MOD(m_tai_zero, p->tai_offset_sec = 0)
MOD(m_tai_10, p->tai_offset_sec = htole16((__u16)-10))
MOD(m_tai_huge, p->tai_offset_sec = htole16((__u16)-30000))
MOD(m_magic_and_version, p->magic = 0; p->version = htole16(9))
MOD(m_odd_seq, p->seq_count = htole32(3))

/* vmc_page_tai_utc(): TAI - UTC from either sign, or unusable */
struct tcase {
	int raw;		/* tai_offset_sec as written */
	bool flag;		/* VMCLOCK_FLAG_TAI_OFFSET_VALID */
	int want;		/* TAI - UTC, or -1: unusable */
};

static const struct tcase tai_cases[] = {
	{ -37, true, 37 },	/* Linux's UTC - TAI */
	{ 37, true, 37 },	/* the specification's prose */
	{ -10, true, 10 },	/* 1972 */
	{ 10, true, 10 },
	{ -1000, true, 1000 },
	{ -9, true, -1 },
	{ 0, true, -1 },
	{ 1001, true, -1 },
	{ -30000, true, -1 },
	{ -32768, true, -1 },	/* |INT16_MIN| does not fit 16 bits */
	{ -37, false, -1 },	/* flag clear */
};

#define N_TAI (sizeof(tai_cases) / sizeof(tai_cases[0]))

static void test_tai(void)
{
	struct vmclock_abi page;
	unsigned int i, bad = 0;

	for (i = 0; i < N_TAI; i++) {
		int got = -1;

		good_page(&page);
		page.tai_offset_sec = htole16((__u16)(__s16)tai_cases[i].raw);
		if (!tai_cases[i].flag)
			page.flags &= ~htole64(VMCLOCK_FLAG_TAI_OFFSET_VALID);
		if (!vmc_page_tai_utc(&page, &got))
			got = -1;
		if (got != tai_cases[i].want) {
			printf("# tai_offset_sec %d flag %d: got %d, want %d\n",
			       tai_cases[i].raw, tai_cases[i].flag, got,
			       tai_cases[i].want);
			bad++;
		}
	}
	tap(!bad, "vmc_page_tai_utc: either sign, 10..1000 s, %u cases", N_TAI);
	tap(vmc_utc_from_tai(1783000037, 37) == 1783000000,
	    "UTC from TAI with TAI - UTC = 37 s");
}

static const struct vcase cases[] = {
	{ "good page", m_none, VMC_PAGE_OK },
	{ "magic off by one", m_magic, VMC_PAGE_BAD_MAGIC },
	{ "magic big-endian", m_magic_be, VMC_PAGE_BAD_MAGIC },
	{ "size 0x60 (< time_maxerror end)", m_size_small, VMC_PAGE_BAD_SIZE },
	{ "size 0", m_size_zero, VMC_PAGE_BAD_SIZE },
	{ "size 4096 in a 0x70 region", m_size_region, VMC_PAGE_BAD_SIZE },
	{ "size 0x68 with vm_generation_counter flag", m_size_nogen,
	  VMC_PAGE_BAD_SIZE },
	{ "size 0x68 without vm_generation_counter", m_size_nogen_ok,
	  VMC_PAGE_OK },
	{ "size 4096 in a 4096 region", m_size_page, VMC_PAGE_OK },
	{ "version 0", m_version0, VMC_PAGE_BAD_VERSION },
	{ "version 2", m_version2, VMC_PAGE_BAD_VERSION },
	{ "counter_id Arm on x86", m_arm, VMC_PAGE_BAD_COUNTER },
	{ "counter_id 7", m_counter7, VMC_PAGE_BAD_COUNTER },
	{ "counter_id invalid", m_invalid, VMC_PAGE_NO_TIME },
	{ "counter_id invalid, no period (QEMU)", m_invalid_noperiod,
	  VMC_PAGE_NO_TIME },
	{ "time_type TAI", m_tai, VMC_PAGE_OK },
	{ "time_type monotonic", m_mono, VMC_PAGE_OK },
	{ "time_type 3 (smeared)", m_tt3, VMC_PAGE_BAD_TIME_TYPE },
	{ "time_type 4 (maybe smeared)", m_tt4, VMC_PAGE_BAD_TIME_TYPE },
	{ "time_type 5", m_tt5, VMC_PAGE_BAD_TIME_TYPE },
	{ "clock_status unreliable (4)", m_unreliable, VMC_PAGE_OK },
	{ "clock_status 5", m_status5, VMC_PAGE_BAD_STATUS },
	{ "leap_indicator 5 (deletion happened)", m_leap5, VMC_PAGE_OK },
	{ "leap_indicator 6 (old picosecond layouts)", m_leap6,
	  VMC_PAGE_BAD_LEAP },
	{ "leap_indicator 255", m_leapff, VMC_PAGE_BAD_LEAP },
	{ "shift 63 with a period still absurd", m_shift63,
	  VMC_PAGE_BAD_PERIOD },
	{ "shift 64", m_shift64, VMC_PAGE_BAD_SHIFT },
	{ "shift 255", m_shift255, VMC_PAGE_BAD_SHIFT },
	{ "zero period", m_zero_period, VMC_PAGE_BAD_PERIOD },
	{ "2 Hz counter", m_2hz, VMC_PAGE_BAD_PERIOD },
	{ "1 MHz counter (too slow)", m_1mhz, VMC_PAGE_BAD_PERIOD },
	{ "2^20 Hz counter (period 2^-20 s, refused)", m_2p20,
	  VMC_PAGE_BAD_PERIOD },
	{ "2^20 + 1 Hz counter (accepted)", m_2p20_1, VMC_PAGE_OK },
	{ "24 MHz counter", m_24mhz, VMC_PAGE_OK },
	{ "2.6 GHz counter", m_26ghz, VMC_PAGE_OK },
	{ "2^38 Hz counter (275 GHz, accepted)", m_2p38, VMC_PAGE_OK },
	{ "2^38 + 2^20 Hz counter (refused)", m_2p38_1, VMC_PAGE_BAD_PERIOD },
	{ "1 THz counter", m_1thz, VMC_PAGE_BAD_PERIOD },
	/* the TAI offset never makes the time data invalid */
	{ "tai_offset +37 with the valid flag (the spec's sign)", m_tai_pos,
	  VMC_PAGE_OK },
	{ "tai_offset +37 without the valid flag", m_tai_pos_noflag,
	  VMC_PAGE_OK },
	{ "tai_offset 0 with the valid flag", m_tai_zero, VMC_PAGE_OK },
	{ "tai_offset -10 (1972) with the valid flag", m_tai_10, VMC_PAGE_OK },
	{ "tai_offset -30000", m_tai_huge, VMC_PAGE_OK },
	{ "bad magic and version: magic first", m_magic_and_version,
	  VMC_PAGE_BAD_MAGIC },
	/* seq_count is the reader's business, not validation's */
	{ "odd seq_count in a copy", m_odd_seq, VMC_PAGE_OK },
};

int main(void)
{
	struct vmclock_abi page;
	struct vmc_line line;
	unsigned int i;
	int v, bad;

	printf("TAP version 13\n");
	printf("1..%zu\n", sizeof(cases) / sizeof(cases[0]) + 6);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u32 region = REGION;
		enum vmc_page_verdict got;

		good_page(&page);
		cases[i].mod(&page, &region);
		got = vmc_page_validate(&page, region, CPU_COUNTER);
		if (!tap(got == cases[i].want, "%s: %s", cases[i].what,
			 vmc_page_verdict_str(cases[i].want)))
			printf("# got %d (%s), expected %d (%s)\n", got,
			       vmc_page_verdict_str(got), cases[i].want,
			       vmc_page_verdict_str(cases[i].want));
	}

	test_tai();

	/* the same page is a foreign-counter page for an Arm guest */
	good_page(&page);
	v = vmc_page_validate(&page, REGION, VMCLOCK_COUNTER_ARM_VCNT);
	if (!tap(v == VMC_PAGE_BAD_COUNTER, "TSC page seen by an Arm guest"))
		printf("# got %d, expected %d\n", v, VMC_PAGE_BAD_COUNTER);

	good_page(&page);
	vmc_page_line(&page, &line);
	if (!tap(line.counter_value == 123456789 && line.period.shift == 29 &&
		 line.period.frac == 0x89705F4136B4A597ULL &&
		 line.time.sec == 1783000000 && line.time.frac == 1ULL << 63,
		 "page_line decodes the good page"))
		printf("# cv %llu shift %u frac 0x%llx sec %lld frac 0x%llx\n",
		       line.counter_value, line.period.shift,
		       line.period.frac, line.time.sec, line.time.frac);

	bad = 0;
	for (v = 0; v < VMC_PAGE_VERDICT_MAX; v++) {
		const char *s = vmc_page_verdict_str(v);
		int w;

		if (!s || !*s || !strcmp(s, "unknown")) {
			printf("# verdict %d has no text\n", v);
			bad++;
			continue;
		}
		for (w = 0; w < v; w++) {
			if (!strcmp(s, vmc_page_verdict_str(w))) {
				printf("# verdicts %d and %d share \"%s\"\n",
				       w, v, s);
				bad++;
			}
		}
		printf("#   %2d %s\n", v, s);
	}
	tap(!bad, "page_verdict_str: %d verdicts, each its own text",
	    VMC_PAGE_VERDICT_MAX);
	tap(!strcmp(vmc_page_verdict_str(VMC_PAGE_VERDICT_MAX), "unknown") &&
	    !strcmp(vmc_page_verdict_str((enum vmc_page_verdict)-1),
		    "unknown"),
	    "page_verdict_str: out of range -> \"unknown\"");

	return tap_failed ? 1 : 0;
}
