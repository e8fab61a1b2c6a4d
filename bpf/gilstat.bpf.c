// SPDX-License-Identifier: GPL-2.0
/*
 * gilstat's kernel side: the gil:* USDT probes of libgil and the scheduler's tracepoints, aggregated
 * in maps. Nothing goes to user space per event, so nothing is lost at any event rate; the
 * collector reads the maps when it reports.
 *
 * No kernel structure is read: the scheduler programs are raw tracepoints that compare task
 * pointers with the ones the USDT programs saw as current, so the object has no CO-RE relocation
 * and no tp_btf program, and libbpf never loads the kernel's BTF. Loading it would cost the
 * collector 11 ms and 12 MB, most of its start-up time and memory.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "gilstat.h"
#include "gil_usdt.h"

/* Set by the collector before load. */
/* --stacks: off, nothing below reads a stack */
const volatile bool targ_stacks = false;
const volatile __u64 targ_min_wait_ns = 1000000;
const volatile __u32 targ_py_depth = 32; /* at most PY_MAX_FRAMES */
const volatile struct py_frame_offsets targ_py = {};
/* -L, -P, --stacks: record the names of the threads that release a GIL (comms) */
const volatile bool targ_comms = false;
/* CPython (--python, condition-variable view): offsetof(struct _gil_runtime_state, cond) */
const volatile __u64 targ_py_cond_offset = 32;
const volatile __u32 targ_tgid = 0;	  /* 0: every process that has the probes attached */
const volatile __u64 targ_unit_ns = 1000; /* histogram unit: 1000 for us, 1000000 for ms */
const volatile __u32 targ_group = 0;	  /* GROUP_* breakdown into key_stats */
/* The probes' notes put argument N in call register N (GIL_USDT_ARGS_IN_REGS): read it there. */
const volatile bool targ_args_in_regs = false;
/*
 * -a: every process is traced at once, so a GIL is known by its process and address (two
 * processes of one non-PIE build have their GIL at one address), the figures that are counted
 * per CPU only go to the process's breakdown entry too, and exec events go to the collector.
 */
const volatile bool targ_fleet = false;

/* What one GIL looked like at its latest event; only its holder writes most of it. */
struct gil_state {
	__u64 gil; /* the GIL's address, or the tgid of a CPython process; 0: a free slot */
	__u64 last_release_ns;
	__u32 last_release_tid;
	__u32 release_cpu;
	__u64 contended_since_ns;
	__s64 nr_waiting;
	/* For CPython, whose GIL does not say who held it or why it was released. */
	__u32 holder_tid;
	__u32 last_release_requested;
	/* CPython's switch_number and drop request, as the condition-variable view follows them */
	__u64 switch_count;
	__u32 drop_requested;
	/* --stacks: the latest release's stacks (STACK_* when not recorded) and its hold */
	__s32 release_stack;
	__u64 release_py;
	__u64 release_hold_ns;
	__u32 tgid; /* with targ_fleet: the process the GIL belongs to */
	__u32 held; /* taken and not yet released, as far as the probes saw */
};

/*
 * GILs held right now, and the acquisitions that took one while another was held: held time
 * over wall time is one GIL's utilisation only while no two GILs are held at once.
 */
__s64 gils_held = 0;
__u64 gil_overlaps = 0;

/* A CPython thread's pending times: its take_gil() entry, its acquisition. */
struct py_thread {
	__u64 request_ns;
	__u64 acquired_ns;
	__u32 forced;
	__u32 tgid; /* so that the collector can drop the threads of an ended process */
	/* condition-variable view: a timed wait on a GIL's cond in progress, and what it saw */
	__u64 wait_gil;
	__u64 wait_switch_count;
	/* the thread's latest pthread_cond_init(), the first half of a create_gil() */
	__u64 init_cond;
};

/* A thread that has waited for a GIL; waiting while it does. */
struct waiter {
	__u64 wakeup_ns;
	__u32 waiting;
	/* the thread's pid_tgid and the GIL it waits for: its breakdown entry, with targ_fleet */
	__u64 id;
	__u64 gil;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gil_stats);
} cpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_KEYS);
	__type(key, struct gil_key);
	__type(value, struct gil_stats);
} key_stats SEC(".maps");

