// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-relay SECONDS SRC PHYS: for SECONDS, copy the vmclock page SRC (a
 * /dev/vmclock_host view, mapped read-only) to the page at guest-physical
 * PHYS (through /dev/mem), as a VMM carrying the view into a guest would.
 * SRC is polled every 500 us; each new consistent copy (its seq_count
 * even and unchanged across the copy) is written with the page's own
 * protocol: seq_count odd, the fields, seq_count even again (SRC's value,
 * which grows by 2 per update, so PHYS's grows too).
 *
 * Prints RELAY copies=N seconds=S at the end. Exit 0 when at least one
 * page was relayed, 1 when none was, 2 when a mapping failed.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../../include/vmclock_abi.h"

#define PAGE	4096
#define SEQ_OFF	offsetof(struct vmclock_abi, seq_count)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const struct timespec nap = { 0, 500000 };
	volatile uint32_t *sseq, *dseq;
	unsigned char buf[sizeof(struct vmclock_abi)];
	uint32_t seq, last = 1;	/* odd: never a source value */
	unsigned long copies = 0;
	int64_t end;
	char *src, *dst;
	int sfd, mfd;

	if (argc != 4) {
		fprintf(stderr, "usage: vmc-relay SECONDS SRC PHYS\n");
		return 2;
	}
	end = now_ns() + (int64_t)(atof(argv[1]) * 1e9);
	sfd = open(argv[2], O_RDONLY);
	/* write-back, as the probe maps the page: PAT refuses a mix */
	mfd = open("/dev/mem", O_RDWR);
	if (sfd < 0 || mfd < 0) {
		perror("vmc-relay: open");
		return 2;
	}
	src = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, sfd, 0);
	dst = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		   strtoull(argv[3], NULL, 0));
	if (src == MAP_FAILED || dst == MAP_FAILED) {
		perror("vmc-relay: mmap");
		return 2;
	}
	sseq = (volatile uint32_t *)(src + SEQ_OFF);
	dseq = (volatile uint32_t *)(dst + SEQ_OFF);
	while (now_ns() < end) {
		seq = *sseq;
		if (!(seq & 1) && seq != last) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			memcpy(buf, src, sizeof(buf));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (*sseq == seq) {
				*dseq = seq - 1;
				__atomic_thread_fence(__ATOMIC_RELEASE);
				memcpy(dst, buf, SEQ_OFF);
				memcpy(dst + SEQ_OFF + 4, buf + SEQ_OFF + 4,
				       sizeof(buf) - SEQ_OFF - 4);
				__atomic_thread_fence(__ATOMIC_RELEASE);
				*dseq = seq;
				last = seq;
				copies++;
				continue;
			}
		}
		nanosleep(&nap, NULL);
	}
	printf("RELAY copies=%lu seconds=%s\n", copies, argv[1]);
	return copies ? 0 : 1;
}
