// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "hist.h"
#include "json.h"
#include "report.h"

/* struct gil_counters is nothing but __u64 fields, so it can be walked as an array. */
#define NR_COUNTERS (sizeof(struct gil_counters) / sizeof(__u64))

const char *const hist_titles[NR_HISTS] = {
	[HIST_WAIT] = "GIL wait (asking -> holding)",
	[HIST_HOLD] = "GIL hold (holding -> releasing)",
	[HIST_HANDOFF] = "Handoff (release -> a waiting thread holds it)",
	[HIST_SCHED_DELAY] = "Scheduler delay of waiters (woken -> on CPU)",
};

static const char *const hist_json_names[NR_HISTS] = {
	[HIST_WAIT] = "wait_ns",
	[HIST_HOLD] = "hold_ns",
	[HIST_HANDOFF] = "handoff_ns",
	[HIST_SCHED_DELAY] = "sched_delay_ns",
};

void stats_add(struct gil_stats *dst, const struct gil_stats *src)
{
	__u64 *d = (__u64 *)&dst->c;
	const __u64 *s = (const __u64 *)&src->c;

	for (size_t i = 0; i < NR_COUNTERS; i++)
		d[i] += s[i];
	for (int h = 0; h < NR_HISTS; h++)
		hist_add(&dst->hists[h], &src->hists[h]);
}

void stats_sub(struct gil_stats *dst, const struct gil_stats *cur, const struct gil_stats *prev,
	       __u64 unit_ns)
{
	__u64 *d = (__u64 *)&dst->c;
	const __u64 *c = (const __u64 *)&cur->c, *p = (const __u64 *)&prev->c;

	for (size_t i = 0; i < NR_COUNTERS; i++)
		d[i] = c[i] - p[i];
	for (int h = 0; h < NR_HISTS; h++)
		hist_sub(&dst->hists[h], &cur->hists[h], &prev->hists[h], unit_ns);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct key_stats *)a)->key, &((const struct key_stats *)b)->key,
		      sizeof(struct gil_key));
}

