/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the BPF maps into snapshots, and printing a snapshot as text or JSON. */
#ifndef GILSTAT_REPORT_H
#define GILSTAT_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>
#include "gilstat.h"

struct key_stats {
	struct gil_key key;
	struct gil_stats s;
};

struct snapshot {
	int nr_cpus;
	struct gil_stats *cpu; /* nr_cpus entries */
	struct gil_stats total;
	struct key_stats *keys;
	size_t nr_keys;
};

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
	bool final;
};

/* What each histogram measures, as the text report titles it. */
extern const char *const hist_titles[NR_HISTS];

void stats_add(struct gil_stats *dst, const struct gil_stats *src);
void stats_sub(struct gil_stats *dst, const struct gil_stats *cur, const struct gil_stats *prev,
	       __u64 unit_ns);

/* Reads cpu_stats (a per-CPU array) and key_stats (a hash, fd < 0 for none). */
int snapshot_read(struct snapshot *s, int cpu_fd, int key_fd, int nr_cpus);
/* out = cur - prev, entry by entry; out must be zeroed. */
int snapshot_delta(struct snapshot *out, const struct snapshot *cur, const struct snapshot *prev,
		   __u64 unit_ns);
void snapshot_free(struct snapshot *s);

void report_print(FILE *f, const struct snapshot *s, const struct report_meta *m,
		  const struct report_opts *o);

#endif
