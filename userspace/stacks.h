/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stacks: the waits of at least --min-wait, charged to the stack the previous holder had when it
 * released the GIL, beside the waiter's own; their native frames symbolized with libdwfl from the
 * target's /proc/PID/maps, their Python frames named from its memory. Printed as a top table
 * (text, JSON), folded stacks and an SVG flame graph.
 */
#ifndef GILSTAT_STACKS_H
#define GILSTAT_STACKS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "gilstat.h"
#include "pygil.h"

struct json;

/* Where CPython keeps a code object's names, and a compact ASCII str's characters. */
struct stacks_opts {
	pid_t pid;
	__u64 min_wait_ns;
	int depth;    /* native frames kept: the stack map holds one more, to tell a truncation */
	__u64 unit_ns; /* the report's unit, for the p99 */
	const struct py_layout *py; /* NULL: no Python frames */
	int waits_fd, stacks_fd, py_stacks_fd, comm_fd;
};

struct stacks;

struct stacks *stacks_new(const struct stacks_opts *o);
void stacks_free(struct stacks *s);
/* While the target runs: keeps its maps and names its new code objects, for after its exit. */
void stacks_refresh(struct stacks *s);
/* The innermost frame of the Python stack py_key as "function (file:line)", or false. */
bool stacks_python_place(struct stacks *s, __u64 py_key, char *buf, size_t len);
/* Reads the maps: the next print covers the waits since the previous read. */
int stacks_read(struct stacks *s);
/* What the BPF side could not record: frames that could not be read, stacks not recorded. */
void stacks_set_errors(struct stacks *s, __u64 read_errors, __u64 stack_errors);
void stacks_print_text(struct stacks *s, FILE *f, const char *unit_name);
void stacks_print_json(struct stacks *s, struct json *j);
/*
 * Everything since tracing began, a path per holder and waiter: the holder's frames, the
 * separator, the waiter's (innermost first), weighted by wait in us. 0 or -errno.
 */
int stacks_write_folded(struct stacks *s, FILE *f);
int stacks_write_flamegraph(struct stacks *s, FILE *f, const char *title);

#endif
