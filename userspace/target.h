/* SPDX-License-Identifier: GPL-2.0 */
/* The process gilstat observes: where its gil:* probes live, and starting a command under watch. */
#ifndef GILSTAT_TARGET_H
#define GILSTAT_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/* 1 if the ELF file at path carries gil:* USDT notes, 0 if not, -errno if it cannot be read. */
int target_has_gil_probes(const char *path);
/* Whether every gil probe of path has argument N in call register N (gil_usdt.h). */
bool target_gil_args_in_regs(const char *path);
/*
 * The file offsets of the sites of probe gil:name in path, into offsets (at most max), and of
 * their semaphores (0: none) into sema_offsets: how many,
 * or -EOPNOTSUPP when some gil probe of path has its arguments elsewhere than in the call
 * registers (only bpf_usdt_arg() reads those), or another -errno.
 */
int target_gil_sites(const char *path, const char *name, __u64 *offsets, __u64 *sema_offsets,
		     int max);

/*
 * The file holding the gil:* probes for a running process (its executable or a library in
 * /proc/PID/maps), or for an executable about to be run (itself, or a library its loader would map).
 * 0 on success; otherwise a negative errno and one line in err.
 */
int target_find_probes_in_pid(pid_t pid, char *path, size_t path_len, char *err, size_t err_len);
int target_find_probes_in_exe(const char *exe, char *path, size_t path_len, char *err, size_t err_len);

/*
 * Forks a child that waits until child_start() before it execs argv, so that probes can be
 * attached to its PID first and no event is missed.
 */
struct child {
	pid_t pid;
	int go_fd;    /* written to start the child */
	int error_fd; /* reads the exec errno when exec fails; EOF when it succeeded */
};
int child_fork(struct child *c, char *const argv[]);
/* 0 once the command runs, or the -errno its exec failed with. */
int child_start(struct child *c);

#endif
