/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython's GIL seen through its condition variables: which libc a process calls them in, and
 * where in a running process the main interpreter's GIL lives. This is what traces builds that
 * have no symbol for take_gil()/drop_gil(): Debian's and Ubuntu's packages, stripped
 * python-build-standalone builds, LTO builds where both are inlined into their callers.
 */
#ifndef GILSTAT_PYGIL_H
#define GILSTAT_PYGIL_H

#include <limits.h>
#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "gilstat.h"

/*
 * offsetof(struct _gil_runtime_state, cond) in CPython 3.8 and later: interval, last_holder,
 * locked and switch_number come first. A free-threaded build's GIL (3.13t and later) has an int
 * enabled before them.
 */
#define PY_GIL_COND_OFFSET    32
#define PY_GIL_COND_OFFSET_FT 40
/* offsetof(struct _gil_runtime_state, last_holder): after the interval, an unsigned long */
#define PY_GIL_LAST_HOLDER_OFFSET 8

/* libc's condition-variable functions in one file, as file offsets for uprobes; 0: absent. */
struct py_libc {
	char path[PATH_MAX];
	__u64 cond_init;
	__u64 cond_signal;
	__u64 cond_timedwait;
	__u64 cond_clockwait;
	__u64 cond_destroy;
};

/*
 * The default versions (pthread_cond_signal@@GLIBC_2.3.2, not the 2.2.5 compatibility one) of
 * the functions in the libc at path. 0, or a negative errno and one line in err.
 */
int pygil_libc_open(const char *path, struct py_libc *libc, char *err, size_t err_len);

/* Whether pid has mapped glibc yet (a process just exec'd has not). */
bool pygil_libc_mapped(pid_t pid);

/* The libc that pid has mapped, reached through its root if it runs in another mount namespace. */
int pygil_libc_of_pid(pid_t pid, struct py_libc *libc, char *err, size_t err_len);

/* _PyRuntime's address and size in the ELF file at path, from .dynsym or .symtab. 0 or -ENOENT. */
int pygil_runtime_symbol(const char *path, __u64 *vaddr, __u64 *size);

/*
 * _Py_DebugOffsets, at the start of _PyRuntime from 3.13 on, as the file at path initialises it:
 * the cookie "xdebugpy", PY_VERSION_HEX and whether the build is free-threaded. Out-of-process
 * debuggers read the same bytes. 0, or -ENOENT when the file has none.
 */
int pygil_debug_offsets(const char *path, __u64 *version_hex, bool *free_threaded);

/* The first len bytes of that _Py_DebugOffsets, as the file initialises them. 0 or -ENOENT. */
int pygil_debug_offsets_read(const char *path, void *buf, size_t len);

/*
 * The GILs of a running process that live in its _PyRuntime (the main interpreter's), found by
 * their layout: a sane interval, locked 0 or 1, two condition variables 88 bytes apart that use
 * CLOCK_MONOTONIC, each followed by a plain mutex. path is the file that holds _PyRuntime, as
 * mapped by pid; cond_offset is PY_GIL_COND_OFFSET(_FT). The GILs' addresses go to gils. Their
 * number, or a negative errno and one line in err.
 */
int pygil_find_gils(pid_t pid, const char *path, __u64 cond_offset, __u64 *gils, int max_gils,
		    char *err, size_t err_len);

/* Where CPython keeps what the frame walk reads: the BPF side's frames, and its code objects. */
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
 * The frame layout of CPython major.minor at path (3.8-3.12 by version, 3.13 and later from the
 * _Py_DebugOffsets the file carries, whose version must be major.minor). 0, or -ENOTSUP and one
 * line in why.
 */
int pygil_layout_for(int major, int minor, const char *path, struct py_layout *l, char *why,
		  size_t why_len);

/* The frame layout that the len u64 of a _Py_DebugOffsets describe. 0, or -ENOTSUP and why. */
int pygil_layout_from_debug(const __u64 *dbg, int len, struct py_layout *l, char *why,
			    size_t why_len);

#endif
