/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilstat -a: every CPython (3.8 and later, through libc's condition variables) and every libgil
 * process on the host. The processes running at start are found in /proc, later ones from the
 * BPF side's exec events; each is attached within a second, and detached, its BPF state dropped,
 * when it ends. libgil's USDT probes are attached once per file, for every process that maps it
 * (only libgil's users reach them); libc's functions are attached per CPython process, since a
 * probe on them for every process would make each pthread_cond_signal() on the host pay a trap
 * (docs/prometheus.md has the numbers).
 */
#ifndef GILSTAT_FLEET_H
#define GILSTAT_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct tracer;
struct exporter;

struct fleet_opts {
	struct tracer *tr;	  /* opened by tracer_open_fleet() */
	struct exporter *ex;	  /* told of each process that is traced and of its end */
	bool verbose;
};

struct fleet_stats {
	size_t nr_traced;  /* processes traced now */
	__u64 nr_traced_total; /* and since the start */
	size_t nr_pending; /* exec'd, not yet known to be a CPython or libgil program */
	size_t nr_links;   /* BPF links held */
	__u64 nr_execs;	   /* exec events read */
};

struct fleet;

struct fleet *fleet_new(const struct fleet_opts *opts);
/* The processes running now, from /proc. The number traced, or a negative errno. */
int fleet_scan(struct fleet *f);
/* The exec and fork events' ring buffer's callback (the session owns the ring): ctx is the fleet. */
int fleet_on_event(void *ctx, void *data, size_t size);
/* Readable when a traced process has ended. */
int fleet_fd(const struct fleet *f);
/* Handles what is ready: ended processes, pending retries, the processes the events named. */
void fleet_poll(struct fleet *f);
/* When fleet_poll() must run again even if nothing is readable; UINT64_MAX for never. */
__u64 fleet_next_ns(const struct fleet *f);
void fleet_get_stats(const struct fleet *f, struct fleet_stats *out);
/* Detaches everything. */
void fleet_free(struct fleet *f);

#endif
