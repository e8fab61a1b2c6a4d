/* SPDX-License-Identifier: GPL-2.0 */
/* A running process as /proc shows it: its mappings, its files, its argument and environment lists. */
#ifndef GILSTAT_PROCFS_H
#define GILSTAT_PROCFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "safeio.h"

/* One line of /proc/PID/maps that maps a file. */
struct proc_mapping {
	unsigned long start, end, offset;
	dev_t dev;
	ino_t ino;
	char perms[8];
	char name[PATH_MAX];
};

/*
 * The first file mapping of pid that fn accepts, in m. 1 if found, 0 if not, -errno if the maps
 * cannot be read.
 */
int proc_find_mapping(pid_t pid, bool (*fn)(const struct proc_mapping *m, void *ctx), void *ctx,
		      struct proc_mapping *m);

/*
 * Between these, the questions about pid's mappings are answered from one read of its maps: the
 * same answers at a fraction of the cost, when several are asked of a process at one moment.
 */
void proc_maps_hold(pid_t pid);
void proc_maps_release(void);

/* The first mapping of the file with inode ino (the start of the file when at_offset_0). */
int proc_find_inode(pid_t pid, ino_t ino, bool at_offset_0, struct proc_mapping *m);

/*
 * A path from here to the file a process maps as name with identity id: the name itself, the name
 * resolved inside the process's root (another mount namespace), or fallback
 * (/proc/PID/map_files/..., which reaches even a deleted file). Each is opened and checked.
 */
void proc_reachable_path(pid_t pid, const char *name, const struct safeio_id *id,
			 const char *fallback, char *out, size_t out_len);

/* /proc/PID/map_files/START-END of m: the mapped file itself, wherever its name leads. */
void proc_map_file(pid_t pid, const struct proc_mapping *m, char *out, size_t out_len);

/*
 * The NUL-separated list /proc/PID/WHAT (cmdline, environ) in buf, its entries in v (at most
 * max - 1, then NULL). Their number, or -errno.
 */
int proc_read_nul_list(pid_t pid, const char *what, char *buf, size_t buf_len, char **v, int max);

/* The whole text of /proc/PID/maps, malloc'd, its length in *len; NULL when it cannot be read. */
char *proc_read_maps(pid_t pid, size_t *len);

/* The comm of thread tid of process pid (tid = pid: the process's), or "?" when gone. */
void proc_read_comm(pid_t pid, pid_t tid, char *buf, size_t len);

#endif
