/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython (--python): uprobes on its own functions (take_gil/drop_gil or the thread state's), or on
 * libc's condition variables around its GIL.
 * Included by gilstat.bpf.c, after the GIL's state and its counting: one object, one skeleton.
 */
#ifndef GILSTAT_CPYTHON_BPF_H
#define GILSTAT_CPYTHON_BPF_H

/*
 * CPython (--python): uprobes on take_gil() and drop_gil(), or on PyEval_RestoreThread() and
 * PyEval_SaveThread() in stripped builds. Times come from the kernel's clock; the GIL is one per
 * process, keyed by its tgid. A thread is counted as waiting from take_gil()'s entry, whether or
 * not the GIL turns out to be free.
 */
SEC("uprobe")
int BPF_KPROBE(py_acquire_entry)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id;
	struct py_thread *pt, fresh = {};
	struct gil_stats *cs;

	cs = traced_cpu_stats(id);
	if (!cs)
		return 0;
	pt = lookup_or_init(&py_threads, &tid, &fresh, cs);
	if (!pt)
		return 0;
	pt->request_ns = now;
	on_wait_start(id >> 32, now);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(py_acquire_return)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, flags = GIL_ACQ_WAITED;
	__u64 gil = id >> 32, drop_requests = 0;
	struct py_thread *pt;
	struct gil_state *st;

	if (!wanted(id >> 32))
		return 0;
	pt = bpf_map_lookup_elem(&py_threads, &tid);
	if (!pt)
		return 0;
	st = find_gil(NULL, gil, false);
	if (st && st->holder_tid != tid) {
		flags |= GIL_ACQ_SWITCH;
		/*
		 * CPython raises drop requests inside take_gil() with no call to probe: only the
		 * honoured ones are seen. As libgil's are, each is counted with the acquisition of
		 * the waiter it let in (the holder waits for that switch), on that thread and CPU.
		 */
		if (st->last_release_requested) {
			flags |= GIL_ACQ_FORCED;
			drop_requests = 1;
		}
	}
	on_acquire(id, gil, pt->request_ns, now, flags, drop_requests, st);
	pt->request_ns = 0;
	pt->acquired_ns = now;
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(py_release)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u32 tid = (__u32)id, flags = 0;
	struct py_thread *pt;
	__u64 acquired_ns = 0;

	if (!wanted(id >> 32))
		return 0;
	pt = bpf_map_lookup_elem(&py_threads, &tid);
	if (pt) {
		acquired_ns = pt->acquired_ns;
		if (pt->forced)
			flags |= GIL_REL_REQUESTED;
		pt->acquired_ns = 0;
		pt->forced = 0;
	}
	on_release(id, id >> 32, acquired_ns, now, flags, NULL);
	return 0;
}

/* The eval loop honours a drop request: this thread's next release was asked for. */
SEC("uprobe")
int BPF_KPROBE(py_forced)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct py_thread *pt, fresh = { .forced = 1 };

	if (!wanted(id >> 32))
		return 0;
	/* A thread not seen yet (attached mid-way, -p) holds the GIL: its release is forced too. */
	pt = bpf_map_lookup_elem(&py_threads, &tid);
	if (pt)
		pt->forced = 1;
	else
		bpf_map_update_elem(&py_threads, &tid, &fresh, BPF_NOEXIST);
	return 0;
}

/*
 * CPython, condition-variable view (--python on stripped and LTO builds, where take_gil() and
 * drop_gil() have no symbol and are inlined into a dozen callers): uprobes on libc's
 * pthread_cond_signal(), pthread_cond_timedwait() and pthread_cond_init() in the target process,
 * kept only when the condition variable is a GIL's. Every take_gil() signals gil->switch_cond
 * right after it sets gil->locked, every drop_gil() signals gil->cond right after it clears it,
 * whichever copy of them runs: two hits per uncontended cycle, neither of them a return probe.
 * A waiter sleeps in pthread_cond_timedwait(&gil->cond, ...): its wait starts at the first one;
 * an acquisition that never slept waited no time worth measuring (the GIL's mutex only).
 */
static __always_inline struct py_thread *py_thread_of(__u32 tid)
{
	struct py_thread *pt = bpf_map_lookup_elem(&py_threads, &tid),
			 fresh = { .tgid = bpf_get_current_pid_tgid() >> 32 };

	if (pt)
		return pt;
	bpf_map_update_elem(&py_threads, &tid, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&py_threads, &tid);
}

