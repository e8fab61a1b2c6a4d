// SPDX-License-Identifier: GPL-2.0
/*
 * --flamegraph: the holders' stacks as an SVG flame graph, a box per frame, its width the GIL
 * wait charged to the stacks under it (stacks.c charges them), the stacks of the threads they kept
 * waiting above them, beside heatmap.c's latency heatmap.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flamegraph.h"
#include "svg.h"

/* The flame graph's tree: a node per frame of a path, its weight the waits under it (us). */
static struct flame_node *flame_child(struct flame_node *parent, const char *name)
{
	struct flame_node *c;

	for (c = parent->child; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%.*s", FLAME_NAME_LEN - 1, name);
	c->next = parent->child;
	parent->child = c;
	return c;
}

static void free_nodes(struct flame_node *n)
{
	while (n) {
		struct flame_node *next = n->next;

		free_nodes(n->child);
		free(n);
		n = next;
	}
}

static int flame_depth(const struct flame_node *n)
{
	int max = 0;

	for (const struct flame_node *c = n->child; c; c = c->next) {
		int d = flame_depth(c);

		if (d > max)
			max = d;
	}
	return max + 1;
}

#define FLAME_WIDTH	   1200
#define FLAME_FRAME_HEIGHT 17
#define FLAME_PAD	   10
#define FLAME_TOP	   40
#define FLAME_CHAR_WIDTH   7.0

/*
 * Colours from a hash of the name, so that a frame keeps its colour from one graph to the next:
 * warm for the holders' frames, cool for the waiters' above the separator, which is grey.
 */
static void flame_colour(const char *name, bool waiter, char *buf, size_t len)
{
	unsigned int h = 2166136261u;

	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	if (!strcmp(name, FLAME_SEPARATOR))
		snprintf(buf, len, "rgb(160,160,160)");
	else if (waiter)
		snprintf(buf, len, "rgb(%u,%u,%u)", 60 + h % 50, 120 + (h >> 8) % 80,
			 205 + (h >> 16) % 50);
	else
		snprintf(buf, len, "rgb(%u,%u,%u)", 205 + h % 50, 80 + (h >> 8) % 130,
			 40 + (h >> 16) % 50);
}

static void flame_draw(FILE *f, const struct flame_node *n, double x, int level, int depth,
		       double scale, __u64 total, bool waiter)
{
	double w = n->weight * scale;
	double y = FLAME_TOP + (depth - 1 - level) * FLAME_FRAME_HEIGHT;
	char colour[32];
	double cx = x;

	if (w < 0.1)
		return;
	flame_colour(n->name, waiter, colour, sizeof(colour));
	fprintf(f, "<g><title>");
	svg_put_text(f, n->name);
	fprintf(f, " (%.3f ms of waits, %.2f%%)</title>", n->weight / 1e3,
		total ? 100.0 * n->weight / total : 0);
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
		x, y, w, FLAME_FRAME_HEIGHT - 1, level ? colour : "rgb(200,200,200)");
	if (w > 3 * FLAME_CHAR_WIDTH) {
		size_t fit = (size_t)((w - 6) / FLAME_CHAR_WIDTH);
		char label[FLAME_NAME_LEN];

		snprintf(label, sizeof(label), "%s", n->name);
		if (strlen(label) > fit && fit >= 2)
			snprintf(label + fit - 2, sizeof(label) - (fit - 2), "..");
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FLAME_FRAME_HEIGHT - 5);
		svg_put_text(f, label);
		fprintf(f, "</text>");
	}
	fprintf(f, "</g>\n");
	waiter = waiter || !strcmp(n->name, FLAME_SEPARATOR);
	for (const struct flame_node *c = n->child; c; c = c->next) {
		flame_draw(f, c, cx, level + 1, depth, scale, total, waiter);
		cx += c->weight * scale;
	}
}

void flamegraph_add(struct flame_node *root, char (*frames)[FLAME_NAME_LEN], int nr, __u64 us)
{
	struct flame_node *n = root;

	root->weight += us;
	for (int k = 0; k < nr && n; k++) {
		n = flame_child(n, frames[k]);
		if (n)
			n->weight += us;
	}
}

void flamegraph_free(struct flame_node *root)
{
	free_nodes(root->child);
	root->child = NULL;
}

int flamegraph_write(FILE *f, const struct flame_node *root, const char *title, __u64 min_wait_ns)
{
	int depth, height;
	double scale;

	depth = flame_depth(root);
	height = FLAME_TOP + depth * FLAME_FRAME_HEIGHT + FLAME_PAD + 38;
	scale = root->weight ? (FLAME_WIDTH - 2.0 * FLAME_PAD) / root->weight : 0;
	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "xmlns=\"http://www.w3.org/2000/svg\">\n"
		   "<style>text { font-family: monospace; font-size: 12px; fill: #000; "
		   "pointer-events: none; } g:hover rect { stroke: #000; stroke-width: 1; }"
		   "</style>\n"
		   "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#f8f8f8\"/>\n"
		   "<text x=\"%d\" y=\"24\" style=\"font-size: 16px\">",
		FLAME_WIDTH, height, FLAME_WIDTH, height, FLAME_PAD);
	svg_put_text(f, title);
	fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\">width: GIL wait caused (waits of %.3f ms or "
		   "more, %.3f ms in all); hover a frame for its share</text>\n",
		FLAME_PAD, height - 26, min_wait_ns / 1e6, root->weight / 1e3);
	fprintf(f, "<text x=\"%d\" y=\"%d\">below " FLAME_SEPARATOR ": the thread that held the "
		   "GIL, up to where it released it; above: the thread it kept waiting, from where it "
		   "asked for the GIL</text>\n",
		FLAME_PAD, height - 8);
	if (root->weight)
		flame_draw(f, root, FLAME_PAD, 0, depth, scale, root->weight, false);
	fprintf(f, "</svg>\n");
	return fflush(f) || ferror(f) ? -EIO : 0;
}
