// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <time.h>

#include "hist.h"
#include "json.h"
#include "report.h"
#include "safeio.h"
#include "stacks.h"
#include "timeline.h"

#define HIST_TITLE(id, keyed, json, prom, title) [id] = title,
static const char *const hist_titles[NR_HISTS] = { GIL_HISTS(HIST_TITLE) };

#define HIST_JSON_NAME(id, keyed, json, prom, title) [id] = json,
static const char *const hist_json_names[NR_HISTS] = { GIL_HISTS(HIST_JSON_NAME) };

/* The counters of events not counted in full, which the JSON report groups under "dropped". */
static bool is_dropped(const char *prom)
{
	return prom && !strcmp(prom, "dropped_events");
}

static double pct(__u64 part, __u64 whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static __u64 dropped(const struct gil_counters *c)
{
	__u64 sum = 0;

#define ADD_DROPPED(field, unit, keyed, prom, help) sum += is_dropped(prom) ? c->field : 0;
	GIL_COUNTERS(ADD_DROPPED)
	return sum;
}

static void print_timestamp(FILE *f)
{
	char buf[32];
	time_t t = time(NULL);

	strftime(buf, sizeof(buf), "%H:%M:%S", localtime(&t));
	fprintf(f, "%-8s\n", buf);
}

/*
 * Why held time over wall time is not a utilisation here, or NULL: summed over GILs held at the
 * same time it can pass 100%, and a view that misses releases would print a number made of half
 * the events. GILs held one after another (gilwork's phases) add up to one's.
 */
static const char *no_utilisation(const struct report_meta *m, bool one_gil)
{
	if (m->no_utilisation)
		return m->no_utilisation;
	if (!one_gil && m->gil_overlaps)
		return "per GIL only (several GILs were held at once: -G, and -a, give each its section)";
	return NULL;
}

static void print_counters(FILE *f, const struct gil_counters *c, __u64 hold_ns, __u64 duration_ns,
			   const char *why_not)
{
	fprintf(f,
		"acquisitions %llu, switches %llu (forced %llu), drop requests %llu, "
		"voluntary releases %llu\n",
		(unsigned long long)c->acquisitions, (unsigned long long)c->switches,
		(unsigned long long)c->forced_switches, (unsigned long long)c->drop_requests,
		(unsigned long long)c->voluntary_releases);
	if (why_not)
		fprintf(f, "GIL utilisation and contention: %s\n", why_not);
	else
		fprintf(f, "GIL utilisation %.1f%%, contention %.1f%%, ", pct(hold_ns, duration_ns),
			pct(c->contended_ns, duration_ns));
	fprintf(f, "migrations %llu, waiter context switches %llu, dropped %llu\n",
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

static void print_key_header(FILE *f, const struct group_stats *g, __u32 group)
{
	const struct gil_key *k = &g->key;
	char comm[4 * sizeof(g->comm)];

	/* the process named itself: escape codes in it must not reach the terminal */
	safeio_escape(g->comm, comm, sizeof(comm));
	fprintf(f, "\n====");
	if (group & GROUP_THREAD)
		fprintf(f, " TID %u %s (PID %u)", k->tid, comm, k->tgid);
	else if (group & GROUP_PROCESS)
		fprintf(f, " PID %u %s", k->tgid, comm);
	if (group & GROUP_GIL)
		fprintf(f, " GIL 0x%llx", (unsigned long long)k->gil);
	fprintf(f, " ====\n");
}

static void report_text(FILE *f, const struct snapshot *s, const struct report_meta *m,
			const struct report_opts *o)
{
	const struct gil_stats *t = &s->total;
	char comm[256];

	if (o->timestamp)
		print_timestamp(f);
	fprintf(f, "%s %.3f s, ", m->final ? "Traced" : "Interval", m->duration_ns / 1e9);
	safeio_escape(m->comm, comm, sizeof(comm));
	/* PID 0: every process (-a), which comm describes */
	if (m->pid)
		fprintf(f, "PID %d (%s)\n", m->pid, comm);
	else
		fprintf(f, "%s\n", comm);
	if (m->note)
		fprintf(f, "note: %s\n", m->note);
	if (m->forks)
		fprintf(f, "note: PID %d forked %llu process%s since tracing began; children are "
			   "not followed\n",
			m->pid, (unsigned long long)m->forks, m->forks == 1 ? "" : "es");
	print_counters(f, &t->c, t->hists[HIST_HOLD].total_ns, m->duration_ns,
		       no_utilisation(m, false));
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

		print_key_header(f, &s->keys[i], o->group);
		print_counters(f, &k->c, k->hists[HIST_HOLD].total_ns, m->duration_ns,
			       no_utilisation(m, o->group & (GROUP_GIL | GROUP_THREAD)));
		print_hists(f, k, o, HIST_HOLD + 1);
	}
	if (m->stacks)
		stacks_print_text(m->stacks, f, o->unit_name);
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
	/* The slots are of the report's unit; their bounds are in ns, like every other time. */
	json_array_begin(j, "buckets");
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		json_object_begin(j, NULL);
		json_u64(j, "low", hist_slot_low(i) * o->unit_ns);
		json_u64(j, "high", (hist_slot_high(i) + 1) * o->unit_ns - 1);
		json_u64(j, "count", h->slots[i]);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

/* --timeline's file, what it holds and what it could not (as in its otherData). */
static void json_timeline(struct json *j, const struct timeline_counts *c, const char *path)
{
	json_object_begin(j, "timeline");
	json_string(j, "file", path);
	timeline_counts_json(j, c);
	json_object_end(j);
}

static void json_stats(struct json *j, const struct gil_stats *s, const struct report_opts *o,
		       int nr_hists)
{
	const struct gil_counters *c = &s->c;

#define JSON_COUNTER(field, unit, keyed, prom, help)                                               \
	if (!is_dropped(prom))                                                                     \
		json_u64(j, #field, c->field);
#define JSON_DROPPED(field, unit, keyed, prom, help)                                               \
	if (is_dropped(prom))                                                                      \
		json_u64(j, #field, c->field);
	GIL_COUNTERS(JSON_COUNTER)
	json_object_begin(j, "dropped");
	GIL_COUNTERS(JSON_DROPPED)
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
	json_u64(&j, "version", REPORT_JSON_VERSION);
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
	if (no_utilisation(m, false)) {
		json_string(&j, "utilisation_unavailable", no_utilisation(m, false));
	} else {
		json_double(&j, "utilisation_pct",
			    pct(t->hists[HIST_HOLD].total_ns, m->duration_ns));
		json_double(&j, "contention_pct", pct(t->c.contended_ns, m->duration_ns));
	}
	json_u64(&j, "dropped_total", dropped(&t->c));
	if (m->timeline)
		json_timeline(&j, m->timeline, m->timeline_path);
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
			if (o->group & (GROUP_THREAD | GROUP_PROCESS))
				json_string(&j, "comm", s->keys[i].comm);
			if (o->group & GROUP_GIL) {
				snprintf(gil, sizeof(gil), "0x%llx", (unsigned long long)k->gil);
				json_string(&j, "gil", gil);
			}
			if (!no_utilisation(m, o->group & (GROUP_GIL | GROUP_THREAD)))
				json_double(&j, "utilisation_pct",
					    pct(s->keys[i].s.hists[HIST_HOLD].total_ns,
						m->duration_ns));
			json_stats(&j, &s->keys[i].s, o, HIST_HOLD + 1);
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	if (m->stacks)
		stacks_print_json(m->stacks, &j);
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
