/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilstat as a Prometheus exporter: /metrics served with libmicrohttpd and a textfile for
 * node_exporter, both rendered from the BPF maps at the moment they are asked for. The counters are
 * cumulative since gilstat started; the series of a process that has ended are dropped after a
 * grace period, and a cap on series folds the breakdown entries beyond it into one.
 */
#ifndef GILSTAT_EXPORTER_H
#define GILSTAT_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>
#include "prometheus.h"

#define EXPORTER_DEFAULT_ADDR	      "127.0.0.1"
#define EXPORTER_DEFAULT_GRACE_SEC    60
#define EXPORTER_DEFAULT_MAX_SERIES   1000
#define EXPORTER_DEFAULT_TEXTFILE_SEC 15

/* --by: what the processes of -a are grouped by, one series per group instead of per process. */
enum exporter_by {
	EXPORTER_BY_PROCESS,
	EXPORTER_BY_EXE,
	EXPORTER_BY_CGROUP,
	EXPORTER_BY_CONTAINER,
};

/* The label each group's series carries, by enum exporter_by. */
extern const char *const exporter_by_labels[];

struct exporter_opts {
	int cpu_fd;	/* the per-CPU totals */
	int key_fd;	/* the breakdown, by tgid and GIL; < 0 for none */
	int nr_cpus;
	__u64 unit_ns;	/* the histograms' unit */
	__u64 grace_ns; /* how long the series of an ended process stay */
	size_t max_series;
	bool verbose;
	const char *version; /* gilstat_build_info's */
	/*
	 * -a: every process's figures are its breakdown entries (key_fd, by tgid, and GIL with
	 * split_gil), not the per-CPU totals of the one target.
	 */
	bool per_process;
	bool split_gil;
	/* with per_process: one series per group, whose ended processes stay counted in it */
	enum exporter_by by;
};

struct exporter;

/*
 * A listening TCP socket for "[ADDR:]PORT" (ADDR an IPv4 address, [IPv6] or a host name;
 * 127.0.0.1 when left out). 0 with the socket in fd; otherwise a negative errno and one lowercase
 * line in err: -EINVAL for a malformed spec.
 */
int exporter_listen(const char *spec, int *fd, char *err, size_t err_len);

/*
 * The container of a process, from the text of its /proc/PID/cgroup: the last 64-hex-digit ID in
 * the cgroup paths (docker-ID.scope, cri-containerd-ID.scope, /docker/ID, /kubepods/.../ID).
 * false, out empty, when there is none.
 */
bool exporter_container_id(const char *cgroup_text, char *out, size_t out_len);
/* The cgroup v2 path ("0::PATH") in the text of a /proc/PID/cgroup; false, out empty, if none. */
bool exporter_cgroup_path(const char *cgroup_text, char *out, size_t out_len);

struct exporter *exporter_new(const struct exporter_opts *opts);
/* Serves / and /metrics on listen_fd (which it then owns) from a thread of its own. */
int exporter_serve(struct exporter *ex, int listen_fd, char *err, size_t err_len);
/*
 * A traced process; python is its version ("3.12"), or NULL for none or unknown. Its labels also
 * name its executable, cgroup and container, read from /proc now. An ended process of the same
 * PID (reused, or a new program) loses its series at once.
 */
int exporter_add_target(struct exporter *ex, pid_t pid, const char *comm, const char *python);
void exporter_target_ended(struct exporter *ex, pid_t pid);
/* Drops the series of processes whose grace period is over; the number of targets left. */
size_t exporter_expire(struct exporter *ex);
int exporter_write(struct exporter *ex, FILE *f, enum prom_format fmt);
/* DIR/gilstat.prom, replaced whole: a temporary file in DIR, then rename(). */
int exporter_write_textfile(struct exporter *ex, const char *dir);
void exporter_free(struct exporter *ex);

#endif
