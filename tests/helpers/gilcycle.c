// SPDX-License-Identifier: GPL-2.0
/*
 * A libgil load for the reliability tests: THREADS threads, all alive and released together, each
 * make CYCLES GIL cycles (acquire, a little bytecode, gil_poll(), release); then it prints the
 * GIL's ground truth as one JSON line (kept with GIL_STATS=1) and exits 0.
 *
 * Usage: gilcycle [-i INTERVAL_US] [-c | -f] THREADS CYCLES
 *   -i  the switch interval (default 5000 us)
 *   -c  crash: thread 0 dereferences NULL while it holds the GIL, half-way through its cycles
 *   -f  fork: then the main thread forks while it holds the GIL; the child makes CYCLES cycles
 *       on each of 2 threads on its re-initialised GIL and exits 0. The JSON is the parent's
 *       ground truth only; the exit status is 3 if the child did not exit 0.
 * Threads get 64 KiB stacks, so that ten thousand of them fit.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "gil.h"

#define STACK_SIZE	   (64 * 1024)
#define MAX_THREADS	   100000
#define FORK_CHILD_THREADS 2

static struct gil *gil;
static long cycles;
static bool crash;
static pthread_barrier_t start;

struct worker {
	pthread_t th;
	int index;
};

static void *run_cycles(void *arg)
{
	struct worker *w = arg;
	struct gil_thread *t = gil_thread_new(gil);
	volatile unsigned long sink = 0;

	if (!t) {
		perror("gilcycle: gil_thread_new");
		exit(1);
	}
	if (w)
		pthread_barrier_wait(&start);
	for (long i = 0; i < cycles; i++) {
		gil_acquire(t);
		for (int j = 0; j < 16; j++)
			sink += j;
		if (crash && w && w->index == 0 && i == cycles / 2) {
			int *volatile nowhere = NULL;

			*nowhere = 1;
		}
		gil_poll(t);
		gil_release(t);
	}
	gil_thread_free(t);
	return NULL;
}

static int start_threads(struct worker *w, int n)
{
	pthread_attr_t attr;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	for (int i = 0; i < n; i++) {
		w[i].index = i;
		err = pthread_create(&w[i].th, &attr, run_cycles, &w[i]);
		if (err) {
			fprintf(stderr, "gilcycle: thread %d: %s\n", i, strerror(err));
			return -1;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/* The child of -f: its GIL was re-initialised by libgil and is held by this, its only thread. */
static void __attribute__((noreturn)) fork_child(struct gil_thread *t)
{
	pthread_t th[FORK_CHILD_THREADS];

	gil_release(t);
	for (int i = 0; i < FORK_CHILD_THREADS; i++)
		if (pthread_create(&th[i], NULL, run_cycles, NULL))
			_exit(1);
	for (int i = 0; i < FORK_CHILD_THREADS; i++)
		pthread_join(th[i], NULL);
	gil_acquire(t);
	gil_thread_free(t);
	_exit(0);
}

static int fork_and_wait(void)
{
	struct gil_thread *t = gil_thread_new(gil);
	int status;
	pid_t pid;

	gil_acquire(t);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("gilcycle: fork");
		return -1;
	}
	if (pid == 0)
		fork_child(t);
	gil_release(t);
	gil_thread_free(t);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "gilcycle: the forked child failed (status %#x)\n", status);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct gil_opts opts = {0};
	struct gil_truth s;
	struct worker *w;
	bool do_fork = false;
	int c, nr_threads, err = 0;

	while ((c = getopt(argc, argv, "i:cf")) != -1) {
		switch (c) {
		case 'i':
			opts.interval_us = atol(optarg);
			break;
		case 'c':
			crash = true;
			break;
		case 'f':
			do_fork = true;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2 || (nr_threads = atoi(argv[optind])) < 1 ||
	    nr_threads > MAX_THREADS || (cycles = atol(argv[optind + 1])) < 1 ||
	    opts.interval_us < 0) {
		fprintf(stderr, "usage: gilcycle [-i INTERVAL_US] [-c | -f] THREADS CYCLES\n");
		return 2;
	}
	gil = gil_new(&opts);
	w = calloc(nr_threads, sizeof(*w));
	if (!gil || !w || pthread_barrier_init(&start, NULL, nr_threads + 1)) {
		fprintf(stderr, "gilcycle: out of memory\n");
		return 1;
	}
	if (start_threads(w, nr_threads))
		return 1;
	pthread_barrier_wait(&start);
	for (int i = 0; i < nr_threads; i++)
		pthread_join(w[i].th, NULL);
	if (do_fork && fork_and_wait())
		err = 3;
	gil_get_truth(gil, &s);
	printf("{\"threads\":%d,\"cycles\":%ld,\"acquisitions\":%llu,\"switches\":%llu,"
	       "\"forced_switches\":%llu,\"drop_requests\":%llu,\"releases\":%llu,"
	       "\"voluntary_releases\":%llu,\"wait_ns\":{\"total\":%llu},"
	       "\"hold_ns\":{\"total\":%llu}}\n",
	       nr_threads, cycles, (unsigned long long)s.acquisitions,
	       (unsigned long long)s.switches, (unsigned long long)s.forced_switches,
	       (unsigned long long)s.drop_requests, (unsigned long long)s.releases,
	       (unsigned long long)s.voluntary_releases, (unsigned long long)s.wait_ns_total,
	       (unsigned long long)s.hold_ns_total);
	return err;
}