/*
 * The GILs, open-addressed by a hash of their address: an array lookup is a few inlined
 * instructions where a hash map's costs a call and a jhash, and every acquisition and release
 * looks its GIL up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_GILS);
	__type(key, __u32);
	__type(value, struct gil_state);
} gils SEC(".maps");

/*
 * The target's threads that have waited for a GIL, by task_struct address, for the scheduler
 * programs. An entry stays when its wait ends and is reused by the next one: a lookup costs a
 * fraction of an insert and a delete. Nothing tells a thread's end, so it is LRU.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WAITERS);
	__type(key, __u64);
	__type(value, struct waiter);
} waiters SEC(".maps");

/* Threads waiting right now: while there are none the scheduler programs look nothing up. */
__s64 nr_waiters = 0;

/*
 * Nothing tells the end of a CPython thread, so entries stay after it: LRU, or a process that
 * has started MAX_WAITERS threads in its life would have the acquisitions of any newer one lost.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WAITERS);
	__type(key, __u32);
	__type(value, struct py_thread);
} py_threads SEC(".maps");

/*
 * The condition variables of CPython's GILs, by process and address (PY_COND_*): the collector
 * adds the ones that exist when it attaches, py_cond_init() the ones created later.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PY_CONDS);
	__type(key, struct py_cond_key);
	__type(value, struct py_cond);
} py_conds SEC(".maps");

/* Condition variables of the target that were tested and are no GIL's: tested once each. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_PY_CONDS);
	__type(key, struct py_cond_key);
	__type(value, __u8);
} py_other_conds SEC(".maps");

/*
 * Thread names (comm) by pid_tgid, for -L, -P and --stacks: recorded here because a thread that
 * ended before the report has no /proc entry left to read it from. Rewritten at each release, as
 * a thread renames itself after its first ones (CPython 3.14's threading.Thread.name); LRU, as
 * nothing tells a thread's end.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_WAITERS);
	__type(key, __u64);
	__type(value, struct task_comm);
} comms SEC(".maps");

/* Too large for the BPF stack: the initial value of a new key_stats entry. */
static const struct gil_stats zero_stats;

static __always_inline __u32 log2_u32(__u32 v)
{
	__u32 r, shift;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

/*
 * Every count is an atomic add, in the per-CPU entries too: a uprobe program runs with migration
 * disabled but may be preempted, so on a preemptible kernel two threads' programs can interleave
 * on one CPU's entry, and a plain increment would lose one of them. Uncontended, the atomics cost
 * nothing measurable here (gil_acquire: 110 ns per run either way).
 */
#define COUNT(s, field, n) __sync_fetch_and_add(&(s)->c.field, (n))

/* One sample into a histogram: its slot of the report's unit, its count, total and maximum. */
static __always_inline void hist_record(struct hist *h, __u64 delta_ns)
{
	__u32 slot = log2_u64(delta_ns / targ_unit_ns);

	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->total_ns, delta_ns);
	/* A racing larger max may be lost between writers; counts never are. */
	if (delta_ns > h->max_ns)
		h->max_ns = delta_ns;
}

static __always_inline bool wanted(__u32 tgid)
{
	return !targ_tgid || tgid == targ_tgid;
}

static __always_inline struct gil_stats *this_cpu_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_stats, &zero);
}

/* This CPU's stats for an event of the thread id, or NULL when its process is not traced. */
static __always_inline struct gil_stats *traced_cpu_stats(__u64 id)
{
	return wanted(id >> 32) ? this_cpu_stats() : NULL;
}

/* A hash map's entry for key, created from init if missing; NULL, counted, when the map is full. */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init,
					    struct gil_stats *cs)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		COUNT(cs, map_full, 1);
	return v;
}

/* The breakdown entry for this event, or NULL when no breakdown was asked for or the map is full. */
static __always_inline struct gil_stats *key_entry(struct gil_stats *cs, __u64 gil, __u64 id)
{
	struct gil_key key = {};

	if (!targ_group)
		return NULL;
	if (targ_group & GROUP_GIL)
		key.gil = gil;
	if (targ_group & (GROUP_PROCESS | GROUP_THREAD))
		key.tgid = id >> 32;
	if (targ_group & GROUP_THREAD)
		key.tid = (__u32)id;
	return lookup_or_init(&key_stats, &key, &zero_stats, cs);
}

/* Slots tried from a GIL's home slot before the table counts as full. */
#define GIL_SLOTS_TRIED 8