/* Both condition variables of the GIL whose cond is at cond, in process tgid. */
static __always_inline void py_gil_add(__u32 tgid, __u64 cond)
{
	struct py_cond_key key = { .tgid = tgid, .addr = cond };
	struct py_cond val = { .gil = cond - targ_py_cond_offset, .role = PY_COND_GIL };
	struct gil_state *st = find_gil(NULL, val.gil, false);

	/* a GIL made again where a destroyed one was */
	if (st)
		st->cond_gone = 0;
	bpf_map_update_elem(&py_conds, &key, &val, BPF_ANY);
	bpf_map_delete_elem(&py_other_conds, &key);
	key.addr = cond + PY_SWITCH_COND_OFFSET;
	val.role = PY_COND_SWITCH;
	bpf_map_update_elem(&py_conds, &key, &val, BPF_ANY);
	bpf_map_delete_elem(&py_other_conds, &key);
}

static __always_inline bool py_is_monotonic_private(__u32 wrefs)
{
	return (wrefs & GLIBC_COND_WREFS_CLOCK) && !(wrefs & GLIBC_COND_WREFS_SHARED);
}

/* A cond of a GIL's, and the mutex after it, at addr? Either glibc's layout (gilstat.h). */
static __always_inline bool py_is_gil_cond_pair(__u64 addr)
{
	__u32 cond[10] = {}, kind = 1;

	if (bpf_probe_read_user(cond, sizeof(cond), (void *)addr) ||
	    bpf_probe_read_user(&kind, sizeof(kind),
				(void *)(addr + PY_GIL_MUTEX_AFTER_COND + GLIBC_MUTEX_KIND)))
		return false;
	return !kind && (py_is_monotonic_private(cond[GLIBC_COND_WREFS / 4]) ||
			 py_is_monotonic_private(cond[GLIBC_2_41_COND_WREFS / 4]));
}

/* Is there a GIL around a cond at addr, as gilstat.h describes one? */
static __always_inline bool py_is_gil_cond(__u64 addr)
{
	__u32 locked[2] = { 2, 1 };
	__u64 interval_us = 0;

	if (bpf_probe_read_user(&interval_us, sizeof(interval_us),
				(void *)(addr - PY_GIL_INTERVAL_BEFORE_COND)) ||
	    bpf_probe_read_user(locked, sizeof(locked), (void *)(addr - PY_GIL_LOCKED_BEFORE_COND)))
		return false;
	return interval_us && interval_us <= PY_GIL_MAX_INTERVAL_US && locked[0] <= 1 &&
	       !locked[1] && py_is_gil_cond_pair(addr) &&
	       py_is_gil_cond_pair(addr + PY_SWITCH_COND_OFFSET);
}

/*
 * The GIL role of the condition variable at addr in the calling process, or NULL. One the
 * collector did not find and py_cond_init() did not see created (a sub-interpreter's that
 * existed before -p attached) is tested once, as the cond or the switch_cond of a GIL.
 */
static __always_inline struct py_cond *py_cond_of(__u64 id, __u64 addr)
{
	struct py_cond_key key = { .tgid = id >> 32, .addr = addr };
	struct py_cond *c = bpf_map_lookup_elem(&py_conds, &key);
	__u8 tested = 1;

	if (c || bpf_map_lookup_elem(&py_other_conds, &key))
		return c;
	if (py_is_gil_cond(addr))
		py_gil_add(key.tgid, addr);
	else if (py_is_gil_cond(addr - PY_SWITCH_COND_OFFSET))
		py_gil_add(key.tgid, addr - PY_SWITCH_COND_OFFSET);
	else
		bpf_map_update_elem(&py_other_conds, &key, &tested, BPF_ANY);
	return bpf_map_lookup_elem(&py_conds, &key);
}

/*
 * The GIL whose cond (a release signals it) or switch_cond (an acquisition does) is at addr, from
 * the GILs' own table: the path every cycle takes looks nothing up in a hash map. NULL for a
 * cond that is not a known GIL's yet.
 */
