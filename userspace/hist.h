/* SPDX-License-Identifier: GPL-2.0 */
/* log2 histograms: merging, percentiles and the layout runqlat and funclatency users know. */
#ifndef GILSTAT_HIST_H
#define GILSTAT_HIST_H

#include <stdio.h>
#include <linux/types.h>
#include "gilstat.h"

/* The bounds of slot i in units: slot 0 holds 0 and 1, slot i >= 1 holds [2^i, 2^(i+1) - 1]. */
__u64 hist_slot_low(int slot);
__u64 hist_slot_high(int slot);

/* dst += src: the slots, count and total added, the larger maximum kept. */
void hist_merge(struct hist *dst, const struct hist *src);
/* dst = cur - prev; the maximum is cur's if it grew, else the top of the highest slot used. */
void hist_sub(struct hist *dst, const struct hist *cur, const struct hist *prev, __u64 unit_ns);

/*
 * The pct-th percentile (0 < pct <= 100) in nanoseconds, interpolated linearly inside the log2
 * slot that holds it and never above the recorded maximum; 0 for an empty histogram.
 */
__u64 hist_percentile_ns(const struct hist *h, double pct, __u64 unit_ns);

/* The distribution, in the layout of libbpf-tools' print_log2_hist(). */
void hist_print(FILE *f, const struct hist *h, const char *unit_name);
/* "count N, avg A, p50 B, p90 C, p99 D, max E" in the report's unit. */
void hist_print_summary(FILE *f, const struct hist *h, const char *unit_name, __u64 unit_ns);

#endif
