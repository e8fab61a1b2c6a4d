/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --stacks: the holders' and waiters' stacks, native and Python, and the waits charged to them.
 * Included by gilstat.bpf.c, after the GIL's state and its counting: one object, one skeleton.
 */
#ifndef GILSTAT_STACKS_BPF_H
#define GILSTAT_STACKS_BPF_H

/*
 * --stacks. The user stacks of releases and of the acquisitions that ended a long wait, read
 * only while the GIL has had a waiter for half the threshold (a wait under it costs nothing),
 * and the waits charged to them, by holder and waiter.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	/* the depth limit plus one frame, which tells a truncated stack: set by the collector */
	__uint(value_size, (STACK_MAX_DEPTH + 1) * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct stack_key);
	__type(value, struct stack_stats);
} stack_waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct py_stack);
} py_stacks SEC(".maps");

/* A Python stack is too large for the BPF stack: it is built here. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct py_stack);
} py_stack_scratch SEC(".maps");

static const struct stack_stats zero_stack_stats;

/* Python frames that could not be read (a pointer into freed memory): counted, never fatal. */
__u64 py_frame_read_errors = 0;
/* Stacks not recorded: a full map, or bpf_get_stackid() failed */
__u64 stack_errors = 0;

/*
 * The Python stack of the thread state tstate, innermost first, into py_stacks; its key, or 0
 * when there is none. A chain is read as it is: a frame freed under the reader ends it, flagged.
 */
static __always_inline __u64 py_stack_record(__u64 tstate)
{
	__u64 frame = 0, hash = 0xcbf29ce484222325ull;
	struct py_stack *ps;
	__u32 zero = 0, depth = 0;

	if (!targ_py.tstate_frame || !tstate)
		return 0;
	ps = bpf_map_lookup_elem(&py_stack_scratch, &zero);
	if (!ps)
		return 0;
	ps->flags = 0;
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)(tstate + targ_py.tstate_frame)))
		goto failed;
	if (targ_py.cframe_current >= 0 && frame &&
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)(frame + targ_py.cframe_current)))
		goto failed;
	for (int i = 0; i < PY_MAX_FRAMES; i++) {
		__u64 code = 0;

		if (!frame)
			break;
		if (i >= targ_py_depth) {
			ps->flags |= PY_STACK_TRUNCATED;
			break;
		}
		if (bpf_probe_read_user(&code, sizeof(code), (void *)(frame + targ_py.frame_code)) ||
		    bpf_probe_read_user(&frame, sizeof(frame), (void *)(frame + targ_py.frame_back))) {
			ps->flags |= PY_STACK_READ_FAILED;
			break;
		}
		ps->code[i] = code;
		depth = i + 1;
	}
	goto done;
failed:
	ps->flags |= PY_STACK_READ_FAILED;
done:
	if (ps->flags & PY_STACK_READ_FAILED)
		__sync_fetch_and_add(&py_frame_read_errors, 1);
	ps->depth = depth;
	for (int i = 0; i < PY_MAX_FRAMES; i++) {
		if (i >= depth)
			ps->code[i] = 0;
		hash = (hash ^ ps->code[i]) * 0x100000001b3ull;
	}
	hash = (hash ^ ps->flags) * 0x100000001b3ull;
	hash |= 1; /* never 0, which means none */
	bpf_map_update_elem(&py_stacks, &hash, ps, BPF_NOEXIST);
	return hash;
}

static __always_inline __s32 native_stack(void *ctx)
{
	long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

	if (id < 0)
		__sync_fetch_and_add(&stack_errors, 1);
	return id;
}

/* CPython: the PyThreadState that holds, or just released, the GIL at gil (gil->last_holder). */
static __always_inline __u64 py_last_holder(__u64 gil)
{
	__u64 tstate = 0;

	if (!targ_py.tstate_frame ||
	    bpf_probe_read_user(&tstate, sizeof(tstate), (void *)(gil + targ_py.gil_last_holder)))
		return 0;
	return tstate;
}

/*
 * At a release: the releaser's stacks into its GIL's state, when a waiter has waited half the
 * threshold already; a wait that reaches it later was mostly the handoff, and the report says so.
 * python: a CPython's GIL, whose last_holder is the releaser's PyThreadState; read only here, on
 * the slow path, as every uncontended release would pay for it.
 */
static __always_inline void stacks_on_release(void *ctx, struct gil_state *st, __u64 gil,
					      __u64 released_ns, __u64 acquired_ns, bool python)
{
	if (!st)
		return;
	st->release_hold_ns = acquired_ns && released_ns > acquired_ns ? released_ns - acquired_ns
								       : 0;
	if (st->nr_waiting <= 0 || released_ns < st->contended_since_ns + targ_min_wait_ns / 2) {
		st->release_stack = STACK_NOT_RECORDED;
		st->release_py = 0;
		return;
	}
	st->release_stack = native_stack(ctx);
	st->release_py = python ? py_stack_record(py_last_holder(gil)) : 0;
	record_comm(bpf_get_current_pid_tgid());
}

/* At an acquisition that ended a wait of at least the threshold: charge it. */
static __always_inline void stacks_on_acquire(void *ctx, struct gil_state *st, __u64 gil,
					      __u64 request_ns, __u64 acquired_ns, __u32 flags,
					      bool python)
{
	__u64 id = bpf_get_current_pid_tgid(), wait_ns = acquired_ns - request_ns;
	struct stack_key key = {};
	struct stack_stats *ss;

	if (!st || !(flags & GIL_ACQ_WAITED) || !request_ns || acquired_ns < request_ns ||
	    wait_ns < targ_min_wait_ns)
		return;
	key.tgid = id >> 32;
	key.waiter_tid = (__u32)id;
	if (st->last_release_ns) {
		key.holder_tid = st->last_release_tid;
		key.holder_stack = st->release_stack;
		key.holder_py = st->release_py;
	} else {
		key.holder_stack = STACK_NO_RELEASE;
	}
	key.waiter_stack = native_stack(ctx);
	key.waiter_py = python ? py_stack_record(py_last_holder(gil)) : 0;
	if (targ_timeline)
		st->hold_py = key.waiter_py;
	record_comm(id);
	ss = bpf_map_lookup_elem(&stack_waits, &key);
	if (!ss) {
		bpf_map_update_elem(&stack_waits, &key, &zero_stack_stats, BPF_NOEXIST);
		ss = bpf_map_lookup_elem(&stack_waits, &key);
		if (!ss) {
			__sync_fetch_and_add(&stack_errors, 1);
			return;
		}
	}
	hist_record(&ss->wait, wait_ns);
	if (st->last_release_ns) {
		__sync_fetch_and_add(&ss->hold_ns, st->release_hold_ns);
		if (st->last_release_requested)
			__sync_fetch_and_add(&ss->forced, 1);
	}
}

#endif
