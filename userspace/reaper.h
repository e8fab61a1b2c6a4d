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

/* A probe's link: one libbpf made (bpf, else NULL), or the descriptor of one gilstat made (fd). */
struct bpf_link;
struct probe_link {
	struct bpf_link *bpf;
	int fd;
};

/*
 * Takes nr links down at once, each on a thread of its own, and returns when all are gone: the
 * grace periods the kernel waits for on each then overlap, where one after another they add up
 * (umulti.h). Empty ones (no bpf, fd < 0) are skipped; every one is left empty.
 */
void links_destroy(struct probe_link *links, size_t nr);

#endif
