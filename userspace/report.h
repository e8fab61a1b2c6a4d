/* SPDX-License-Identifier: GPL-2.0 */
/* Printing a snapshot as text or JSON. */
#ifndef GILSTAT_REPORT_H
#define GILSTAT_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "gilstat.h"
#include "snapshot.h"

/*
 * The "version" of every JSON report, raised when a field changes meaning or goes away (not when
 * one is added). docs/gilstat.schema.json describes it.
 */
#define REPORT_JSON_VERSION 1

struct timeline_counts;

struct report_opts {
	__u64 unit_ns;
	const char *unit_name; /* "usecs" or "msecs" */
	__u32 group;	       /* GROUP_* */
	bool per_cpu_hists;
	bool json;
	bool timestamp;
	bool sched;
};

struct report_meta {
	int pid;
	const char *comm;
	const char *probe_path;
	const char *view; /* what the probes are: "libgil", or a CPython view */
	const char *note; /* what this view cannot see, or NULL */
	__u64 forks;	  /* processes the target forked since tracing began: not followed */
	__u64 duration_ns;
	/* acquisitions of a GIL while another was held: then held time over wall time is no GIL's */
	__u64 gil_overlaps;
	/* why utilisation and contention cannot be computed (a view that misses releases), or NULL */
	const char *no_utilisation;
	bool final;
	struct stacks *stacks; /* --stacks: its tables follow the report's; NULL without */
	/* --timeline, in the final report: what its file holds and what it could not; or NULL */
	const struct timeline_counts *timeline;
	const char *timeline_path;
};

void report_print(FILE *f, const struct snapshot *s, const struct report_meta *m,
		  const struct report_opts *o);

#endif
