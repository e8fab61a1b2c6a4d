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

struct json;
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

/* What a timeline holds, and what it could not: the file's metadata, and the final report's. */
struct timeline_counts {
	__u64 cycles;	/* GIL cycles the BPF side sent */
	__u64 events;	/* spans and marks written */
	__u64 merged;	/* holds merged into their thread's previous one */
	__u64 dropped;	/* events past --timeline-limit: counted, not written */
	__u64 lost;	/* cycles the ring buffer had no room for */
	__u64 unseen;	/* holds whose acquisition was not seen */
};

/* NULL and errno on failure. */
struct timeline *timeline_new(const struct timeline_opts *o);
/* What the BPF side has sent since the last drain, merged into spans. */
void timeline_drain(struct timeline *t);
/*
 * The last drain: the open spans closed, and the counts final (lost: the BPF side's count). They
 * stay the timeline's.
 */
const struct timeline_counts *timeline_finish(struct timeline *t, __u64 lost);
/* The counts as JSON members: the file's otherData, the final report's "timeline". */
void timeline_counts_json(struct json *j, const struct timeline_counts *c);
/* The file, once finished: its spans and, in its metadata, the counts. */
int timeline_write(struct timeline *t);
/* One line: spans written, cycles merged, dropped over the limit and lost. */
void timeline_print_summary(const struct timeline *t, FILE *f, const char *path);
void timeline_free(struct timeline *t);

#endif
