/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilstat's figures in the Prometheus text format 0.0.4 and in OpenMetrics 1.0: names and units by
 * Prometheus conventions (seconds, _total counters), log2 histograms as cumulative buckets.
 */
#ifndef GILSTAT_PROMETHEUS_H
#define GILSTAT_PROMETHEUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <linux/types.h>
#include "gilstat.h"

enum prom_format {
	PROM_TEXT,	  /* text/plain; version=0.0.4 */
	PROM_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

#define PROM_LABELS_MAX 512

/* One set of labels and the figures exported under them. */
struct prom_series {
	char labels[PROM_LABELS_MAX]; /* name="value",... escaped, or "" */
	const struct gil_stats *s;
	bool keyed;   /* carries the figures split by key (the keyed ones in GIL_COUNTERS) */
	bool process; /* carries the figures counted per process only */
};

struct prom_scrape {
	const struct prom_series *series;
	size_t nr_series;
	__u64 unit_ns;		/* the histograms' unit: their slots' bounds are multiples of it */
	unsigned int nr_targets; /* processes traced now */
	__u64 folded_series;	/* breakdown entries ever folded into the "other" series */
	size_t heap_inuse_bytes; /* gilstat's own heap, allocated and not freed */
	const char *version;
};

/* The format an Accept header asks for: OpenMetrics only when it names it. */
enum prom_format prom_negotiate(const char *accept);
const char *prom_content_type(enum prom_format fmt);

/* Appends name="value" (value escaped) to labels; false, labels unchanged, when it cannot fit. */
bool prom_label_append(char *labels, size_t size, const char *name, const char *value);

void prom_write(FILE *f, const struct prom_scrape *s, enum prom_format fmt);

#endif
