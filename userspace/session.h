/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One gilstat run: the stop signals, the exporter's socket, the heatmap, and one loop for every
 * mode (one target or -a, reported or exported). The loop sleeps until the next thing due (an
 * interval's report, the textfile, the exporter's expiry, the stacks' refresh, the fleet's look),
 * the target's exit or a stop signal, and calls the reporters with what they read as arguments.
 */
#ifndef GILSTAT_SESSION_H
#define GILSTAT_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <linux/types.h>
#include "report.h"
#include "snapshot.h"

struct options;
struct tracer;
struct traced;
struct heatmap;
struct stacks;
struct exporter;
struct fleet;
struct ring_buffer;
struct timeline;

struct session {
	const struct options *o;
	int listen_fd;		/* --prometheus's socket until the exporter takes it, or -1 */
	struct heatmap *heatmap; /* --heatmap, or NULL */
	sigset_t wait_mask;	/* the stop signals unblocked, while the loop sleeps */
	/* the run */
	struct tracer *tr;
	struct snapshot prev; /* what the last report read */
	struct report_meta meta;
	struct stacks *stacks;	 /* --stacks, or NULL */
	struct exporter *ex;	 /* --prometheus, --textfile, -a; or NULL */
	struct fleet *fleet;	 /* -a, or NULL */
	struct ring_buffer *events; /* -a: the exec and fork events, for the fleet */
	struct timeline *timeline;  /* --timeline, or NULL */
	int pidfd;		 /* one target's, or -1 */
	pid_t pid;		 /* one target's, or 0 */
	bool target_gone;
	char comm[64];
	char fleet_what[96];
	__u64 start_ns, end_ns, last_ns, overlaps_before;
};

/*
 * Before anything is loaded: the stop signals caught, --prometheus's port taken, the heatmap
 * made. 0, or the exit status with one line.
 */
int session_open(struct session *s, const struct options *o);
/* Root, or CAP_SYS_ADMIN: 0, or -1 and one line. */
int session_check_privileges(void);
/* One target, loaded in tr: attached, started, traced and reported. 0, or an exit status. */
int session_run(struct session *s, struct tracer *tr, struct traced *t);
/* -a: every CPython and libgil process, loaded in tr. 0, or an exit status. */
int session_run_fleet(struct session *s, struct tracer *tr);
/* The child reaped, the files closed: the exit status, from code and the command's. */
int session_close(struct session *s, struct traced *t, int code);

#endif