static __always_inline struct gil_state *py_gil_of_cond(__u64 addr, bool *acquisition)
{
	struct gil_state *st = find_gil(NULL, addr - targ_py_cond_offset, false);

	if (st && !st->cond_gone) {
		*acquisition = false;
		return st;
	}
	st = find_gil(NULL, addr - targ_py_cond_offset - PY_SWITCH_COND_OFFSET, false);
	if (st && !st->cond_gone) {
		*acquisition = true;
		return st;
	}
	return NULL;
}

static __always_inline void py_cond_acquired(void *ctx, __u64 id, __u64 gil, __u64 now,
					     struct gil_state *st)
{
	__u32 tid = (__u32)id, flags = 0;
	struct gil_stats *cs = this_cpu_stats();
	struct py_thread *pt = NULL;
	__u64 request_ns = now;

	if (!cs)
		return;
	if (!st)
		st = find_gil(cs, gil, true);
	/*
	 * Only a thread that slept in pthread_cond_timedwait() waited, and it counts itself in
	 * nr_waiting until now: with nobody waiting this one did not, and its entry is not read.
	 */
	if (!st || st->nr_waiting > 0)
		pt = bpf_map_lookup_elem(&py_threads, &tid);
	if (pt && pt->request_ns) {
		request_ns = pt->request_ns;
		flags |= GIL_ACQ_WAITED;
		pt->request_ns = 0;
	}
	if (st && st->holder_tid != tid) {
		flags |= GIL_ACQ_SWITCH;
		if (st->last_release_requested)
			flags |= GIL_ACQ_FORCED;
	}
	/* drop requests are counted as they are made, in py_cond_wait_return() */
	on_acquire(id, gil, request_ns, now, flags, 0, st);
	if (st) {
		if (flags & GIL_ACQ_SWITCH)
			st->switch_count++;
		/* take_gil() resets a pending drop request once it holds the GIL */
		st->drop_requested = 0;
		st->acquired_ns = now;
	}
	/* take_gil() has set gil->last_holder to this thread's state before the signal */
	if (targ_stacks)
		stacks_on_acquire(ctx, st, gil, request_ns, now, flags, true);
}

static __always_inline void py_cond_released(void *ctx, __u64 id, __u64 gil, __u64 now,
					     struct gil_state *st)
{
	__u64 acquired_ns = 0;
	__u32 flags;

	if (!st)
		st = find_gil(NULL, gil, false);
	/* the hold's start, if this thread's acquisition was seen */
	if (st && st->holder_tid == (__u32)id) {
		acquired_ns = st->acquired_ns;
		st->acquired_ns = 0;
	}
	flags = st && st->drop_requested ? GIL_REL_REQUESTED : 0;
	st = on_release(id, gil, acquired_ns, now, flags, st);
	/* drop_gil() leaves gil->last_holder at the releaser's thread state */
	if (targ_stacks)
		stacks_on_release(ctx, st, gil, now, acquired_ns, true);
}

SEC("uprobe")
int BPF_KPROBE(py_cond_signal, void *cond)
{
	__u64 id = bpf_get_current_pid_tgid(), gil;
	struct gil_state *st;
	bool acquisition;
	struct py_cond *c;

	if (!wanted(id >> 32))
		return 0;
	st = py_gil_of_cond((__u64)cond, &acquisition);
	if (st) {
		gil = st->gil;
	} else {
		/* a GIL's cond seen for the first time, or another cond */
		c = py_cond_of(id, (__u64)cond);
		if (!c)
			return 0;
		gil = c->gil;
		acquisition = c->role == PY_COND_SWITCH;
	}
	if (acquisition)
		py_cond_acquired(ctx, id, gil, bpf_ktime_get_ns(), st);
	else
		py_cond_released(ctx, id, gil, bpf_ktime_get_ns(), st);
	return 0;
}

