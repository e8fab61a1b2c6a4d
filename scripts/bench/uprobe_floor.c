// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_floor: one USDT site hit in a tight loop, for the least a probe hit costs on this kernel.
 * Two sites, provider "floor": "nop1" with the 1-byte nop sys/sdt.h emits, on which every hit is an
 * int3 trap, and "nop5" with the 5-byte nopl libgil's probes use, which the kernel can turn into a
 * jump. usdtrun attaches an empty BPF program to one of them; the same loop with nothing attached
 * is the baseline to subtract.
 *
 * Usage: uprobe_floor nop1|nop5 ITERATIONS
 * Prints one JSON line: the mean nanoseconds per loop iteration, in this thread's CPU time (the
 * kernel handles a uprobe in the context of the thread that hit it, so all of its cost is there)
 * and in wall time. CPU time leaves out the time other tasks ran instead, which on a busy machine
 * is most of the difference between two wall-time runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/sdt.h>

#include "now_ns.h"

/* Not inlined, so that both loops are the same code around a different site. */
static __attribute__((noinline)) void hit_nop1(void)
{
	STAP_PROBE(floor, nop1);
}

/* sys/sdt.h expands _SDT_NOP where a probe is used: from here on, sites are 5-byte nops. */
#undef _SDT_NOP
#define _SDT_NOP .byte 0x0f; .byte 0x1f; .byte 0x44; .byte 0x00; .byte 0x00

static __attribute__((noinline)) void hit_nop5(void)
{
	STAP_PROBE(floor, nop5);
}

int main(int argc, char **argv)
{
	void (*hit)(void);
	unsigned long long start_cpu_ns, start_wall_ns, cpu_ns, wall_ns;
	long iterations;

	if (argc != 3 || (strcmp(argv[1], "nop1") && strcmp(argv[1], "nop5")) ||
	    (iterations = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: uprobe_floor nop1|nop5 ITERATIONS\n");
		return 2;
	}
	hit = strcmp(argv[1], "nop1") ? hit_nop5 : hit_nop1;
	start_wall_ns = now_ns();
	start_cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (long i = 0; i < iterations; i++)
		hit();
	cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - start_cpu_ns;
	wall_ns = now_ns() - start_wall_ns;
	printf("{\"site\": \"%s\", \"ns_per_hit\": %.2f, \"wall_ns_per_hit\": %.2f, "
	       "\"iterations\": %ld}\n",
	       argv[1], (double)cpu_ns / iterations, (double)wall_ns / iterations, iterations);
	return 0;
}
