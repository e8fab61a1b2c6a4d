// SPDX-License-Identifier: GPL-2.0
/*
 * The latency heatmap of --heatmap, in the form Brendan Gregg's latency heatmaps made familiar:
 * time along x (one column per interval report, as wide as the interval was long), latency along
 * y (one row per log2 bucket), and the count of each cell as its colour. The file is written once,
 * at the end, and needs nothing but itself to be shown: no script, no external style or font.
 *
 * Every cell carries its numbers in data-* attributes (bucket bounds in ns, as the JSON has them)
 * and a <title> (the browser's tooltip), so that what the picture shows can be read back and
 * checked against the JSON reports.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "svg.h"
#include "hist.h"

const char *const heatmap_hist_names[NR_HISTS] = {
	[HIST_WAIT] = "wait",
	[HIST_HOLD] = "hold",
	[HIST_HANDOFF] = "handoff",
	[HIST_SCHED_DELAY] = "sched-delay",
};

#define HIST_TITLE(id, keyed, json, prom, title) [id] = title,
static const char *const hist_titles[NR_HISTS] = { GIL_HISTS(HIST_TITLE) };

/* The y axis's title. */
static const char *const axis_names[NR_HISTS] = {
	[HIST_WAIT] = "GIL wait",
	[HIST_HOLD] = "GIL hold",
	[HIST_HANDOFF] = "handoff",
	[HIST_SCHED_DELAY] = "scheduler delay",
};

/* Layout, in SVG pixels. The plot's height follows the number of rows, within limits. */
#define WIDTH_PX	 960
#define MARGIN_LEFT_PX	 96
#define MARGIN_RIGHT_PX	 150
#define MARGIN_TOP_PX	 64
#define MARGIN_BOTTOM_PX 56
#define PLOT_WIDTH_PX	 (WIDTH_PX - MARGIN_LEFT_PX - MARGIN_RIGHT_PX)
#define PLOT_HEIGHT_PX	 360
#define ROW_MIN_PX	 14
#define ROW_MAX_PX	 40
#define LEGEND_BAR_PX	 16
/* The legend's bar: below its two lines of title, at most this tall. */
#define LEGEND_TOP_PX	 28
#define LEGEND_MAX_PX	 240
/* Fewer rows than this look like a bar, not a map: the range is widened upwards. */
#define MIN_ROWS	 6
#define X_TICKS		 8

/*
 * A sequential scale, light for few and dark for many (ColorBrewer's YlOrRd), in equal steps of
 * the colour parameter t in [0, 1]. The legend's gradient uses the same stops, so the two agree.
 */
static const unsigned int palette_rgb[] = { 0xffeda0, 0xfeb24c, 0xfd8d3c, 0xe31a1c, 0x800026 };
#define NR_PALETTE (sizeof(palette_rgb) / sizeof(palette_rgb[0]))

struct heatmap_column {
	__u64 slots[MAX_SLOTS];
	__u64 duration_ns;
};

struct heatmap {
	FILE *f;
	enum gilstat_hist hist;
	__u64 unit_ns;
	struct heatmap_column *cols;
	size_t nr_cols, cap_cols;
};

struct heatmap *heatmap_new(FILE *f, enum gilstat_hist hist, __u64 unit_ns)
{
	struct heatmap *hm = calloc(1, sizeof(*hm));

	if (!hm)
		return NULL;
	hm->f = f;
	hm->hist = hist;
	hm->unit_ns = unit_ns;
	return hm;
}

