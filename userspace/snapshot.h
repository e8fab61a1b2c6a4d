/* SPDX-License-Identifier: GPL-2.0 */
/* The BPF maps read into snapshots, and the arithmetic on them: sums, and deltas between two. */
#ifndef GILSTAT_SNAPSHOT_H
#define GILSTAT_SNAPSHOT_H

#include <stddef.h>
#include <linux/types.h>
#include "gilstat.h"

struct group_stats {
	struct gil_key key;
	struct gil_stats s;
	/* the thread's name with -L, the process's with -P; set by snapshot_name_groups() */
	char comm[TASK_COMM_LEN];
};

struct snapshot {
	int nr_cpus;
	struct gil_stats *cpu; /* nr_cpus entries */
	struct gil_stats total;
	struct group_stats *keys;
	size_t nr_keys;
};

void snapshot_stats_add(struct gil_stats *dst, const struct gil_stats *src);
void snapshot_stats_sub(struct gil_stats *dst, const struct gil_stats *cur, const struct gil_stats *prev,
	       __u64 unit_ns);

/* Reads cpu_stats (a per-CPU array) and key_stats (a hash, fd < 0 for none). */
int snapshot_read(struct snapshot *s, int cpu_fd, int key_fd, int nr_cpus);
/* out = cur - prev, entry by entry; out must be zeroed. */
int snapshot_delta(struct snapshot *out, const struct snapshot *cur, const struct snapshot *prev,
		   __u64 unit_ns);
void snapshot_free(struct snapshot *s);
/*
 * The name of each group's thread (-L) or process (-P): from comms (the BPF map of the names
 * seen at releases, fd < 0 for none), else /proc, else "?".
 */
void snapshot_name_groups(struct snapshot *s, int comm_fd, __u32 group);
/* The name (comm) of thread tid of process tgid, as snapshot_name_groups() finds it. */
void snapshot_task_comm(int comm_fd, __u32 tgid, __u32 tid, char *buf, size_t len);

#endif
