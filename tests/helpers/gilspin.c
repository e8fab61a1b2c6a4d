// SPDX-License-Identifier: GPL-2.0
/*
 * A libgil program for the integration tests: THREADS threads spin in a "bytecode" loop on one
 * GIL for MSEC milliseconds, then it prints the GIL's ground truth as one JSON line and exits
 * with EXIT_CODE. MSEC 0 spins until SIGTERM or SIGINT. The ground truth is kept only with
 * GIL_STATS=1, so that without it the probes alone decide whether clocks are read.
 * Usage: gilspin THREADS MSEC [EXIT_CODE]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gil.h"

static struct gil *gil;
/* Atomic: read by the spinning threads, written by a signal handler and main(). */
static atomic_int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void *spin(void *arg)
{
	struct gil_thread *t = gil_thread_new(gil);
	volatile unsigned long sink = 0;

	gil_acquire(t);
	while (!stop) {
		for (int i = 0; i < 1000; i++)
			sink += i;
		gil_poll(t);
	}
	gil_thread_free(t);
	return NULL;
}

int main(int argc, char **argv)
{
	struct gil_truth s;
	pthread_t threads[64];
	int nr_threads, msec;

	if (argc < 3 || (nr_threads = atoi(argv[1])) < 1 || nr_threads > 64 ||
	    (msec = atoi(argv[2])) < 0) {
		fprintf(stderr, "usage: gilspin THREADS(1-64) MSEC [EXIT_CODE]\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	gil = gil_new(NULL);
	for (int i = 0; i < nr_threads; i++)
		pthread_create(&threads[i], NULL, spin, NULL);
	if (msec)
		usleep(msec * 1000);
	else
		while (!stop)
			pause();
	stop = 1;
	for (int i = 0; i < nr_threads; i++)
		pthread_join(threads[i], NULL);
	gil_get_truth(gil, &s);
	printf("{\"acquisitions\":%llu,\"switches\":%llu,\"forced_switches\":%llu,"
	       "\"drop_requests\":%llu,\"releases\":%llu,\"voluntary_releases\":%llu,"
	       "\"wait_ns\":{\"total\":%llu},\"hold_ns\":{\"total\":%llu}}\n",
	       (unsigned long long)s.acquisitions, (unsigned long long)s.switches,
	       (unsigned long long)s.forced_switches, (unsigned long long)s.drop_requests,
	       (unsigned long long)s.releases, (unsigned long long)s.voluntary_releases,
	       (unsigned long long)s.wait_ns_total, (unsigned long long)s.hold_ns_total);
	return argc > 3 ? atoi(argv[3]) : 0;
}
