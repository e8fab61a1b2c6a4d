// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "hist.h"
#include "procfs.h"
#include "snapshot.h"

/* struct gil_counters is nothing but __u64 fields, so it can be walked as an array. */
#define NR_COUNTERS (sizeof(struct gil_counters) / sizeof(__u64))

void snapshot_stats_add(struct gil_stats *dst, const struct gil_stats *src)
{
	__u64 *d = (__u64 *)&dst->c;
	const __u64 *s = (const __u64 *)&src->c;

	for (size_t i = 0; i < NR_COUNTERS; i++)
		d[i] += s[i];
	for (int h = 0; h < NR_HISTS; h++)
		hist_merge(&dst->hists[h], &src->hists[h]);
}

void snapshot_stats_sub(struct gil_stats *dst, const struct gil_stats *cur, const struct gil_stats *prev,
	       __u64 unit_ns)
{
	__u64 *d = (__u64 *)&dst->c;
	const __u64 *c = (const __u64 *)&cur->c, *p = (const __u64 *)&prev->c;

	for (size_t i = 0; i < NR_COUNTERS; i++)
		d[i] = c[i] - p[i];
	for (int h = 0; h < NR_HISTS; h++)
		hist_sub(&dst->hists[h], &cur->hists[h], &prev->hists[h], unit_ns);
}

static int group_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct group_stats *)a)->key, &((const struct group_stats *)b)->key,
		      sizeof(struct gil_key));
}

int snapshot_read(struct snapshot *s, int cpu_fd, int key_fd, int nr_cpus)
{
	struct gil_key key, next;
	struct group_stats *grown;
	size_t cap = 0;
	__u32 zero = 0;
	void *prev_key = NULL;

	memset(s, 0, sizeof(*s));
	s->nr_cpus = nr_cpus;
	s->cpu = calloc(nr_cpus, sizeof(*s->cpu));
	if (!s->cpu)
		return -ENOMEM;
	/* A per-CPU lookup fills one value per possible CPU, each 8-byte aligned as ours are. */
	if (bpf_map_lookup_elem(cpu_fd, &zero, s->cpu))
		return -errno;
	for (int i = 0; i < nr_cpus; i++)
		snapshot_stats_add(&s->total, &s->cpu[i]);
	if (key_fd < 0)
		return 0;
	while (bpf_map_get_next_key(key_fd, prev_key, &next) == 0) {
		if (s->nr_keys == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(s->keys, cap * sizeof(*s->keys));
			if (!grown)
				return -ENOMEM;
			s->keys = grown;
		}
		/* An entry can vanish between the two calls only if the BPF side deleted it. */
		if (bpf_map_lookup_elem(key_fd, &next, &s->keys[s->nr_keys].s) == 0) {
			s->keys[s->nr_keys].key = next;
			s->nr_keys++;
		}
		key = next;
		prev_key = &key;
	}
	qsort(s->keys, s->nr_keys, sizeof(*s->keys), group_cmp);
	return 0;
}

int snapshot_delta(struct snapshot *out, const struct snapshot *cur, const struct snapshot *prev,
		   __u64 unit_ns)
{
	static const struct gil_stats none;

	out->nr_cpus = cur->nr_cpus;
	out->cpu = calloc(cur->nr_cpus, sizeof(*out->cpu));
	out->keys = calloc(cur->nr_keys ? cur->nr_keys : 1, sizeof(*out->keys));
	if (!out->cpu || !out->keys)
		return -ENOMEM;
	for (int i = 0; i < cur->nr_cpus; i++)
		snapshot_stats_sub(&out->cpu[i], &cur->cpu[i], &prev->cpu[i], unit_ns);
	snapshot_stats_sub(&out->total, &cur->total, &prev->total, unit_ns);
	for (size_t i = 0; i < cur->nr_keys; i++) {
		const struct group_stats *old = bsearch(&cur->keys[i], prev->keys, prev->nr_keys,
						      sizeof(*prev->keys), group_cmp);

		out->keys[i].key = cur->keys[i].key;
		snapshot_stats_sub(&out->keys[i].s, &cur->keys[i].s, old ? &old->s : &none, unit_ns);
	}
	out->nr_keys = cur->nr_keys;
	return 0;
}

void snapshot_free(struct snapshot *s)
{
	free(s->cpu);
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

void snapshot_task_comm(int comm_fd, __u32 tgid, __u32 tid, char *buf, size_t len)
{
	__u64 id = (__u64)tgid << 32 | tid;
	struct task_comm c = {};

	if (comm_fd >= 0 && !bpf_map_lookup_elem(comm_fd, &id, &c) && c.comm[0]) {
		snprintf(buf, len, "%.*s", (int)sizeof(c.comm), c.comm);
		return;
	}
	/* a thread that has released no GIL yet, or a process whose main thread never did */
	proc_read_comm(tgid, tid, buf, len);
}

void snapshot_name_groups(struct snapshot *s, int comm_fd, __u32 group)
{
	for (size_t i = 0; i < s->nr_keys; i++) {
		const struct gil_key *k = &s->keys[i].key;

		if (group & GROUP_THREAD)
			snapshot_task_comm(comm_fd, k->tgid, k->tid, s->keys[i].comm, TASK_COMM_LEN);
		else if (group & GROUP_PROCESS)
			snapshot_task_comm(comm_fd, k->tgid, k->tgid, s->keys[i].comm, TASK_COMM_LEN);
	}
}
