// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <string.h>
#include "prometheus.h"

#define NS_PER_SEC 1000000000ull

enum prom_type {
	PROM_COUNTER,
	PROM_GAUGE,
	PROM_HISTOGRAM,
	PROM_INFO,
};

struct counter_def {
	const char *field;
	enum gil_counter_unit unit;
	bool keyed;
	const char *prom;
	const char *help;
};

#define COUNTER_DEF(field, unit, keyed, prom, help) { #field, unit, keyed, prom, help },
static const struct counter_def counter_defs[] = { GIL_COUNTERS(COUNTER_DEF) };

struct hist_def {
	bool keyed;
	const char *prom;
	const char *title;
};

#define HIST_DEF(id, keyed, json, prom, title) [id] = { keyed, prom, title },
static const struct hist_def hist_defs[NR_HISTS] = { GIL_HISTS(HIST_DEF) };

enum prom_format prom_negotiate(const char *accept)
{
	if (accept && strstr(accept, "application/openmetrics-text"))
		return PROM_OPENMETRICS;
	return PROM_TEXT;
}

const char *prom_content_type(enum prom_format fmt)
{
	if (fmt == PROM_OPENMETRICS)
		return "application/openmetrics-text; version=1.0.0; charset=utf-8";
	return "text/plain; version=0.0.4; charset=utf-8";
}

bool prom_label_append(char *labels, size_t size, const char *name, const char *value)
{
	size_t len = strlen(labels), start = len;
	int n = snprintf(labels + len, size - len, "%s%s=\"", len ? "," : "", name);

	if (n < 0 || (size_t)n >= size - len)
		goto full;
	len += n;
	for (const char *v = value; *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" :
				  *v == '"'  ? "\\\"" :
				  *v == '\n' ? "\\n" :
					       NULL;
		size_t need = esc ? 2 : 1;

		if (len + need + 2 > size)
			goto full;
		if (esc)
			memcpy(labels + len, esc, 2);
		else
			labels[len] = *v;
		len += need;
	}
	memcpy(labels + len, "\"", 2);
	return true;
full:
	labels[start] = '\0';
	return false;
}

/* The family's metadata; in OpenMetrics a counter's family name has no _total suffix. */
static void write_header(FILE *f, enum prom_format fmt, const char *family, enum prom_type type,
			 bool seconds, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram", "info" };

	if (fmt == PROM_OPENMETRICS) {
		fprintf(f, "# TYPE gilstat_%s %s\n", family, types[type]);
		if (seconds)
			fprintf(f, "# UNIT gilstat_%s seconds\n", family);
		fprintf(f, "# HELP gilstat_%s %s.\n", family, help);
		return;
	}
	/* The text format has no info type: the info metric is a gauge of value 1. */
	fprintf(f, "# HELP gilstat_%s%s %s.\n", family,
		type == PROM_COUNTER ? "_total" : type == PROM_INFO ? "_info" : "", help);
	fprintf(f, "# TYPE gilstat_%s%s %s\n", family,
		type == PROM_COUNTER ? "_total" : type == PROM_INFO ? "_info" : "",
		type == PROM_INFO ? "gauge" : types[type]);
}

/*
 * A scrape of a hundred processes is some 14,000 sample lines, most of them histogram buckets:
 * they are written with the stream locked once (prom_write) and without printf's parsing, which
 * took 24 ms of such a scrape.
 */
static void put(FILE *f, const char *s)
{
	fputs_unlocked(s, f);
}

/* v in decimal, at the end of buf (24 bytes): the digits' start. */
static char *format_u64(char *buf, __u64 v)
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = '0' + v % 10;
	while ((v /= 10));
	return p;
}

static void put_u64_line(FILE *f, __u64 v)
{
	char buf[24];

	put(f, format_u64(buf, v));
	fputc_unlocked('\n', f);
}

/* A sample's name and labels: gilstat_NAME{LABELS,EXTRA} (no braces when both are empty). */
static void write_name(FILE *f, const char *name, const char *labels, const char *extra)
{
	put(f, "gilstat_");
	put(f, name);
	if (labels[0] || extra[0]) {
		fputc_unlocked('{', f);
		put(f, labels);
		if (labels[0] && extra[0])
			fputc_unlocked(',', f);
		put(f, extra);
		fputc_unlocked('}', f);
	}
	fputc_unlocked(' ', f);
}

/* Nanoseconds as seconds, exactly. */
static void write_seconds(FILE *f, __u64 ns)
{
	char buf[24], *frac;

	put(f, format_u64(buf, ns / NS_PER_SEC));
	fputc_unlocked('.', f);
	/* the nine digits of the fraction, leading zeros kept */
	frac = format_u64(buf, NS_PER_SEC + ns % NS_PER_SEC);
	put(f, frac + 1);
	fputc_unlocked('\n', f);
}

static bool wanted(const struct prom_series *ps, bool keyed)
{
	return keyed ? ps->keyed : ps->process;
}

