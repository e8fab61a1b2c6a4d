// SPDX-License-Identifier: GPL-2.0
/*
 * cyclebench: what one uncontended gil_acquire() + gil_release() cycle costs, the price a program
 * on libgil pays around every blocking call. The Makefile builds it twice: cyclebench against
 * libgil.a (probes compiled in, no tracer attached) and cyclebench-noprobes against
 * libgil-noprobes.a (probes compiled out). scripts/bench-cycle.sh runs the two alternately.
 *
 * Usage: cyclebench [ITERATIONS [REPETITIONS]]
 * Prints one JSON line; cycle_ns is the median over the repetitions of each one's mean, and
 * cpu_cycle_ns the same in the thread's CPU time, steadier than wall time on a busy machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gil.h"
#include "now_ns.h"

/*
 * One repetition's mean cycle in wall time, and in this thread's CPU time, which leaves out the
 * time other tasks ran on its CPU; a tracer's uprobe work runs in this thread, so it is counted.
 */
static double run(struct gil_thread *t, long iterations, double *cpu_ns)
{
	uint64_t start = now_ns(), cpu_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);

	for (long i = 0; i < iterations; i++) {
		gil_acquire(t);
		gil_release(t);
	}
	*cpu_ns = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) / (double)iterations;
	return (double)(now_ns() - start) / (double)iterations;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 2000000;
	int repetitions = argc > 2 ? atoi(argv[2]) : 11;
	struct gil *gil;
	struct gil_thread *t;
	double *ns, *cpu_ns, warm_up_cpu_ns;

	if (iterations <= 0 || repetitions <= 0) {
		fprintf(stderr, "usage: %s [ITERATIONS [REPETITIONS]]\n", argv[0]);
		return 2;
	}
	ns = calloc(repetitions, sizeof(*ns));
	cpu_ns = calloc(repetitions, sizeof(*cpu_ns));
	gil = gil_new(NULL);
	if (!ns || !cpu_ns || !gil) {
		perror("cyclebench");
		return 1;
	}
	/* What is measured is the untraced path: GIL_STATS=1 in the environment must not count. */
	gil_enable_truth(gil, false);
	t = gil_thread_new(gil);

	run(t, iterations / 10 + 1, &warm_up_cpu_ns);
	for (int r = 0; r < repetitions; r++)
		ns[r] = run(t, iterations, &cpu_ns[r]);
	qsort(ns, repetitions, sizeof(*ns), cmp_double);
	qsort(cpu_ns, repetitions, sizeof(*cpu_ns), cmp_double);
	printf("{\"cycle_ns\": %.2f, \"cycle_ns_min\": %.2f, \"cycle_ns_max\": %.2f, "
	       "\"cpu_cycle_ns\": %.2f, \"iterations\": %ld, \"repetitions\": %d}\n",
	       ns[repetitions / 2], ns[0], ns[repetitions - 1], cpu_ns[repetitions / 2], iterations,
	       repetitions);

	gil_thread_free(t);
	gil_free(gil);
	free(ns);
	free(cpu_ns);
	return 0;
}
