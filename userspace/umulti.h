/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uprobe_multi links (Linux 6.6), made through bpf() itself: libbpf 1.1 has no call for them.
 *
 * The uprobe libbpf 1.1 makes is a perf event, and closing one waits for an RCU grace period
 * under the kernel's event_mutex (75-150 ms each here, kernel 6.18): the links of a target are
 * then taken down one after another, and every attach on the host waits behind every detach. A
 * uprobe_multi link holds all the sites of one program in one file, and its close waits for one
 * grace period under no lock, so that links closed from threads of their own wait together
 * (reaper.c).
 */
#ifndef GILSTAT_UMULTI_H
#define GILSTAT_UMULTI_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>

/* BPF_TRACE_UPROBE_MULTI: a program attached so is loaded with this expected attach type. */
#define ATTACH_UPROBE_MULTI 48

/* Whether this kernel makes uprobe_multi links; asked once. */
bool umulti_supported(void);

/*
 * The program prog_fd at cnt offsets of path, in process pid only (0: in every process), on
 * return from them if retprobe; ref_ctr_offsets, if given, the USDT semaphore of each offset
 * (0: none), which the kernel counts up while the link stays. The link's descriptor, or -errno.
 */
int umulti_attach(int prog_fd, pid_t pid, const char *path, const __u64 *offsets,
		  const __u64 *ref_ctr_offsets, int cnt, bool retprobe);

#endif