/* The state of a GIL; with create, a free slot is claimed for it. NULL, counted, when full. */
static __always_inline struct gil_state *find_gil(struct gil_stats *cs, __u64 gil, bool create)
{
	__u32 tgid = targ_fleet ? bpf_get_current_pid_tgid() >> 32 : 0;
	/* Fibonacci hashing: the top bits of the product mix every bit of the address. */
	__u32 home = ((gil ^ ((__u64)tgid << 32)) * 0x9E3779B97F4A7C15ull) >> (64 - MAX_GILS_SHIFT);

	for (__u32 i = 0; i < GIL_SLOTS_TRIED; i++) {
		__u32 slot = (home + i) & (MAX_GILS - 1);
		struct gil_state *st = bpf_map_lookup_elem(&gils, &slot);

		if (!st)
			return NULL;
		if (st->gil == gil && st->tgid == tgid)
			return st;
		if (st->gil)
			continue;
		if (!create)
			return NULL;
		/* Two first events of one GIL may race for the slot: the loser finds it taken. */
		if (__sync_val_compare_and_swap(&st->gil, 0, gil) == 0) {
			st->tgid = tgid;
			return st;
		}
		if (st->gil == gil && st->tgid == tgid)
			return st;
	}
	if (create)
		COUNT(cs, map_full, 1);
	return NULL;
}

static __always_inline void count_acquire(struct gil_stats *s, __u64 request_ns,
					  __u64 acquired_ns, __u32 flags, __u64 drop_requests)
{
	COUNT(s, acquisitions, 1);
	if (flags & GIL_ACQ_SWITCH)
		COUNT(s, switches, 1);
	if (flags & GIL_ACQ_FORCED)
		COUNT(s, forced_switches, 1);
	if (drop_requests)
		COUNT(s, drop_requests, drop_requests);
	if (request_ns && acquired_ns >= request_ns)
		hist_record(&s->hists[HIST_WAIT], acquired_ns - request_ns);
	else
		COUNT(s, missing_start, 1);
}

static __always_inline void count_handoff(struct gil_stats *s, __u64 handoff_ns,
					  __u64 contended_ns)
{
	if (handoff_ns)
		hist_record(&s->hists[HIST_HANDOFF], handoff_ns);
	if (contended_ns)
		COUNT(s, contended_ns, contended_ns);
}

static __always_inline void on_wait_start(__u64 gil, __u64 request_ns)
{
	__u64 id = bpf_get_current_pid_tgid(), task;
	struct waiter fresh = {}, *w;
	struct gil_stats *cs;
	struct gil_state *st;

	cs = traced_cpu_stats(id);
	if (!cs)
		return;
	task = bpf_get_current_task();
	w = lookup_or_init(&waiters, &task, &fresh, cs);
	if (!w)
		return;
	w->wakeup_ns = 0;
	w->id = id;
	w->gil = gil;
	/* Counted once per wait, as the acquisition that ends it counts down once. */
	if (w->waiting)
		return;
	st = find_gil(cs, gil, true);
	if (!st)
		return;
	w->waiting = 1;
	__sync_fetch_and_add(&nr_waiters, 1);
	/* The first waiter opens a contended period; waiters come and go on several CPUs. */
	if (__sync_fetch_and_add(&st->nr_waiting, 1) == 0)
		st->contended_since_ns = request_ns ? request_ns : bpf_ktime_get_ns();
}

/* The GIL's state st, if the caller has it already, else NULL; returned for the caller's use. */
static __always_inline struct gil_state *on_acquire(__u64 gil, __u64 request_ns, __u64 acquired_ns,
						    __u32 flags, __u64 drop_requests,
						    struct gil_state *st)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, cpu = bpf_get_smp_processor_id();
	__u64 handoff_ns = 0, contended_ns = 0, task;
	struct gil_stats *cs, *ks, *other;
	struct waiter *w = NULL;
	__u32 zero = 0;

	cs = traced_cpu_stats(id);
	if (!cs)
		return NULL;
	ks = key_entry(cs, gil, id);
	count_acquire(cs, request_ns, acquired_ns, flags, drop_requests);
	if (ks)
		count_acquire(ks, request_ns, acquired_ns, flags, drop_requests);

	if (!st)
		st = find_gil(cs, gil, true);
	if (!st)
		return NULL;
	if ((flags & (GIL_ACQ_SWITCH | GIL_ACQ_WAITED)) == (GIL_ACQ_SWITCH | GIL_ACQ_WAITED) &&
	    st->last_release_ns && st->last_release_tid != tid &&
	    acquired_ns >= st->last_release_ns && request_ns <= st->last_release_ns)
		handoff_ns = acquired_ns - st->last_release_ns;
	if (st->last_release_ns && st->release_cpu != cpu) {
		COUNT(cs, migrations_in, 1);
		if (ks && targ_fleet)
			COUNT(ks, migrations_in, 1);
		other = bpf_map_lookup_percpu_elem(&cpu_stats, &zero, st->release_cpu);
		if (other)
			COUNT(other, migrations_out, 1);
	}
	/* Only a waiter this program saw start counts down, so an attach mid-wait cannot skew it. */
	if (flags & GIL_ACQ_WAITED) {
		task = bpf_get_current_task();
		w = bpf_map_lookup_elem(&waiters, &task);
	}
	if (w && w->waiting) {
		w->waiting = 0;
		__sync_fetch_and_add(&nr_waiters, -1);
		if (__sync_fetch_and_add(&st->nr_waiting, -1) == 1 &&
		    acquired_ns > st->contended_since_ns)
			contended_ns = acquired_ns - st->contended_since_ns;
	}
	count_handoff(cs, handoff_ns, contended_ns);
	if (ks)
		count_handoff(ks, handoff_ns, contended_ns);
	st->holder_tid = tid;
	if (!st->held) {
		st->held = 1;
		if (__sync_fetch_and_add(&gils_held, 1) > 0)
			__sync_fetch_and_add(&gil_overlaps, 1);
	}
	return st;
}

