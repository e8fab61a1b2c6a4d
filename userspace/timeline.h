/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --timeline: who held the GIL and who waited for it, cycle by cycle, as a Chrome Trace Event
 * Format file (JSON), which Perfetto, chrome://tracing and speedscope open. Each thread is a track
 * with "holds GIL" and "waits for GIL" spans; a thread's consecutive holds that no other thread
 * came between are one span, whose arguments keep the exact sums.
 */
#ifndef GILSTAT_TIMELINE_H
#define GILSTAT_TIMELINE_H

#include <stdio.h>
#include <linux/types.h>

struct stacks;
struct timeline;

/* The ring buffer's size with --timeline: 150,000 cycles, a quarter of a second of the busiest traced GIL. */
#define TIMELINE_RING_BYTES (8u << 20)
/* How often the collector empties it. */
#define TIMELINE_DRAIN_NS 20000000ull

struct timeline_opts {
	FILE *f;	  /* the file, written at the end */
	__u64 limit;	  /* spans kept at most; those past it are counted, not written */
	int ring_fd;	  /* the timeline ring buffer */
	int comm_fd;	  /* the threads' names */
	struct stacks *stacks; /* --stacks: names the waiters' Python frames; or NULL */
};

/* NULL and errno on failure. */
struct timeline *timeline_new(const struct timeline_opts *o);
/* What the BPF side has sent since the last drain, merged into spans. */
void timeline_drain(struct timeline *t);
/* The last drain, then the file: its spans and, in its metadata, what was merged and dropped. */
int timeline_write(struct timeline *t, __u64 lost);
/* One line: spans written, cycles merged, dropped over the limit and lost. */
void timeline_print_summary(const struct timeline *t, FILE *f, const char *path);
void timeline_free(struct timeline *t);

#endif
