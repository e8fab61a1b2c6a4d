/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilstat --python: which ELF file holds the CPython interpreter of a process or a command, and
 * at which file offsets uprobes measure its GIL. docs/python.md has the evidence per version.
 */
#ifndef GILSTAT_PYTHON_H
#define GILSTAT_PYTHON_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pygil.h"

enum py_view {
	/* take_gil()/drop_gil() (symbol table): every acquisition and every release */
	PY_VIEW_GIL,
	/* PyEval_SaveThread()/RestoreThread() (exported; stripped builds): blocking calls only */
	PY_VIEW_THREADSTATE,
	/* a free-threaded build (3.13t) running without its GIL: nothing to measure */
	PY_VIEW_NOGIL,
	/*
	 * libc's pthread_cond_signal()/_timedwait()/_init() on the GIL's condition variables
	 * (3.8 and later, any build, stripped or LTO): every acquisition and every release.
	 */
	PY_VIEW_CONDVAR,
};

/*
 * Which probes --python uses: libc's condition-variable functions on 3.8 and later (two uprobe
 * hits per uncontended GIL cycle, any build: the default), or the interpreter's own symbols only,
 * take_gil()/drop_gil() where the build names them (three hits, one of them a return probe) and
 * else the exported PyEval_SaveThread()/RestoreThread().
 */
enum py_probes {
	PY_PROBES_AUTO,
	PY_PROBES_SYMBOLS,
};

void python_set_probes(enum py_probes probes);

/* compiler clones of one function (take_gil and take_gil.constprop.0 in 3.8) each need a probe */
#define PY_MAX_PROBES 8

/*
 * One uprobe site. offset is a file offset, which is what the kernel takes for ET_DYN and ET_EXEC
 * alike: bpf_program__attach_uprobe_opts(prog, pid, target->path, offset, opts) with no
 * opts.func_name.
 */
struct py_probe {
	char name[64]; /* the symbol, or "symbol+0x1f" for an instruction inside a function */
	__u64 offset;
};

struct py_target {
	char path[PATH_MAX]; /* ELF holding the interpreter code: libpython or the executable */
	int major, minor;    /* 0 when unknown */
	bool free_threaded;  /* built with Py_GIL_DISABLED */
	enum py_view view;
	/* uprobe and uretprobe on each: the calling thread waits from entry to return */
	int nr_acquire;
	struct py_probe acquire[PY_MAX_PROBES];
	/* uprobe on each: the calling thread's hold ends at entry */
	int nr_release;
	struct py_probe release[PY_MAX_PROBES];
	/*
	 * uprobe on each: the eval loop starts to honour a drop request, so the calling thread's
	 * next release is forced. None where forced and voluntary releases cannot be told apart.
	 */
	int nr_forced;
	struct py_probe forced[PY_MAX_PROBES];
	/* PY_VIEW_CONDVAR: the libc the process calls, and offsetof(gil, cond) (PY_GIL_COND_*) */
	struct py_libc libc;
	__u64 cond_offset;
	/* what this view cannot see, one line for the report; empty when it sees everything */
	char blind_spot[192];
	/* where the symbol table was read (debuginfo.h): "the file itself", a debug file, ... */
	char symbols_from[PATH_MAX + 64];
	/* the file has none and no debug file was found: where gilstat looked, one line */
	char symbols_missing[1024];
};

/*
 * The CPython of a running process: a libpython in /proc/PID/maps, else the executable itself.
 * path_override (--python=PATH) names the interpreter or libpython instead; it must be mapped in
 * the process. 0 on success; otherwise a negative errno and one lowercase line in err.
 */
int python_target_from_pid(pid_t pid, const char *path_override, struct py_target *t, char *err,
			   size_t err_len);

/*
 * The CPython that argv would run: argv[0] through PATH, #! lines the way the kernel follows them
 * (one optional argument, nested interpreters) and /usr/bin/env; an executable linked to libpython
 * leads to the libpython its dynamic loader would map. A wrapper that is not itself Python but is
 * named python* (a pyenv shim) is asked for its sys.executable. path_override as above.
 */
int python_target_from_command(char *const argv[], const char *path_override, struct py_target *t,
			       char *err, size_t err_len);

/*
 * The CPython in an ELF file: libpython, or an executable that holds or links the interpreter.
 * With no process to ask, a free-threaded build keeps PY_VIEW_GIL here.
 */
int python_target_from_file(const char *path, struct py_target *t, char *err, size_t err_len);

/*
 * Whether a free-threaded build started with this PYTHON_GIL value (NULL if unset) and these
 * interpreter arguments (argv[0] the interpreter, NULL-terminated) runs without its GIL: -X gil
 * wins over PYTHON_GIL, and no setting means no GIL.
 */
bool python_gil_disabled(const char *python_gil_env, char *const argv[]);

const char *python_view_name(enum py_view view);

struct debuginfo_opts;
/* How the lookups above find the debug file of a stripped build (debuginfo.h); NULL: defaults. */
void python_set_debuginfo_opts(const struct debuginfo_opts *opts);

#endif
