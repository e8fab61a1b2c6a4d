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

struct json;

/* Where CPython keeps a code object's names, and a compact ASCII str's characters. */
struct py_code_offsets {
	int name, qualname, filename, firstlineno; /* qualname -1: none before 3.11 */
	int ascii_data;				   /* sizeof(PyASCIIObject) */
	int str_state;				   /* offsetof(PyASCIIObject, state) */
};

struct py_layout {
	struct py_frame_offsets frames;
	struct py_code_offsets code;
};

/*
 * The frame layout of CPython major.minor at path (3.8-3.12 by version, 3.13 from the
 * _Py_DebugOffsets the file carries). 0, or -ENOTSUP and one line in why.
 */
int py_layout_for(int major, int minor, const char *path, struct py_layout *l, char *why,
		  size_t why_len);

struct stacks_opts {
	pid_t pid;
	__u64 min_wait_ns;
	int depth;    /* native frames kept: the stack map holds one more, to tell a truncation */
	__u64 unit_ns; /* the report's unit, for the p99 */
	const struct py_layout *py; /* NULL: no Python frames */
	int waits_fd, stacks_fd, py_stacks_fd, comm_fd;
};

struct stacks;

struct stacks *stacks__new(const struct stacks_opts *o);
void stacks__free(struct stacks *s);
/* While the target runs: keeps its maps and names its new code objects, for after its exit. */
void stacks__refresh(struct stacks *s);
/* Reads the maps: the next print covers the waits since the previous read. */
int stacks__read(struct stacks *s);
/* What the BPF side could not record: frames that could not be read, stacks not recorded. */
void stacks__set_errors(struct stacks *s, __u64 read_errors, __u64 stack_errors);
void stacks__print_text(struct stacks *s, FILE *f, const char *unit_name);
void stacks__print_json(struct stacks *s, struct json *j);
/* Everything since tracing began, holders' stacks weighted by wait in us. 0 or -errno. */
int stacks__write_folded(struct stacks *s, FILE *f);
int stacks__write_flamegraph(struct stacks *s, FILE *f, const char *title);

#endif
