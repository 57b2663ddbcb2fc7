// SPDX-License-Identifier: GPL-2.0
/*
 * vmc-poke PHYS: try to write the vmclock page at guest-physical PHYS from
 * inside the guest, through /dev/mem, and show that the write did not take
 * (a VMM must map the page read-only). Before any driver claims the page:
 * with CONFIG_IO_STRICT_DEVMEM a claimed region cannot be mapped.
 *
 * Reads the magic and the last 8 bytes of the page (past struct
 * vmclock_abi, zero on a page the host wrote), writes their complement to
 * both, reads them again and prints
 *	POKE magic=0x.. tail=0x.. after: magic=0x.. tail=0x..
 * Exit 0 only if the page had the vmclock magic and both writes were
 * discarded; 1 if a write took, 2 if the page could not be mapped.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define VMCLOCK_MAGIC	0x4b4c4356	/* "VCLK" */
#define PAGE		4096

int main(int argc, char **argv)
{
	volatile uint32_t *magic;
	volatile uint64_t *tail;
	uint32_t m0, m1;
	uint64_t t0, t1;
	off_t phys;
	void *map;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: vmc-poke PHYS\n");
		return 2;
	}
	phys = strtoull(argv[1], NULL, 0);
	fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0) {
		perror("vmc-poke: /dev/mem");
		return 2;
	}
	map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, phys);
	if (map == MAP_FAILED) {
		perror("vmc-poke: mmap");
		return 2;
	}
	magic = map;
	tail = (volatile uint64_t *)((char *)map + PAGE - 8);
	m0 = *magic;
	t0 = *tail;
	*magic = ~m0;
	*tail = ~t0;
	m1 = *magic;
	t1 = *tail;
	printf("POKE magic=0x%08x tail=0x%016llx after: magic=0x%08x tail=0x%016llx\n",
	       m0, (unsigned long long)t0, m1, (unsigned long long)t1);
	if (m0 != VMCLOCK_MAGIC) {
		fprintf(stderr, "vmc-poke: no vmclock page at %#llx\n",
			(unsigned long long)phys);
		return 2;
	}
	return m1 == m0 && t1 == t0 ? 0 : 1;
}
