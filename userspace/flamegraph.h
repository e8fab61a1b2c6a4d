/* SPDX-License-Identifier: GPL-2.0 */
/* --flamegraph: a tree of frames weighted by the GIL wait charged to them, drawn as SVG. */
#ifndef GILSTAT_FLAMEGRAPH_H
#define GILSTAT_FLAMEGRAPH_H

#include <stdio.h>
#include <linux/types.h>

#define FLAME_NAME_LEN 256
/*
 * The frame between the stack of the thread that held the GIL and, above it, the stack of the one
 * it kept waiting: the separator of wake-up flame graphs, which flamegraph.pl's chain palette
 * knows too.
 */
#define FLAME_SEPARATOR "--"

/* A node per frame of a path, its weight the waits under it (us). */
struct flame_node {
	char name[FLAME_NAME_LEN];
	__u64 weight;
	struct flame_node *child, *next;
};

/* A path of nr frames, outermost first, weighing us, added under root. */
void flamegraph_add(struct flame_node *root, char (*frames)[FLAME_NAME_LEN], int nr, __u64 us);
/* The SVG of the tree under root: 0, or -EIO when it could not be written. */
int flamegraph_write(FILE *f, const struct flame_node *root, const char *title, __u64 min_wait_ns);
/* The nodes under root freed. */
void flamegraph_free(struct flame_node *root);

#endif