static __always_inline void count_release(struct gil_stats *s, __u64 acquired_ns,
					  __u64 released_ns, __u32 flags)
{
	COUNT(s, releases, 1);
	if (!(flags & GIL_REL_REQUESTED))
		COUNT(s, voluntary_releases, 1);
	if (acquired_ns && released_ns >= acquired_ns)
		hist_record(&s->hists[HIST_HOLD], released_ns - acquired_ns);
	else
		COUNT(s, missing_start, 1);
}

/* The current thread's name into comms: an in-place rewrite once its entry exists. */
static __always_inline void record_comm(__u64 id)
{
	struct task_comm *c = bpf_map_lookup_elem(&comms, &id), fresh = {};

	if (c) {
		bpf_get_current_comm(c->comm, sizeof(c->comm));
		return;
	}
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&comms, &id, &fresh, BPF_ANY);
}

/* As on_acquire(): st if the caller has it, and the state used is returned. */
static __always_inline struct gil_state *on_release(__u64 gil, __u64 acquired_ns,
						    __u64 released_ns, __u32 flags,
						    struct gil_state *st)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct gil_stats *cs, *ks;

	cs = traced_cpu_stats(id);
	if (!cs)
		return NULL;
	ks = key_entry(cs, gil, id);
	count_release(cs, acquired_ns, released_ns, flags);
	if (ks)
		count_release(ks, acquired_ns, released_ns, flags);
	if (targ_comms)
		record_comm(id);
	if (!st)
		st = find_gil(cs, gil, true);
	if (!st)
		return NULL;
	st->last_release_ns = released_ns;
	st->last_release_tid = (__u32)id;
	st->release_cpu = bpf_get_smp_processor_id();
	st->last_release_requested = !!(flags & GIL_REL_REQUESTED);
	/* a release whose acquisition came before the probes counts nothing down */
	if (st->held) {
		st->held = 0;
		__sync_fetch_and_add(&gils_held, -1);
	}
	return st;
}

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

/*
 * The first nr_args arguments of a gil:* probe. Straight from the saved registers when the
 * collector found them named in the notes: bpf_usdt_arg() costs a helper call per argument, more
 * than the rest of these handlers together. The registers are read all at once, every one a
 * load at a constant offset, the only form of context access the verifier takes.
 */
static __always_inline void probe_args(struct pt_regs *ctx, __u64 *args, int nr_args)
{
	if (targ_args_in_regs) {
		args[0] = PT_REGS_PARM1(ctx);
		args[1] = PT_REGS_PARM2(ctx);
		args[2] = PT_REGS_PARM3(ctx);
		args[3] = PT_REGS_PARM4(ctx);
		args[4] = PT_REGS_PARM5(ctx);
		return;
	}
	for (int i = 0; i < nr_args; i++) {
		long v = 0;

		bpf_usdt_arg(ctx, i, &v);
		args[i] = v;
	}
}

SEC("usdt")
int gil_wait_start(struct pt_regs *ctx)
{
	__u64 a[5];

	probe_args(ctx, a, 2);
	on_wait_start(a[0], a[1]);
	return 0;
}

