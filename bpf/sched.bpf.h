/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The scheduler's raw tracepoints: sched delay of GIL waiters, the fork and exec events, and the
 * ends of threads.
 * Included by gilstat.bpf.c, after the GIL's state and its counting: one object, one skeleton.
 */
#ifndef GILSTAT_SCHED_BPF_H
#define GILSTAT_SCHED_BPF_H

/* The waiter entry of a task that is waiting for a GIL now, if it is one of the target's. */
static __always_inline struct waiter *waiting_task(void *task)
{
	__u64 key = (__u64)task;
	struct waiter *w = bpf_map_lookup_elem(&waiters, &key);

	return w && w->waiting ? w : NULL;
}

/*
 * With targ_fleet, the waiter's process's breakdown entry: the scheduler's programs run in some
 * other task's context, so the waiter says whose it is.
 */
static __always_inline struct gil_stats *fleet_key_entry(struct gil_stats *cs, struct waiter *w)
{
	return targ_fleet ? key_entry(cs, w->gil, w->id) : NULL;
}

/* A thread blocked in a GIL wait was woken: the scheduler's part starts now. */
SEC("raw_tp/sched_wakeup")
int BPF_PROG(gil_sched_wakeup, void *p)
{
	struct waiter *w;

	if (!nr_waiters)
		return 0;
	w = waiting_task(p);
	if (w)
		w->wakeup_ns = bpf_ktime_get_ns();
	return 0;
}

/* prev is the task that ran until now, next the one that runs from now on. */
SEC("raw_tp/sched_switch")
int BPF_PROG(gil_sched_switch, bool preempt, void *prev, void *next)
{
	struct gil_stats *cs = NULL, *ks;
	struct waiter *w;
	__u64 delay_ns;

	if (!nr_waiters)
		return 0;
	w = waiting_task(prev);
	if (w && (cs = this_cpu_stats())) {
		COUNT(cs, waiter_switches, 1);
		ks = fleet_key_entry(cs, w);
		if (ks)
			COUNT(ks, waiter_switches, 1);
	}
	w = waiting_task(next);
	if (w && w->wakeup_ns && (cs || (cs = this_cpu_stats()))) {
		delay_ns = bpf_ktime_get_ns() - w->wakeup_ns;
		hist_record(&cs->hists[HIST_SCHED_DELAY], delay_ns);
		ks = fleet_key_entry(cs, w);
		if (ks)
			hist_record(&ks->hists[HIST_SCHED_DELAY], delay_ns);
		w->wakeup_ns = 0;
	}
	return 0;
}

/* Processes the target forked: they are not traced (targ_tgid), and the report says so. */
__u64 target_forks = 0;

/*
 * -a: the processes that exec, and the traced ones that fork (a gunicorn master, a
 * multiprocessing pool), for the collector to look at (a CPython, a libgil program?) and attach
 * to. A ring buffer wakes the collector; both are rare events.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} execs SEC(".maps");

/* -a: the processes traced, kept by the collector: only their forks are told */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_FLEET_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} fleet_tgids SEC(".maps");

/*
 * Runs in the parent; a new thread shares its tgid and is no child process. The child's pid is
 * in the task, which cannot be read without the kernel's BTF: the collector finds the children.
 */
SEC("raw_tp/task_newtask")
int BPF_PROG(gil_fork, void *task, __u64 clone_flags)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fleet_event e = { .pid = tgid, .kind = FLEET_FORKED };

	if (clone_flags & CLONE_THREAD)
		return 0;
	if (targ_fleet) {
		if (bpf_map_lookup_elem(&fleet_tgids, &tgid))
			bpf_ringbuf_output(&execs, &e, sizeof(e), 0);
		return 0;
	}
	if (targ_tgid && tgid == targ_tgid)
		__sync_fetch_and_add(&target_forks, 1);
	return 0;
}

/*
 * A thread's end, any thread's, in its own context. A traced thread's entries go now, so that a
 * process that starts threads by the thousand never fills the LRU maps, which then evict what
 * they choose: a live thread's entry, whose next release would have no start. The LRU stays for
 * the ends not seen (threads that ended before the attach).
 */
SEC("raw_tp/sched_process_exit")
int BPF_PROG(gil_thread_exit)
{
	__u64 id = bpf_get_current_pid_tgid(), task = bpf_get_current_task();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct gil_state *st;
	struct waiter *w;

	if (!wanted(tgid) || (targ_fleet && !bpf_map_lookup_elem(&fleet_tgids, &tgid)))
		return 0;
	bpf_map_delete_elem(&py_threads, &tid);
	w = bpf_map_lookup_elem(&waiters, &task);
	if (!w)
		return 0;
	/* a wait whose acquisition was never seen: the GIL's count of waiters lets it go */
	if (w->waiting) {
		__sync_fetch_and_add(&nr_waiters, -1);
		st = find_gil(NULL, w->gil, false);
		if (st)
			__sync_fetch_and_add(&st->nr_waiting, -1);
	}
	bpf_map_delete_elem(&waiters, &task);
	return 0;
}

/* Runs in the task that has just exec'd: the current tgid is the new program's. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(gil_exec)
{
	struct fleet_event e = { .pid = bpf_get_current_pid_tgid() >> 32, .kind = FLEET_EXECED };

	bpf_ringbuf_output(&execs, &e, sizeof(e), 0);
	return 0;
}

#endif
