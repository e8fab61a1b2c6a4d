/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracer owns the BPF object (the one skeleton of bpf/gilstat.bpf.c): it opens it, sets its
 * read-only settings, loads the programs of the target's modes only, and attaches them. The modes
 * are one table in tracer.c: libgil's USDT probes, CPython's own functions, libc's condition
 * variables, the holders' stacks, the scheduler. It also registers the GILs the BPF side must know
 * of. Single-target mode and fleet mode (-a, fleet.c) both attach through it: no other module
 * makes a BPF link.
 */
#ifndef GILSTAT_TRACER_H
#define GILSTAT_TRACER_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "pygil.h"
#include "reaper.h"
#include "python.h"

struct options;
struct traced;
struct bpf_link;

enum tracer_mode {
	TRACER_LIBGIL,	   /* libgil's gil:* USDT probes */
	TRACER_PY_SYMBOLS, /* CPython's own functions: take_gil/drop_gil or the thread state's */
	TRACER_PY_CONDVAR, /* libc's pthread_cond_* on the GIL's condition variables */
	TRACER_STACKS,	   /* --stacks: the holder's stack charged at a long wait's release */
	TRACER_SCHED,	   /* the scheduler's tracepoints: sched delay */
	NR_TRACER_MODES,
};

/* three USDT probes for libgil or up to four uprobe lists for CPython, three tracepoints */
#define TRACER_MAX_LINKS (4 * PY_MAX_PROBES + 3)
/* the uprobe_multi links of one CPython process in fleet mode: libc's init, signal, waits */
#define TRACER_MAX_MULTI_LINKS 6

struct tracer {
	const struct options *opts;
	struct gilstat_bpf *skel;
	unsigned int modes; /* 1 << TRACER_*: the modes whose programs are loaded */
	struct probe_link links[TRACER_MAX_LINKS];
	int nr_links;
	bool multi; /* the kernel makes uprobe_multi links: the uprobes are such links */
	/* the maps the reports read */
	int nr_cpus, cpu_fd, key_fd, comm_fd;
	/* --stacks: CPython's frame layout, when py_frames */
	struct py_layout py_layout;
	bool py_frames;
};

/* One target: the object opened, set for t and loaded. 0, or -errno and one line. */
int tracer_open(struct tracer *tr, const struct options *o, const struct traced *t);
/* -a: the object opened for every process at once and loaded. */
int tracer_open_fleet(struct tracer *tr, const struct options *o);
/* One target: its mode's programs attached to t->pid, then the scheduler's and the fork event. */
int tracer_attach(struct tracer *tr, const struct traced *t);
/* -a: the scheduler's programs, the exec and fork events. */
int tracer_attach_fleet(struct tracer *tr);
/* -a: libgil's probes in path for every process, into links[3]. 0 or -errno. */
int tracer_attach_libgil_file(struct tracer *tr, const char *path, struct probe_link links[3]);
/*
 * -a: libc's condition-variable programs in pid only, as uprobe_multi link descriptors appended
 * to fds (*nr of them, at most TRACER_MAX_MULTI_LINKS), also when it fails. 0 or -errno.
 */
int tracer_attach_condvar_multi(struct tracer *tr, pid_t pid, const struct py_libc *c, int *fds,
				int *nr);
/* A GIL of pid at gil, its condition variables cond_offset and further on, for the BPF side. */
int tracer_register_gil(struct tracer *tr, pid_t pid, __u64 gil, __u64 cond_offset);
/* The links destroyed, the object closed. */
void tracer_free(struct tracer *tr);

#endif
