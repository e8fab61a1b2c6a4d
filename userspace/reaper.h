/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Threads that close BPF link descriptors. A uprobe_multi link waits for an RCU grace period when
 * it is closed: gilstat -a hands the links of ended processes to these threads, whose waits share
 * grace periods, while its loop goes on attaching (fleet.c, tracer.c).
 */
#ifndef GILSTAT_REAPER_H
#define GILSTAT_REAPER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define NR_REAPERS 16

struct reaper {
	pthread_mutex_t lock;
	pthread_cond_t more;
	int *queue;
	size_t nr, cap, busy;
	bool stop;
	pthread_t threads[NR_REAPERS];
	int nr_threads;
};

void reaper_init(struct reaper *r);
/* Hands link to the reapers; closed at once if there are none. */
void reaper_add(struct reaper *r, int link);
/* The links handed over and not yet closed. */
size_t reaper_pending(struct reaper *r);
/* Waits until every link handed over is closed; then r is freed. */
void reaper_stop(struct reaper *r);

#endif
