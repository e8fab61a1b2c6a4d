/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilstat's command line: struct options, filled by argp (options_parse()), checked and completed
 * once (options_check()), then read-only: every other module takes a const pointer to it. What
 * changes while gilstat runs lives in the objects that own it (tracer.h, session.h), not here.
 */
#ifndef GILSTAT_OPTIONS_H
#define GILSTAT_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "exporter.h"
#include "report.h"

#define GILSTAT_VERSION "0.1"

struct options {
	pid_t pid;	/* -p; 0 with a command or -a */
	char **command; /* after --, or NULL */
	bool all;	/* -a: every CPython and libgil process */
	__u64 interval_ns;
	long count;
	double duration_sec;
	bool verbose;
	/* --python */
	bool python;
	const char *python_path;
	bool python_symbols; /* --python-probes=symbols */
	bool no_debuginfod;
	long max_keys;
	/* the exporter */
	const char *prometheus; /* [ADDR:]PORT */
	const char *textfile_dir;
	long grace_sec;
	long max_series;
	enum exporter_by by; /* --by, with -a */
	/* the reports: -o's file (stdout without it), their options */
	bool out_given;
	FILE *out;
	struct report_opts report;
	/* --heatmap */
	FILE *heatmap_file;
	enum gilstat_hist heatmap_of;
	/* --stacks, --folded, --flamegraph */
	bool stacks;
	double min_wait_ms;
	long stack_depth;
	FILE *folded, *flamegraph;
	const char *flamegraph_path;
	/* --timeline, --timeline-limit */
	FILE *timeline;
	const char *timeline_path;
	long timeline_limit;
};

/*
 * argv into o. 0, or the exit status of a usage error, said in one line. What follows "--" is the
 * command, untouched; files named by -o, --heatmap, --folded, --flamegraph and --timeline are
 * opened here, so
 * that one that cannot be written is a usage error told before anything is loaded.
 */
int options_parse(struct options *o, int argc, char **argv);
/* The combinations refused, with one line; what the others imply is filled in. 0 or 2. */
int options_check(struct options *o);
/* -a or a service (--prometheus, --textfile): what the session's loop serves. */
bool options_exports(const struct options *o);

#endif
