/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A latency heatmap as a self-contained SVG (--heatmap): one column per interval report, one row
 * per log2 bucket of one histogram, the colour of a cell the count of its bucket in its interval.
 */
#ifndef GILSTAT_HEATMAP_H
#define GILSTAT_HEATMAP_H

#include <stdio.h>
#include <linux/types.h>
#include "gilstat.h"

struct heatmap;

/* The names --heatmap-of takes, HIST_* by index. */
extern const char *const heatmap_hist_names[NR_HISTS];

/*
 * A heatmap of histogram hist (HIST_*), whose slots count in units of unit_ns, to be written to
 * f, which it then owns. NULL when out of memory.
 */
struct heatmap *heatmap_new(FILE *f, enum gilstat_hist hist, __u64 unit_ns);
/* One more column: the histogram of an interval of duration_ns. -ENOMEM on failure. */
int heatmap_add_column(struct heatmap *hm, const struct hist *h, __u64 duration_ns);
/* Writes the SVG, titled with the target, and closes the file: 0, or -errno of the write. */
int heatmap_write(struct heatmap *hm, int pid, const char *comm);
void heatmap_free(struct heatmap *hm);

#endif