/* take_gil() found the GIL held and sleeps, at most one interval, until a release signals it. */
SEC("uprobe")
int BPF_KPROBE(py_cond_wait, void *cond)
{
	__u64 id = bpf_get_current_pid_tgid(), now;
	struct gil_stats *cs;
	struct py_thread *pt;
	struct gil_state *st;
	struct py_cond *c;

	if (!wanted(id >> 32))
		return 0;
	c = py_cond_of(id, (__u64)cond);
	if (!c || c->role != PY_COND_GIL)
		return 0;
	pt = py_thread_of((__u32)id);
	cs = this_cpu_stats();
	if (!pt || !cs)
		return 0;
	st = find_gil(cs, c->gil, true);
	if (!st)
		return 0;
	/* a wait that is not counted must not leave a start for the acquisition to find */
	if (!pt->request_ns) {
		now = bpf_ktime_get_ns();
		if (on_wait_start(c->gil, now))
			pt->request_ns = now;
	}
	pt->wait_gil = c->gil;
	pt->wait_switch_count = st->switch_count;
	return 0;
}

/*
 * The wait's end. take_gil() sets the drop request when the wait timed out, the GIL is still
 * locked and switch_number has not moved: the same test, on the same state, here.
 */
SEC("uretprobe")
int BPF_KRETPROBE(py_cond_wait_return, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct py_thread *pt = bpf_map_lookup_elem(&py_threads, &(__u32){ (__u32)id });
	struct gil_stats *cs, *ks;
	struct gil_state *st;
	__s32 locked = 0;
	__u64 gil;

	if (!pt || !pt->wait_gil)
		return 0;
	gil = pt->wait_gil;
	pt->wait_gil = 0;
	if (ret != ETIMEDOUT)
		return 0;
	st = find_gil(NULL, gil, false);
	if (!st || st->switch_count != pt->wait_switch_count)
		return 0;
	/* gil->locked, PY_GIL_LOCKED_BEFORE_COND bytes before gil->cond in every layout */
	if (bpf_probe_read_user(&locked, sizeof(locked), (void *)(gil + targ_py_cond_offset - PY_GIL_LOCKED_BEFORE_COND)) ||
	    locked != 1)
		return 0;
	st->drop_requested = 1;
	cs = this_cpu_stats();
	if (!cs)
		return 0;
	COUNT(cs, drop_requests, 1);
	ks = key_entry(cs, gil, id);
	if (ks)
		COUNT(ks, drop_requests, 1);
	return 0;
}

/*
 * create_gil() initialises gil->cond and then gil->switch_cond, 88 bytes further, in two
 * consecutive calls; _gil_initialize() has just set gil->locked to -1 and gil->interval. That
 * pair, with those values, is a new GIL: a sub-interpreter's own (PEP 684), or the main one of
 * a command started under gilstat.
 */
SEC("uprobe")
int BPF_KPROBE(py_cond_init, void *cond)
{
	__u64 id = bpf_get_current_pid_tgid(), addr = (__u64)cond, gil;
	struct py_thread *pt;
	__s32 locked = 0;
	__u64 interval_us = 0;

	if (!wanted(id >> 32))
		return 0;
	pt = py_thread_of((__u32)id);
	if (!pt)
		return 0;
	if (!pt->init_cond || addr != pt->init_cond + PY_SWITCH_COND_OFFSET) {
		pt->init_cond = addr;
		return 0;
	}
	gil = pt->init_cond - targ_py_cond_offset;
	pt->init_cond = 0;
	if (bpf_probe_read_user(&locked, sizeof(locked), (void *)(gil + targ_py_cond_offset - PY_GIL_LOCKED_BEFORE_COND)) ||
	    bpf_probe_read_user(&interval_us, sizeof(interval_us),
				(void *)(gil + targ_py_cond_offset - PY_GIL_INTERVAL_BEFORE_COND)) ||
	    locked != -1 || !interval_us)
		return 0;
	py_gil_add(id >> 32, gil + targ_py_cond_offset);
	return 0;
}

/* destroy_gil() (a sub-interpreter's end): its memory may hold other condition variables next. */
SEC("uprobe")
int BPF_KPROBE(py_cond_destroy, void *cond)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct py_cond_key key = { .tgid = id >> 32, .addr = (__u64)cond };
	struct gil_state *st;
	struct py_cond *c;

	if (!wanted(id >> 32))
		return 0;
	c = bpf_map_lookup_elem(&py_conds, &key);
	/* the GIL's table no longer takes its conds for a GIL's (py_gil_of_cond()) */
	if (c && c->role == PY_COND_GIL) {
		st = find_gil(NULL, c->gil, false);
		if (st)
			st->cond_gone = 1;
	}
	bpf_map_delete_elem(&py_conds, &key);
	return 0;
}

#endif