int snapshot_read(struct snapshot *s, int cpu_fd, int key_fd, int nr_cpus)
{
	struct gil_key key, next;
	struct key_stats *grown;
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
		stats_add(&s->total, &s->cpu[i]);
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
	qsort(s->keys, s->nr_keys, sizeof(*s->keys), key_cmp);
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
		stats_sub(&out->cpu[i], &cur->cpu[i], &prev->cpu[i], unit_ns);
	stats_sub(&out->total, &cur->total, &prev->total, unit_ns);
	for (size_t i = 0; i < cur->nr_keys; i++) {
		const struct key_stats *old = bsearch(&cur->keys[i], prev->keys, prev->nr_keys,
						      sizeof(*prev->keys), key_cmp);

		out->keys[i].key = cur->keys[i].key;
		stats_sub(&out->keys[i].s, &cur->keys[i].s, old ? &old->s : &none, unit_ns);
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

static double pct(__u64 part, __u64 whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static __u64 dropped(const struct gil_counters *c)
{
	return c->missing_start + c->map_full;
}

static void print_timestamp(FILE *f)
{
	char buf[32];
	time_t t = time(NULL);

	strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&t));
	fprintf(f, "%-8s\n", buf);
}

static void print_counters(FILE *f, const struct gil_counters *c, __u64 hold_ns, __u64 duration_ns)
{
	fprintf(f,
		"acquisitions %llu, switches %llu (forced %llu), drop requests %llu, "
		"voluntary releases %llu\n",
		(unsigned long long)c->acquisitions, (unsigned long long)c->switches,
		(unsigned long long)c->forced_switches, (unsigned long long)c->drop_requests,
		(unsigned long long)c->voluntary_releases);
	fprintf(f,
		"GIL utilisation %.1f%%, contention %.1f%%, migrations %llu, "
		"waiter context switches %llu, dropped %llu\n",
		pct(hold_ns, duration_ns), pct(c->contended_ns, duration_ns),
		(unsigned long long)c->migrations_in, (unsigned long long)c->waiter_switches,
		(unsigned long long)dropped(c));
}

static void print_hists(FILE *f, const struct gil_stats *s, const struct report_opts *o,
			int nr_hists)
{
	for (int h = 0; h < nr_hists; h++) {
		if (h == HIST_SCHED_DELAY && !o->sched)
			continue;
		fprintf(f, "\n%s:\n", hist_titles[h]);
		if (!s->hists[h].count) {
			fprintf(f, "     (none)\n");
			continue;
		}
		hist_print(f, &s->hists[h], o->unit_name);
		hist_print_summary(f, &s->hists[h], o->unit_name, o->unit_ns);
	}
}

static void print_per_cpu_table(FILE *f, const struct snapshot *s)
{
	fprintf(f, "\n%-4s %12s %10s %10s %8s %8s %14s %14s\n", "CPU", "ACQUISITIONS", "SWITCHES",
		"FORCED", "MIGR-IN", "MIGR-OUT", "WAIT-TOTAL-ms", "HOLD-TOTAL-ms");
	for (int i = 0; i < s->nr_cpus; i++) {
		const struct gil_stats *c = &s->cpu[i];

		if (!c->c.acquisitions && !c->c.releases && !c->c.migrations_out)
			continue;
		fprintf(f, "%-4d %12llu %10llu %10llu %8llu %8llu %14.3f %14.3f\n", i,
			(unsigned long long)c->c.acquisitions, (unsigned long long)c->c.switches,
			(unsigned long long)c->c.forced_switches,
			(unsigned long long)c->c.migrations_in,
			(unsigned long long)c->c.migrations_out,
			c->hists[HIST_WAIT].total_ns / 1e6, c->hists[HIST_HOLD].total_ns / 1e6);
	}
}

static void print_key_header(FILE *f, const struct gil_key *k, __u32 group)
{
	fprintf(f, "\n====");
	if (group & GROUP_THREAD)
		fprintf(f, " TID %u (PID %u)", k->tid, k->tgid);
	else if (group & GROUP_PROCESS)
		fprintf(f, " PID %u", k->tgid);
	if (group & GROUP_GIL)
		fprintf(f, " GIL 0x%llx", (unsigned long long)k->gil);
	fprintf(f, " ====\n");
}

static void report_text(FILE *f, const struct snapshot *s, const struct report_meta *m,
			const struct report_opts *o)
{
	const struct gil_stats *t = &s->total;

	if (o->timestamp)
		print_timestamp(f);
	fprintf(f, "%s %.3f s, PID %d (%s)\n", m->final ? "Traced" : "Interval", m->duration_ns / 1e9,
		m->pid, m->comm);
	if (m->note)
		fprintf(f, "note: %s\n", m->note);
	if (m->forks)
		fprintf(f, "note: PID %d forked %llu process%s since tracing began; children are "
			   "not followed\n",
			m->pid, (unsigned long long)m->forks, m->forks == 1 ? "" : "es");
	print_counters(f, &t->c, t->hists[HIST_HOLD].total_ns, m->duration_ns);
	if (t->c.missing_start)
		fprintf(f, "warning: %llu events had no start time (a wait or hold that began "
			   "before the probes saw it): their durations are not in the histograms\n",
			(unsigned long long)t->c.missing_start);
	if (t->c.map_full)
		fprintf(f, "warning: %llu events were not counted in full: a BPF map was full "
			   "(with -L, -P or -G: raise --max-keys)\n",
			(unsigned long long)t->c.map_full);
	print_hists(f, t, o, NR_HISTS);
	print_per_cpu_table(f, s);

	if (o->per_cpu_hists) {
		for (int i = 0; i < s->nr_cpus; i++) {
			if (!s->cpu[i].c.acquisitions && !s->cpu[i].c.releases)
				continue;
			fprintf(f, "\n==== CPU %d ====\n", i);
			print_hists(f, &s->cpu[i], o, HIST_HOLD + 1);
		}
	}
	for (size_t i = 0; i < s->nr_keys; i++) {
		const struct gil_stats *k = &s->keys[i].s;

		print_key_header(f, &s->keys[i].key, o->group);
		print_counters(f, &k->c, k->hists[HIST_HOLD].total_ns, m->duration_ns);
		print_hists(f, k, o, HIST_HOLD + 1);
	}
	fprintf(f, "\n");
}

static void json_hist(struct json *j, const char *key, const struct hist *h,
		      const struct report_opts *o)
{
	json_object_begin(j, key);
	json_u64(j, "count", h->count);
	json_u64(j, "total", h->total_ns);
	json_double(j, "avg", h->count ? (double)h->total_ns / h->count : 0);
	json_u64(j, "max", h->max_ns);
	json_u64(j, "p50", hist_percentile_ns(h, 50, o->unit_ns));
	json_u64(j, "p90", hist_percentile_ns(h, 90, o->unit_ns));
	json_u64(j, "p99", hist_percentile_ns(h, 99, o->unit_ns));
	json_string(j, "unit", o->unit_name);
	json_array_begin(j, "buckets");
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		json_object_begin(j, NULL);
		json_u64(j, "low", hist_slot_low(i));
		json_u64(j, "high", hist_slot_high(i));
		json_u64(j, "count", h->slots[i]);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

static void json_stats(struct json *j, const struct gil_stats *s, const struct report_opts *o,
		       int nr_hists)
{
	const struct gil_counters *c = &s->c;

	json_u64(j, "acquisitions", c->acquisitions);
	json_u64(j, "switches", c->switches);
	json_u64(j, "forced_switches", c->forced_switches);
	json_u64(j, "drop_requests", c->drop_requests);
	json_u64(j, "releases", c->releases);
	json_u64(j, "voluntary_releases", c->voluntary_releases);
	json_u64(j, "migrations_in", c->migrations_in);
	json_u64(j, "migrations_out", c->migrations_out);
	json_u64(j, "waiter_switches", c->waiter_switches);
	json_u64(j, "contended_ns", c->contended_ns);
	json_object_begin(j, "dropped");
	json_u64(j, "missing_start", c->missing_start);
	json_u64(j, "map_full", c->map_full);
	json_object_end(j);
	for (int h = 0; h < nr_hists; h++)
		json_hist(j, hist_json_names[h], &s->hists[h], o);
}

static void report_json(FILE *f, const struct snapshot *s, const struct report_meta *m,
			const struct report_opts *o)
{
	const struct gil_stats *t = &s->total;
	struct json j;

	json_init(&j, f);
	json_object_begin(&j, NULL);
	json_u64(&j, "pid", m->pid);
	json_string(&j, "comm", m->comm);
	json_string(&j, "probes", m->probe_path);
	json_string(&j, "view", m->view ? m->view : "libgil");
	if (m->note)
		json_string(&j, "note", m->note);
	json_bool(&j, "final", m->final);
	json_u64(&j, "forks", m->forks);
	json_bool(&j, "children_followed", false);
	json_u64(&j, "timestamp", (unsigned long long)time(NULL));
	json_u64(&j, "duration_ns", m->duration_ns);
	json_double(&j, "utilisation_pct", pct(t->hists[HIST_HOLD].total_ns, m->duration_ns));
	json_double(&j, "contention_pct", pct(t->c.contended_ns, m->duration_ns));
	json_u64(&j, "dropped_total", dropped(&t->c));
	json_stats(&j, t, o, NR_HISTS);
	json_array_begin(&j, "per_cpu");
	for (int i = 0; i < s->nr_cpus; i++) {
		json_object_begin(&j, NULL);
		json_u64(&j, "cpu", i);
		json_stats(&j, &s->cpu[i], o, NR_HISTS);
		json_object_end(&j);
	}
	json_array_end(&j);
	if (o->group) {
		json_array_begin(&j, "groups");
		for (size_t i = 0; i < s->nr_keys; i++) {
			const struct gil_key *k = &s->keys[i].key;
			char gil[32];

			json_object_begin(&j, NULL);
			if (o->group & (GROUP_THREAD | GROUP_PROCESS))
				json_u64(&j, "pid", k->tgid);
			if (o->group & GROUP_THREAD)
				json_u64(&j, "tid", k->tid);
			if (o->group & GROUP_GIL) {
				snprintf(gil, sizeof(gil), "0x%llx", (unsigned long long)k->gil);
				json_string(&j, "gil", gil);
			}
			json_stats(&j, &s->keys[i].s, o, HIST_HOLD + 1);
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	json_object_end(&j);
}

void report_print(FILE *f, const struct snapshot *s, const struct report_meta *m,
		  const struct report_opts *o)
{
	if (o->json)
		report_json(f, s, m, o);
	else
		report_text(f, s, m, o);
	fflush(f);
}
