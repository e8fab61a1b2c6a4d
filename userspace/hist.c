// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <string.h>
#include "hist.h"

#define STARS_WIDTH 40

__u64 hist_slot_low(int slot)
{
	return slot == 0 ? 0 : 1ull << slot;
}

__u64 hist_slot_high(int slot)
{
	return (1ull << (slot + 1)) - 1;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		dst->slots[i] += src->slots[i];
	dst->count += src->count;
	dst->total_ns += src->total_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
}

void hist_sub(struct hist *dst, const struct hist *cur, const struct hist *prev, __u64 unit_ns)
{
	int top = -1;

	for (int i = 0; i < MAX_SLOTS; i++) {
		dst->slots[i] = cur->slots[i] - prev->slots[i];
		if (dst->slots[i])
			top = i;
	}
	dst->count = cur->count - prev->count;
	dst->total_ns = cur->total_ns - prev->total_ns;
	if (cur->max_ns != prev->max_ns || top < 0)
		dst->max_ns = top < 0 ? 0 : cur->max_ns;
	else
		/* The maximum of this interval alone was not recorded: bound it by its slot. */
		dst->max_ns = (hist_slot_high(top) + 1) * unit_ns < cur->max_ns ?
				      (hist_slot_high(top) + 1) * unit_ns :
				      cur->max_ns;
}

__u64 hist_percentile_ns(const struct hist *h, double pct, __u64 unit_ns)
{
	__u64 total = 0, seen = 0, rank;
	double low_ns, high_ns, ns;

	for (int i = 0; i < MAX_SLOTS; i++)
		total += h->slots[i];
	if (!total)
		return 0;
	rank = (__u64)(pct / 100.0 * (double)total + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > total)
		rank = total;
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (seen + h->slots[i] < rank) {
			seen += h->slots[i];
			continue;
		}
		low_ns = (double)hist_slot_low(i) * unit_ns;
		high_ns = (double)(hist_slot_high(i) + 1) * unit_ns;
		ns = low_ns + (high_ns - low_ns) * (double)(rank - seen) / (double)h->slots[i];
		if (h->max_ns && ns > (double)h->max_ns)
			ns = h->max_ns;
		return (__u64)ns;
	}
	return h->max_ns;
}

static void print_bar(FILE *f, __u64 val, __u64 val_max, int width)
{
	int stars = (int)(val * width / val_max);

	fprintf(f, "%.*s%*s", stars, "****************************************", width - stars,
		"");
}

void hist_print(FILE *f, const struct hist *h, const char *unit_name)
{
	__u64 val_max = 0;
	int top = -1;
	bool wide;

	for (int i = 0; i < MAX_SLOTS; i++) {
		if (h->slots[i])
			top = i;
		if (h->slots[i] > val_max)
			val_max = h->slots[i];
	}
	if (top < 0)
		return;
	/* Columns widen only for values past 2^32 units, as libbpf-tools' layout does. */
	wide = top > 32;
	fprintf(f, "%*s%-*s : count    distribution\n", wide ? 15 : 5, "", wide ? 29 : 19,
		unit_name);
	for (int i = 0; i <= top; i++) {
		fprintf(f, "%*llu -> %-*llu : %-8llu |", wide ? 20 : 10,
			(unsigned long long)hist_slot_low(i), wide ? 20 : 10,
			(unsigned long long)hist_slot_high(i), (unsigned long long)h->slots[i]);
		print_bar(f, h->slots[i], val_max, wide ? STARS_WIDTH / 2 : STARS_WIDTH);
		fprintf(f, "|\n");
	}
}

void hist_print_summary(FILE *f, const struct hist *h, const char *unit_name, __u64 unit_ns)
{
	double unit = (double)unit_ns;

	fprintf(f, "     count %llu, avg %.1f, p50 %.1f, p90 %.1f, p99 %.1f, max %.1f %s\n",
		(unsigned long long)h->count, h->count ? h->total_ns / unit / h->count : 0.0,
		hist_percentile_ns(h, 50, unit_ns) / unit, hist_percentile_ns(h, 90, unit_ns) / unit,
		hist_percentile_ns(h, 99, unit_ns) / unit, h->max_ns / unit, unit_name);
}
