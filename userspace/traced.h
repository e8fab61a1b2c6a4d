/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What one gilstat run traces (-p PID, or -- COMMAND), found before anything is loaded: the file
 * holding the probes, the CPython target with --python, and the command forked and held until the
 * probes are attached (target.h's struct child).
 */
#ifndef GILSTAT_TRACED_H
#define GILSTAT_TRACED_H

#include <limits.h>
#include "python.h"
#include "target.h"

struct options;

struct traced {
	pid_t pid; /* -p's, or the command's once forked */
	char probe_path[PATH_MAX];
	struct py_target py;
	char python_version[16]; /* "3.12", or empty */
	struct child child;
	/* what the report says of the view (report.h's report_meta), or NULL */
	const char *view, *note, *no_utilisation;
};

/* A command killed by signal N exits 128 + N, as a shell reports it. */
#define EXIT_SIGNAL_BASE 128

/*
 * The target of o (not -a), a command forked. -1 to go on, or the exit status to end with (an
 * error said in one line, or a free-threaded CPython, run unobserved).
 */
int traced_resolve(struct traced *t, const struct options *o);
/* A wait status as a shell's exit status. */
int traced_exit_status(int status);

#endif
