// SPDX-License-Identifier: GPL-2.0
/* What one gilstat run traces, found before anything is loaded. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "command.h"
#include "debuginfo.h"
#include "options.h"
#include "traced.h"

int traced_exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return EXIT_SIGNAL_BASE + WTERMSIG(status);
	return 1;
}

/* Runs the command of a free-threaded CPython unobserved: there is no GIL to measure. */
static int run_without_gil(struct child *c)
{
	int err = child_start(c), status;

	printf("PID %d: this interpreter runs without a GIL (free-threaded build): nothing to "
	       "measure\n",
	       c->pid);
	fflush(stdout);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return 1;
	return err ? 127 : traced_exit_status(status);
}

/* --python: the interpreter of the process or of the command, and what its view sees. */
static int resolve_python(struct traced *t, const struct options *o)
{
	char exe[PATH_MAX], err_msg[PATH_MAX + 128];
	int err;

	python_set_probes(o->python_symbols ? PY_PROBES_SYMBOLS : PY_PROBES_AUTO);
	python_set_debuginfo_opts(&(struct debuginfo_opts){ .no_debuginfod = o->no_debuginfod });
	err = o->pid ? python_target_from_pid(o->pid, o->python_path, &t->py, err_msg,
					      sizeof(err_msg))
		     : python_target_from_command(o->command, o->python_path, &t->py, err_msg,
						  sizeof(err_msg));
	if (err) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		/* 127 is for a command that is not there, not for one that is not Python */
		if (err == -ENOENT && o->command && command_lookup(o->command[0], exe, sizeof(exe)))
			return 127;
		return 1;
	}
	/* a stripped build without its debug file: say where it was looked for */
	if (t->py.symbols_missing[0])
		fprintf(stderr, "gilstat: %s\n", t->py.symbols_missing);
	if (o->verbose && t->py.symbols_from[0])
		fprintf(stderr, "gilstat: symbols of %s from %s\n", t->py.path, t->py.symbols_from);
	snprintf(t->probe_path, sizeof(t->probe_path), "%s", t->py.path);
	if (t->py.major)
		snprintf(t->python_version, sizeof(t->python_version), "%d.%d", t->py.major,
			 t->py.minor);
	t->note = t->py.blind_spot[0] ? t->py.blind_spot : NULL;
	t->view = python_view_name(t->py.view);
	if (t->py.view == PY_VIEW_THREADSTATE)
		t->no_utilisation = "not measured: this view sees the releases around "
				    "blocking calls only";
	else if (t->py.view == PY_VIEW_GIL && (t->py.major > 3 || t->py.minor >= 12))
		t->no_utilisation = "not measured: take_gil/drop_gil do not say which "
				    "interpreter's GIL they take (3.12 has one each)";
	return -1;
}

/* libgil's probes: in the process's maps, or in the command or a library it loads. */
static int resolve_libgil(struct traced *t, const struct options *o)
{
	char exe[PATH_MAX], err_msg[PATH_MAX + 128];
	int err;

	if (o->pid) {
		if (target_find_probes_in_pid(o->pid, t->probe_path, sizeof(t->probe_path), err_msg,
				       sizeof(err_msg))) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			return 1;
		}
		return -1;
	}
	err = command_lookup(o->command[0], exe, sizeof(exe));
	if (err) {
		fprintf(stderr, "gilstat: %s: %s\n", o->command[0],
			err == -EACCES ? "permission denied (not executable)" : "command not found");
		/* What a shell returns for each. */
		return err == -EACCES ? 126 : 127;
	}
	if (target_find_probes_in_exe(exe, t->probe_path, sizeof(t->probe_path), err_msg,
			       sizeof(err_msg))) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		return 1;
	}
	return -1;
}

int traced_resolve(struct traced *t, const struct options *o)
{
	int err;

	*t = (struct traced){.pid = o->pid, .child = {.go_fd = -1, .error_fd = -1}};
	err = o->python ? resolve_python(t, o) : resolve_libgil(t, o);
	if (err >= 0)
		return err;
	if (o->python && t->py.view == PY_VIEW_NOGIL && o->pid) {
		printf("PID %d: this interpreter runs without a GIL (free-threaded build): nothing "
		       "to measure\n",
		       o->pid);
		return 0;
	}
	if (o->command) {
		err = child_fork(&t->child, o->command);
		if (err) {
			fprintf(stderr, "gilstat: cannot start %s: %s\n", o->command[0],
				strerror(-err));
			return 1;
		}
		t->pid = t->child.pid;
		if (o->python && t->py.view == PY_VIEW_NOGIL)
			return run_without_gil(&t->child);
	}
	return -1;
}