SEC("usdt")
int gil_acquire(struct pt_regs *ctx)
{
	struct gil_state *st;
	__u64 a[5];

	probe_args(ctx, a, 5);
	st = on_acquire(a[0], a[1], a[2], a[3], a[4], NULL);
	if (targ_stacks)
		stacks_on_acquire(ctx, st, a[0], a[1], a[2], a[3], false);
	return 0;
}

SEC("usdt")
int gil_release(struct pt_regs *ctx)
{
	struct gil_state *st;
	__u64 a[5];

	probe_args(ctx, a, 4);
	st = on_release(a[0], a[1], a[2], a[3], NULL);
	if (targ_stacks)
		stacks_on_release(ctx, st, a[0], a[2], a[1], false);
	return 0;
}

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
	on_acquire(gil, pt->request_ns, now, flags, drop_requests, st);
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
	on_release(id >> 32, acquired_ns, now, flags, NULL);
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

static __always_inline void py_cond_acquired(void *ctx, __u64 id, __u64 gil, __u64 now)
{
	__u32 tid = (__u32)id, flags = 0;
	struct py_thread *pt = py_thread_of(tid);
	struct gil_stats *cs = this_cpu_stats();
	struct gil_state *st;
	__u64 request_ns = now;

	if (!pt || !cs)
		return;
	st = find_gil(cs, gil, true);
	if (pt->request_ns) {
		request_ns = pt->request_ns;
		flags |= GIL_ACQ_WAITED;
	}
	if (st && st->holder_tid != tid) {
		flags |= GIL_ACQ_SWITCH;
		if (st->last_release_requested)
			flags |= GIL_ACQ_FORCED;
	}
	/* drop requests are counted as they are made, in py_cond_wait_return() */
	on_acquire(gil, request_ns, now, flags, 0, st);
	if (st) {
		if (flags & GIL_ACQ_SWITCH)
			st->switch_count++;
		/* take_gil() resets a pending drop request once it holds the GIL */
		st->drop_requested = 0;
	}
	/* take_gil() has set gil->last_holder to this thread's state before the signal */
	if (targ_stacks)
		stacks_on_acquire(ctx, st, gil, request_ns, now, flags, true);
	pt->request_ns = 0;
	pt->acquired_ns = now;
}

static __always_inline void py_cond_released(void *ctx, __u64 id, __u64 gil, __u64 now)
{
	struct py_thread *pt = bpf_map_lookup_elem(&py_threads, &(__u32){ (__u32)id });
	struct gil_state *st = find_gil(NULL, gil, false);
	__u64 acquired_ns = 0;
	__u32 flags;

	if (pt) {
		acquired_ns = pt->acquired_ns;
		pt->acquired_ns = 0;
	}
	flags = st && st->drop_requested ? GIL_REL_REQUESTED : 0;
	st = on_release(gil, acquired_ns, now, flags, st);
	/* drop_gil() leaves gil->last_holder at the releaser's thread state */
	if (targ_stacks)
		stacks_on_release(ctx, st, gil, now, acquired_ns, true);
}

SEC("uprobe")
int BPF_KPROBE(py_cond_signal, void *cond)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct py_cond *c;

	if (!wanted(id >> 32))
		return 0;
	c = py_cond_of(id, (__u64)cond);
	if (!c)
		return 0;
	if (c->role == PY_COND_SWITCH)
		py_cond_acquired(ctx, id, c->gil, bpf_ktime_get_ns());
	else
		py_cond_released(ctx, id, c->gil, bpf_ktime_get_ns());
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
	if (!pt->request_ns) {
		now = bpf_ktime_get_ns();
		pt->request_ns = now;
		on_wait_start(c->gil, now);
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
	/* gil->locked: 16 bytes before gil->cond in every layout */
	if (bpf_probe_read_user(&locked, sizeof(locked), (void *)(gil + targ_py_cond_offset - 16)) ||
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
	if (bpf_probe_read_user(&locked, sizeof(locked), (void *)(gil + targ_py_cond_offset - 16)) ||
	    bpf_probe_read_user(&interval_us, sizeof(interval_us),
				(void *)(gil + targ_py_cond_offset - 32)) ||
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

	if (wanted(id >> 32))
		bpf_map_delete_elem(&py_conds, &key);
	return 0;
}

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

/* Runs in the task that has just exec'd: the current tgid is the new program's. */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(gil_exec)
{
	struct fleet_event e = { .pid = bpf_get_current_pid_tgid() >> 32, .kind = FLEET_EXECED };

	bpf_ringbuf_output(&execs, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