static void write_counters(FILE *f, const struct prom_scrape *s, enum prom_format fmt)
{
	const char *family = NULL;
	char name[96], extra[64];
	const __u64 *values;

	for (size_t c = 0; c < sizeof(counter_defs) / sizeof(counter_defs[0]); c++) {
		const struct counter_def *d = &counter_defs[c];
		bool seconds = d->unit == GIL_NS;
		/* The dropped events of every cause are one family, with the cause as a label. */
		bool by_reason = !strcmp(d->prom ? d->prom : "", "dropped_events");

		if (!d->prom)
			continue;
		if (!family || strcmp(family, d->prom))
			write_header(f, fmt, d->prom, PROM_COUNTER, seconds, d->help);
		family = d->prom;
		snprintf(name, sizeof(name), "%s_total", d->prom);
		extra[0] = '\0';
		if (by_reason)
			prom_label_append(extra, sizeof(extra), "reason", d->field);
		for (size_t i = 0; i < s->nr_series; i++) {
			if (!wanted(&s->series[i], d->keyed))
				continue;
			/* struct gil_counters is nothing but __u64 fields, in the list's order. */
			values = (const __u64 *)&s->series[i].s->c;
			write_name(f, name, s->series[i].labels, extra);
			if (seconds)
				write_seconds(f, values[c]);
			else
				put_u64_line(f, values[c]);
		}
	}
	write_header(f, fmt, "gil_held_seconds", PROM_COUNTER, true,
		     "Time the GIL was held (the sum of the holds)");
	for (size_t i = 0; i < s->nr_series; i++) {
		if (!wanted(&s->series[i], hist_defs[HIST_HOLD].keyed))
			continue;
		write_name(f, "gil_held_seconds_total", s->series[i].labels, "");
		write_seconds(f, s->series[i].s->hists[HIST_HOLD].total_ns);
	}
}

/*
 * Slot i of a log2 histogram holds durations below 2^(i+1) units, so its cumulative bucket is
 * le = 2^(i+1) units in seconds. The last slot also holds everything beyond: it is +Inf only.
 */
static void write_hist(FILE *f, const char *prom, const char *labels, const struct hist *h,
		       char le[][32])
{
	char name[96];
	__u64 cumulative = 0;

	snprintf(name, sizeof(name), "%s_bucket", prom);
	for (int i = 0; i < MAX_SLOTS - 1; i++) {
		cumulative += h->slots[i];
		write_name(f, name, labels, le[i]);
		put_u64_line(f, cumulative);
	}
	/* The count is the buckets' sum: the BPF side adds to a slot and the count separately. */
	cumulative += h->slots[MAX_SLOTS - 1];
	write_name(f, name, labels, "le=\"+Inf\"");
	put_u64_line(f, cumulative);
	snprintf(name, sizeof(name), "%s_sum", prom);
	write_name(f, name, labels, "");
	write_seconds(f, h->total_ns);
	snprintf(name, sizeof(name), "%s_count", prom);
	write_name(f, name, labels, "");
	put_u64_line(f, cumulative);
}

static void write_all(FILE *f, const struct prom_scrape *s, enum prom_format fmt)
{
	/* the buckets' bounds, formatted once a scrape */
	char labels[128] = "", le[MAX_SLOTS][32];

	for (int i = 0; i < MAX_SLOTS - 1; i++)
		snprintf(le[i], sizeof(le[i]), "le=\"%.12g\"",
			 (double)(2ull << i) * s->unit_ns / NS_PER_SEC);
	prom_label_append(labels, sizeof(labels), "version", s->version);
	write_header(f, fmt, "build", PROM_INFO, false, "gilstat's version, always 1");
	write_name(f, "build_info", labels, "");
	fprintf(f, "1\n");
	write_header(f, fmt, "targets", PROM_GAUGE, false, "Processes whose GIL is traced now");
	write_name(f, "targets", "", "");
	fprintf(f, "%u\n", s->nr_targets);
	write_header(f, fmt, "series_folded", PROM_COUNTER, false,
		     "Breakdown entries folded by the cap on series into the one of pid other");
	write_name(f, "series_folded_total", "", "");
	fprintf(f, "%llu\n", (unsigned long long)s->folded_series);
	/* Bytes in use, not RSS: what the allocator keeps cached or fragmented does not move it, so
	 * it comes back to the same value once the processes that came and went are forgotten. */
	write_header(f, fmt, "heap_inuse_bytes", PROM_GAUGE, false,
		     "Bytes of gilstat's own heap allocated and not yet freed");
	write_name(f, "heap_inuse_bytes", "", "");
	fprintf(f, "%zu\n", s->heap_inuse_bytes);

	write_counters(f, s, fmt);
	for (int h = 0; h < NR_HISTS; h++) {
		write_header(f, fmt, hist_defs[h].prom, PROM_HISTOGRAM, true, hist_defs[h].title);
		for (size_t i = 0; i < s->nr_series; i++)
			if (wanted(&s->series[i], hist_defs[h].keyed))
				write_hist(f, hist_defs[h].prom, s->series[i].labels,
					   &s->series[i].s->hists[h], le);
	}
	if (fmt == PROM_OPENMETRICS)
		fprintf(f, "# EOF\n");
}

void prom_write(FILE *f, const struct prom_scrape *s, enum prom_format fmt)
{
	flockfile(f);
	write_all(f, s, fmt);
	funlockfile(f);
}
