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
const volatile __u32 targ_unit_log2 = 9;  /* floor(log2(targ_unit_ns)) */
const volatile __u32 targ_group = 0;	  /* GROUP_* breakdown into key_stats */
/* The probes' notes put argument N in call register N (GIL_USDT_ARGS_IN_REGS): read it there. */
const volatile bool targ_args_in_regs = false;
/*
 * -a: every process is traced at once, so a GIL is known by its process and address (two
 * processes of one non-PIE build have their GIL at one address), the figures that are counted
 * per CPU only go to the process's breakdown entry too, and exec events go to the collector.
 */
const volatile bool targ_fleet = false;
/* --timeline: one timeline_event per cycle into the timeline ring buffer */
const volatile bool targ_timeline = false;

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
	/* CPython's condition-variable view: when holder_tid took it; its conds destroyed */
	__u64 acquired_ns;
	__u32 cond_gone;
	__u32 pad;
	/* --timeline: the current hold's acquisition, as its holder's release will send it */
	__u64 hold_request_ns;
	__u64 hold_acquired_ns;
	__u64 hold_py;
	__u32 hold_tid;
	__u32 hold_prev_tid;
	__u32 hold_acq_flags;
	__u32 hold_drop_requests;
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
 * fraction of an insert and a delete; gil_thread_exit() deletes it at the thread's end. LRU, for
 * the ends not seen.
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
 * A thread's entry goes at its end (gil_thread_exit()); LRU for the ends not seen, or a process
 * that has started MAX_WAITERS threads in its life would have the acquisitions of any newer one
 * lost.
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
 * a name outlives its thread for the report.
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

/*
 * log2(delta_ns / targ_unit_ns) without the division, which costs more than the rest of a
 * sample: the unit times 2^k is the largest such power not above delta_ns.
 */
static __always_inline __u32 hist_slot(__u64 delta_ns)
{
	__u32 k;

	if (delta_ns < targ_unit_ns)
		return 0;
	k = log2_u64(delta_ns) - targ_unit_log2;
	return (targ_unit_ns << k) > delta_ns ? k - 1 : k;
}

/* One sample into a histogram: its slot of the report's unit, its count, total and maximum. */
static __always_inline void hist_record(struct hist *h, __u64 delta_ns)
{
	__u32 slot = hist_slot(delta_ns);

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

/* Whether the wait is counted: a thread the maps had no room for is not. */
static __always_inline bool on_wait_start(__u64 gil, __u64 request_ns)
{
	__u64 id = bpf_get_current_pid_tgid(), task;
	struct waiter fresh = {}, *w;
	struct gil_stats *cs;
	struct gil_state *st;

	cs = traced_cpu_stats(id);
	if (!cs)
		return false;
	task = bpf_get_current_task();
	w = lookup_or_init(&waiters, &task, &fresh, cs);
	if (!w)
		return false;
	w->wakeup_ns = 0;
	w->id = id;
	w->gil = gil;
	/* Counted once per wait, as the acquisition that ends it counts down once. */
	if (w->waiting)
		return true;
	st = find_gil(cs, gil, true);
	if (!st)
		return false;
	w->waiting = 1;
	__sync_fetch_and_add(&nr_waiters, 1);
	/* The first waiter opens a contended period; waiters come and go on several CPUs. */
	if (__sync_fetch_and_add(&st->nr_waiting, 1) == 0)
		st->contended_since_ns = request_ns ? request_ns : bpf_ktime_get_ns();
	return true;
}

#include "timeline.bpf.h"

/*
 * An acquisition by the thread id (the caller's bpf_get_current_pid_tgid(), a helper call each
 * hit need not repeat). The GIL's state st, if the caller has it already, else NULL; returned for
 * the caller's use.
 */
static __always_inline struct gil_state *on_acquire(__u64 id, __u64 gil, __u64 request_ns,
						    __u64 acquired_ns, __u32 flags,
						    __u64 drop_requests, struct gil_state *st)
{
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
	if (targ_timeline)
		timeline_on_acquire(st, tid, request_ns, acquired_ns, flags, drop_requests);
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
static __always_inline struct gil_state *on_release(__u64 id, __u64 gil, __u64 acquired_ns,
						    __u64 released_ns, __u32 flags,
						    struct gil_state *st)
{
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
	if (targ_timeline)
		timeline_on_release(st, id, acquired_ns, released_ns, flags);
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

/* The program families, each in its own file (included here: one object, one skeleton). */
#include "stacks.bpf.h"
#include "libgil.bpf.h"
#include "cpython.bpf.h"
#include "sched.bpf.h"

char LICENSE[] SEC("license") = "GPL";