int heatmap_add_column(struct heatmap *hm, const struct hist *h, __u64 duration_ns)
{
	struct heatmap_column *grown;

	if (hm->nr_cols == hm->cap_cols) {
		size_t cap = hm->cap_cols ? hm->cap_cols * 2 : 64;

		grown = realloc(hm->cols, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		hm->cols = grown;
		hm->cap_cols = cap;
	}
	memcpy(hm->cols[hm->nr_cols].slots, h->slots, sizeof(h->slots));
	hm->cols[hm->nr_cols].duration_ns = duration_ns;
	hm->nr_cols++;
	return 0;
}

void heatmap_free(struct heatmap *hm)
{
	if (!hm)
		return;
	if (hm->f)
		fclose(hm->f);
	free(hm->cols);
	free(hm);
}

/* A duration for a label: three significant digits in the largest unit that keeps it >= 1. */
static void format_ns(char *buf, size_t len, double ns)
{
	if (ns == 0)
		snprintf(buf, len, "0");
	else if (ns < 1e3)
		snprintf(buf, len, "%.3g ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.3g µs", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.3g ms", ns / 1e6);
	else
		snprintf(buf, len, "%.3g s", ns / 1e9);
}

static unsigned int colour_of(double t)
{
	double pos = t * (NR_PALETTE - 1);
	int i = (int)pos;
	double frac = pos - i;
	unsigned int a, b, rgb = 0;

	if (i >= (int)NR_PALETTE - 1)
		return palette_rgb[NR_PALETTE - 1];
	if (i < 0)
		return palette_rgb[0];
	a = palette_rgb[i];
	b = palette_rgb[i + 1];
	for (int shift = 0; shift <= 16; shift += 8) {
		double ca = (a >> shift) & 0xff, cb = (b >> shift) & 0xff;

		rgb |= (unsigned int)lround(ca + (cb - ca) * frac) << shift;
	}
	return rgb;
}

/* Counts span orders of magnitude (hundreds of short waits, a few long ones): a log scale. */
static double scale_of(__u64 count, __u64 max_count)
{
	return max_count > 1 ? log((double)count) / log((double)max_count) : 1.0;
}

/* The smallest of 1, 2 and 5 times a power of ten that cuts span into at most X_TICKS steps. */
static double tick_step(double span)
{
	double raw = span / X_TICKS, mag = pow(10, floor(log10(raw)));

	if (raw <= mag)
		return mag;
	if (raw <= 2 * mag)
		return 2 * mag;
	if (raw <= 5 * mag)
		return 5 * mag;
	return 10 * mag;
}

struct layout {
	int lo_slot, hi_slot, nr_rows;
	double row_px, plot_height_px;
	double total_s;
	__u64 max_count, total_count;
};

static void measure(const struct heatmap *hm, struct layout *l)
{
	__u64 total_ns = 0;

	memset(l, 0, sizeof(*l));
	l->lo_slot = MAX_SLOTS;
	l->hi_slot = -1;
	for (size_t c = 0; c < hm->nr_cols; c++) {
		total_ns += hm->cols[c].duration_ns;
		for (int i = 0; i < MAX_SLOTS; i++) {
			__u64 n = hm->cols[c].slots[i];

			if (!n)
				continue;
			if (i < l->lo_slot)
				l->lo_slot = i;
			if (i > l->hi_slot)
				l->hi_slot = i;
			if (n > l->max_count)
				l->max_count = n;
			l->total_count += n;
		}
	}
	if (l->hi_slot < 0)
		l->lo_slot = l->hi_slot = 0;
	if (l->hi_slot - l->lo_slot + 1 < MIN_ROWS)
		l->hi_slot = l->lo_slot + MIN_ROWS - 1 < MAX_SLOTS ? l->lo_slot + MIN_ROWS - 1 :
								      MAX_SLOTS - 1;
	if (l->hi_slot - l->lo_slot + 1 < MIN_ROWS)
		l->lo_slot = l->hi_slot - MIN_ROWS + 1;
	l->nr_rows = l->hi_slot - l->lo_slot + 1;
	l->row_px = (double)PLOT_HEIGHT_PX / l->nr_rows;
	if (l->row_px < ROW_MIN_PX)
		l->row_px = ROW_MIN_PX;
	if (l->row_px > ROW_MAX_PX)
		l->row_px = ROW_MAX_PX;
	l->plot_height_px = l->row_px * l->nr_rows;
	l->total_s = total_ns / 1e9;
}

/* The y of the lower edge of a slot's row. */
static double slot_bottom_px(const struct layout *l, int slot)
{
	return MARGIN_TOP_PX + l->plot_height_px - (slot - l->lo_slot) * l->row_px;
}

static void write_cells(const struct heatmap *hm, const struct layout *l)
{
	FILE *f = hm->f;
	const char *name = heatmap_hist_names[hm->hist];
	__u64 start_ns = 0;
	char low[32], high[32];

	for (size_t c = 0; c < hm->nr_cols; c++) {
		const struct heatmap_column *col = &hm->cols[c];
		double x = MARGIN_LEFT_PX, w = PLOT_WIDTH_PX;
		__u64 sum = 0;

		if (l->total_s > 0) {
			x += PLOT_WIDTH_PX * (start_ns / 1e9) / l->total_s;
			w = PLOT_WIDTH_PX * (col->duration_ns / 1e9) / l->total_s;
		}
		for (int i = 0; i < MAX_SLOTS; i++)
			sum += col->slots[i];
		/* crispEdges: no anti-aliased seam between two cells that touch. */
		fprintf(f,
			"<g class=\"column\" shape-rendering=\"crispEdges\" data-interval=\"%zu\" "
			"data-start-s=\"%.3f\" data-duration-s=\"%.3f\" data-count=\"%llu\">\n",
			c + 1, start_ns / 1e9, col->duration_ns / 1e9, (unsigned long long)sum);
		for (int i = l->lo_slot; i <= l->hi_slot; i++) {
			__u64 n = col->slots[i];

			if (!n)
				continue;
			format_ns(low, sizeof(low), (double)hist_slot_low(i) * hm->unit_ns);
			format_ns(high, sizeof(high),
				  (double)(hist_slot_high(i) + 1) * hm->unit_ns);
			fprintf(f,
				"<rect class=\"cell\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
				"height=\"%.2f\" fill=\"#%06x\" data-slot=\"%d\" data-low=\"%llu\" "
				"data-high=\"%llu\" data-count=\"%llu\"><title>%s %s to %s\n"
				"interval %zu: %.3f s to %.3f s\ncount %llu</title></rect>\n",
				x, slot_bottom_px(l, i + 1), w, l->row_px,
				colour_of(scale_of(n, l->max_count)), i,
				(unsigned long long)(hist_slot_low(i) * hm->unit_ns),
				(unsigned long long)((hist_slot_high(i) + 1) * hm->unit_ns - 1),
				(unsigned long long)n, name,
				low, high, c + 1, start_ns / 1e9,
				(start_ns + col->duration_ns) / 1e9, (unsigned long long)n);
		}
		fprintf(f, "</g>\n");
		start_ns += col->duration_ns;
	}
}

static void write_axes(const struct heatmap *hm, const struct layout *l)
{
	FILE *f = hm->f;
	double bottom = MARGIN_TOP_PX + l->plot_height_px, step, y;
	int decimals;
	char label[32];

	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%.2f\" fill=\"none\" "
		   "stroke=\"#555\"/>\n",
		MARGIN_LEFT_PX, MARGIN_TOP_PX, PLOT_WIDTH_PX, l->plot_height_px);
	/* y: a tick at every bucket boundary, labelled with its time. */
	fprintf(f, "<g class=\"y-axis\" font-size=\"11\" text-anchor=\"end\">\n");
	for (int i = l->lo_slot; i <= l->hi_slot + 1; i++) {
		y = slot_bottom_px(l, i);
		format_ns(label, sizeof(label),
			  i == 0 ? 0 : (double)hist_slot_low(i) * (double)hm->unit_ns);
		fprintf(f,
			"<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#555\"/>"
			"<text x=\"%d\" y=\"%.2f\" dominant-baseline=\"middle\">%s</text>\n",
			MARGIN_LEFT_PX - 5, y, MARGIN_LEFT_PX, y, MARGIN_LEFT_PX - 8, y, label);
	}
	fprintf(f, "</g>\n");
	fprintf(f,
		"<text x=\"18\" y=\"%.2f\" font-size=\"13\" text-anchor=\"middle\" "
		"transform=\"rotate(-90 18 %.2f)\">%s time (log2 buckets)</text>\n",
		MARGIN_TOP_PX + l->plot_height_px / 2, MARGIN_TOP_PX + l->plot_height_px / 2,
		axis_names[hm->hist]);
	/* x: seconds since tracing began, in steps of 1, 2 or 5 times a power of ten. */
	fprintf(f, "<g class=\"x-axis\" font-size=\"11\" text-anchor=\"middle\">\n");
	if (l->total_s > 0) {
		step = tick_step(l->total_s);
		decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
		for (int k = 0; k * step <= l->total_s * (1 + 1e-9); k++) {
			double x = MARGIN_LEFT_PX + PLOT_WIDTH_PX * (k * step) / l->total_s;

			fprintf(f,
				"<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
				"stroke=\"#555\"/><text x=\"%.2f\" y=\"%.2f\">%.*f</text>\n",
				x, bottom, x, bottom + 5, x, bottom + 18, decimals, k * step);
		}
	}
	fprintf(f, "</g>\n");
	fprintf(f,
		"<text x=\"%.2f\" y=\"%.2f\" font-size=\"13\" text-anchor=\"middle\">time since "
		"tracing began (s)</text>\n",
		MARGIN_LEFT_PX + PLOT_WIDTH_PX / 2.0, bottom + 42);
}

/* A bar of the colour scale with counts on it: 1, powers of ten, and the largest count. */
static void write_legend(const struct heatmap *hm, const struct layout *l)
{
	FILE *f = hm->f;
	double x = MARGIN_LEFT_PX + PLOT_WIDTH_PX + 36, top = MARGIN_TOP_PX + LEGEND_TOP_PX;
	double height = l->plot_height_px - LEGEND_TOP_PX, last_y = 1e9;

	fprintf(f, "<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
	for (size_t i = 0; i < NR_PALETTE; i++)
		fprintf(f, "<stop offset=\"%.3f\" stop-color=\"#%06x\"/>",
			(double)i / (NR_PALETTE - 1), palette_rgb[i]);
	fprintf(f, "</linearGradient></defs>\n");
	if (height > LEGEND_MAX_PX)
		height = LEGEND_MAX_PX;
	fprintf(f, "<g class=\"legend\" font-size=\"11\">\n");
	fprintf(f, "<text x=\"%.2f\" y=\"%d\" font-size=\"12\">count per cell</text>\n", x - 8,
		MARGIN_TOP_PX);
	fprintf(f, "<text x=\"%.2f\" y=\"%d\" fill=\"#555\">(log scale)</text>\n", x - 8,
		MARGIN_TOP_PX + 13);
	fprintf(f,
		"<rect x=\"%.2f\" y=\"%.2f\" width=\"%d\" height=\"%.2f\" fill=\"url(#scale)\" "
		"stroke=\"#555\"/>\n",
		x, top, LEGEND_BAR_PX, height);
	if (!l->max_count)
		fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">none</text>\n", x + LEGEND_BAR_PX + 6,
			top + height);
	for (__u64 n = 1; l->max_count && n <= l->max_count; n *= 10) {
		double y = top + height - height * scale_of(n, l->max_count);

		fprintf(f,
			"<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555\"/>"
			"<text x=\"%.2f\" y=\"%.2f\" dominant-baseline=\"middle\">%llu</text>\n",
			x + LEGEND_BAR_PX, y, x + LEGEND_BAR_PX + 4, y, x + LEGEND_BAR_PX + 6, y,
			(unsigned long long)n);
		last_y = y;
	}
	/* The largest count, unless a power of ten is already there or too close to it. */
	if (l->max_count > 1 && last_y - top > 16)
		fprintf(f,
			"<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#555\"/>"
			"<text x=\"%.2f\" y=\"%.2f\" dominant-baseline=\"middle\">%llu</text>\n",
			x + LEGEND_BAR_PX, top, x + LEGEND_BAR_PX + 4, top, x + LEGEND_BAR_PX + 6,
			top, (unsigned long long)l->max_count);
	fprintf(f, "</g>\n");
}

/* "PID 4242 (python3)"; PID 0 is every process (-a), which comm describes. */
static void put_target(FILE *f, int pid, const char *comm)
{
	if (pid)
		fprintf(f, "PID %d (", pid);
	svg_put_text(f, comm);
	if (pid)
		fprintf(f, ")");
}

int heatmap_write(struct heatmap *hm, int pid, const char *comm)
{
	FILE *f = hm->f;
	struct layout l;
	double height;
	int err = 0;

	measure(hm, &l);
	height = MARGIN_TOP_PX + l.plot_height_px + MARGIN_BOTTOM_PX;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" data-hist=\"%s\" "
		"data-unit-ns=\"%llu\" data-intervals=\"%zu\" data-count=\"%llu\">\n",
		WIDTH_PX, height, WIDTH_PX, height, heatmap_hist_names[hm->hist],
		(unsigned long long)hm->unit_ns, hm->nr_cols, (unsigned long long)l.total_count);
	fprintf(f, "<title>%s, ", hist_titles[hm->hist]);
	put_target(f, pid, comm);
	fprintf(f, "</title>\n");
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">",
		MARGIN_LEFT_PX);
	svg_put_text(f, hist_titles[hm->hist]);
	fprintf(f, ", ");
	put_target(f, pid, comm);
	fprintf(f, "</text>\n");
	fprintf(f,
		"<text x=\"%d\" y=\"44\" font-size=\"12\" fill=\"#444\">"
		"%zu interval%s over %.2f s, %llu %s times in all; a column per interval, "
		"a row per log2 bucket</text>\n",
		MARGIN_LEFT_PX, hm->nr_cols, hm->nr_cols == 1 ? "" : "s", l.total_s,
		(unsigned long long)l.total_count, axis_names[hm->hist]);
	write_cells(hm, &l);
	write_axes(hm, &l);
	write_legend(hm, &l);
	fprintf(f, "</svg>\n");

	if (fflush(f) || ferror(f))
		err = -(errno ?: EIO);
	if (fclose(f) && !err)
		err = -(errno ?: EIO);
	hm->f = NULL;
	return err;
}
