/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the BPF side aggregates and the collector reads: the one definition of every metric.
 * Only __u32/__u64 and fixed arrays, so that both sides lay it out alike.
 *
 * wait         a thread asking for the GIL -> the thread holding it (gil:acquire).
 * hold         holding it -> releasing it (gil:release).
 * handoff      a release by one thread -> the acquisition by a different thread that was waiting:
 *              what the kernel adds to a switch (wake-up plus run-queue delay).
 * sched delay  for a thread waiting for a GIL: woken (sched_wakeup) -> on a CPU (sched_switch).
 * switches     holder changes (CPython's switch_number); forced switches are the ones whose
 *              previous release honoured a drop request.
 * drop requests  times a waiter asked the holder to drop (after a full interval with no switch).
 * voluntary releases  releases no drop request asked for (blocking calls, C work, thread end).
 * waiter context switches  times a thread waiting for a GIL was switched out.
 * migrations   acquisitions on a CPU other than the one of the previous release of that GIL:
 *              counted "in" on the new CPU and "out" on the old one.
 * contended    time during which at least one thread waited for the GIL.
 *
 * Per CPU: a wait belongs to the CPU on which the acquisition completed, a hold to the CPU on which
 * the GIL was released.
 */
#ifndef GILSTAT_H
#define GILSTAT_H

/* log2 slots of the report's unit (us, or ms with -m): slot 31 starts at 2^31 units. */
#define MAX_SLOTS 32

/*
 * Every histogram, once: X(id, keyed, json, prom, title): counted in the -L/-P/-G breakdown too
 * when keyed; its JSON name, its Prometheus name after "gilstat_", and the report's title.
 */
#define GIL_HISTS(X)                                                                               \
	X(HIST_WAIT, 1, "wait_ns", "gil_wait_seconds", "GIL wait (asking -> holding)")              \
	X(HIST_HOLD, 1, "hold_ns", "gil_hold_seconds", "GIL hold (holding -> releasing)")          \
	X(HIST_HANDOFF, 1, "handoff_ns", "gil_handoff_seconds",                                    \
	  "Handoff (release -> a waiting thread holds it)")                                        \
	X(HIST_SCHED_DELAY, 0, "sched_delay_ns", "gil_sched_delay_seconds",                        \
	  "Scheduler delay of waiters (woken -> on CPU)")

#define GIL_HIST_ID(id, keyed, json, prom, title) id,

enum gilstat_hist {
	GIL_HISTS(GIL_HIST_ID)
	NR_HISTS,
};

struct hist {
	__u64 slots[MAX_SLOTS];
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
};

/*
 * Every counter, once: X(field, unit, keyed, prom, help), in the order of struct gil_counters.
 * unit is GIL_EVENTS or GIL_NS; keyed counters are counted in the -L/-P/-G breakdown too, the
 * others in the per-CPU totals only; prom is the Prometheus name after "gilstat_" and before
 * "_total" (in seconds for GIL_NS), NULL for a counter that is not exported. The BPF side only
 * declares the struct from it; the report, JSON and Prometheus printers walk it.
 */
#define GIL_COUNTERS(X)                                                                            \
	X(acquisitions, GIL_EVENTS, 1, "gil_acquisitions", "Acquisitions of the GIL")              \
	X(switches, GIL_EVENTS, 1, "gil_switches", "Changes of the GIL's holder")                  \
	X(forced_switches, GIL_EVENTS, 1, "gil_forced_switches",                                   \
	  "Switches whose previous release honoured a drop request")                               \
	X(drop_requests, GIL_EVENTS, 1, "gil_drop_requests",                                       \
	  "Times a waiter asked the holder to drop the GIL")                                       \
	X(releases, GIL_EVENTS, 1, "gil_releases", "Releases of the GIL")                          \
	X(voluntary_releases, GIL_EVENTS, 1, "gil_voluntary_releases",                             \
	  "Releases no drop request asked for (blocking calls, C work, thread end)")               \
	X(migrations_in, GIL_EVENTS, 0, "gil_migrations",                                          \
	  "Acquisitions on a CPU other than the one of the GIL's previous release")                \
	X(migrations_out, GIL_EVENTS, 0, NULL, "Migrations counted on the CPU the GIL left")       \
	X(waiter_switches, GIL_EVENTS, 0, "gil_waiter_context_switches",                           \
	  "Times a thread waiting for the GIL was switched out")                                   \
	X(contended_ns, GIL_NS, 1, "gil_contended_seconds",                                        \
	  "Time during which at least one thread waited for the GIL")                              \
	/* Events that could not be counted in full: a missing start time, a full map. */          \
	X(missing_start, GIL_EVENTS, 1, "dropped_events",                                          \
	  "Events not counted in full: no start time seen, or a BPF map was full")                 \
	X(map_full, GIL_EVENTS, 0, "dropped_events",                                               \
	  "Events not counted in full: no start time seen, or a BPF map was full")

enum gil_counter_unit {
	GIL_EVENTS,
	GIL_NS,
};

#define GIL_COUNTER_FIELD(field, unit, keyed, prom, help) __u64 field;

struct gil_counters {
	GIL_COUNTERS(GIL_COUNTER_FIELD)
};

/*
 * The collector adds and subtracts struct gil_counters as a __u64[] (report.c): every field must
 * be a __u64, and one added without its line below fails the size check.
 */
#define GIL_COUNTER_IS_U64(f)                                                                      \
	_Static_assert(                                                                            \
		__builtin_types_compatible_p(__typeof__(((struct gil_counters *)0)->f), __u64),    \
		"struct gil_counters." #f " is not a __u64")
GIL_COUNTER_IS_U64(acquisitions);
GIL_COUNTER_IS_U64(switches);
GIL_COUNTER_IS_U64(forced_switches);
GIL_COUNTER_IS_U64(drop_requests);
GIL_COUNTER_IS_U64(releases);
GIL_COUNTER_IS_U64(voluntary_releases);
GIL_COUNTER_IS_U64(migrations_in);
GIL_COUNTER_IS_U64(migrations_out);
GIL_COUNTER_IS_U64(waiter_switches);
GIL_COUNTER_IS_U64(contended_ns);
GIL_COUNTER_IS_U64(missing_start);
GIL_COUNTER_IS_U64(map_full);
_Static_assert(sizeof(struct gil_counters) == 12 * sizeof(__u64),
	       "a field of struct gil_counters has no GIL_COUNTER_IS_U64() line");

struct gil_stats {
	struct gil_counters c;
	struct hist hists[NR_HISTS];
};

/* Optional breakdown (-L per thread, -P per process, -G per GIL): unused fields are zero. */
struct gil_key {
	__u64 gil;
	__u32 tgid;
	__u32 tid;
};

/* A thread's name as the kernel keeps it (comm): 15 bytes and a NUL. */
#define TASK_COMM_LEN 16

struct task_comm {
	char comm[TASK_COMM_LEN];
};

#define GROUP_THREAD  0x1
#define GROUP_PROCESS 0x2
#define GROUP_GIL     0x4

/*
 * CPython's GIL (struct _gil_runtime_state, 3.8 and later) signals one condition variable at each
 * release, cond, and another at each acquisition, switch_cond, 88 bytes further (a pthread_cond_t
 * and a pthread_mutex_t apart); its waiters sleep on cond. The collector and py_cond_init() say
 * which addresses those are, keyed by process; a signal on any other address is not the GIL's.
 */
#define PY_COND_GIL	      1 /* gil->cond */
#define PY_COND_SWITCH	      2 /* gil->switch_cond */
#define PY_SWITCH_COND_OFFSET 88 /* &gil->switch_cond - &gil->cond */

/*
 * A GIL in memory, around its cond, as glibc lays its types out and CPython 3.8-3.15 its struct:
 * the interval (µs) 32 bytes before it, locked (0 or 1 outside create_gil) 16 bytes before it and
 * 4 bytes of padding after that; a CLOCK_MONOTONIC, process-private cond (glibc's __wrefs, at byte
 * 36 up to glibc 2.40 and at byte 28 since 2.41 dropped __g_refs: bit 1 is the clock, bit 0
 * process-shared) followed by a default mutex (__kind at byte 16 is 0, PTHREAD_MUTEX_TIMED_NP);
 * and the same pair, switch_cond and switch_mutex, 88 bytes on. Both
 * sides test it: the collector on a running process's _PyRuntime, the BPF side on a condition
 * variable it has not seen before.
 */
#define PY_GIL_INTERVAL_BEFORE_COND 32
#define PY_GIL_LOCKED_BEFORE_COND   16
#define PY_GIL_MUTEX_AFTER_COND	    48
#define PY_GIL_MAX_INTERVAL_US	    1000000000ull
#define GLIBC_COND_WREFS	    36
#define GLIBC_2_41_COND_WREFS	    28
#define GLIBC_COND_WREFS_SHARED	    0x1
#define GLIBC_COND_WREFS_CLOCK	    0x2
#define GLIBC_MUTEX_KIND	    16

struct py_cond_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

struct py_cond {
	__u64 gil; /* the address of the GIL's struct */
	__u32 role;
	__u32 pad;
};

/*
 * --stacks: a wait of at least targ_min_wait_ns is charged, at the acquisition that ends it, to
 * the stack the previous holder had when it released the GIL, beside the waiter's own stack.
 * Native stacks are ids in the stacks map (BPF_MAP_TYPE_STACK_TRACE, user frames), Python stacks
 * ids in py_stacks; a negative native id, or a Python id of 0, is one of the STACK_* reasons.
 */
#define STACK_NOT_RECORDED (-1000) /* the release came before the waiter had waited long */
#define STACK_NO_RELEASE   (-1001) /* no release seen since tracing began */
#define STACK_MAX_DEPTH	   126 /* perf_event_max_stack's default is 127 */
#define PY_MAX_FRAMES	   64

struct stack_key {
	__s32 holder_stack; /* native, at its release; < 0: STACK_*, or bpf_get_stackid()'s error */
	__s32 waiter_stack; /* native, where it got the GIL after its wait */
	__u32 tgid;
	__u32 holder_tid;
	__u32 waiter_tid;
	__u32 pad;
	__u64 holder_py; /* the key of its Python stack in py_stacks, 0: none */
	__u64 waiter_py;
};

struct stack_stats {
	struct hist wait; /* the waits charged */
	__u64 hold_ns;	  /* the holds that ended in the releases charged */
	__u64 forced;	  /* those releases a drop request asked for */
};

/* A Python stack as read in the kernel: code object addresses, innermost first. */
#define PY_STACK_TRUNCATED   0x1 /* deeper than the limit */
#define PY_STACK_READ_FAILED 0x2 /* a frame could not be read (freed memory, a torn chain) */

struct py_stack {
	__u64 code[PY_MAX_FRAMES];
	__u32 depth;
	__u32 flags;
};

/*
 * Where CPython keeps the frame chain, from the collector (per version, or _Py_DebugOffsets from
 * 3.13 on); tstate_frame 0: no Python stacks.
 */
struct py_frame_offsets {
	__s32 tstate_frame;   /* PyThreadState: frame (3.8-3.10), cframe (3.11-3.12), current_frame */
	__s32 cframe_current; /* _PyCFrame.current_frame (3.11-3.12), or -1: tstate_frame is it */
	__s32 frame_back;     /* f_back, or _PyInterpreterFrame.previous */
	__s32 frame_code;     /* f_code, or f_executable */
	__s32 gil_last_holder; /* offsetof(struct _gil_runtime_state, last_holder) */
	__u32 pad;
};

#define MAX_KEYS       10240
#define MAX_WAITERS    16384
#define MAX_GILS_SHIFT 10
#define MAX_GILS       (1 << MAX_GILS_SHIFT)
#define MAX_PY_CONDS   (2 * MAX_GILS)
#define MAX_FLEET_TARGETS 16384

/* -a: what the execs ring buffer tells the collector */
enum fleet_event_kind {
	FLEET_EXECED, /* pid has exec'd a program */
	FLEET_FORKED, /* traced process pid has made a child process */
};

struct fleet_event {
	__u32 pid;
	__u32 kind;
};

/*
 * --timeline: one event per GIL cycle of the target, sent at the release: the request, the
 * acquisition and the release of one hold, so that the collector's spans are the very deltas the
 * histograms counted. The timeline ring buffer takes them; what it cannot take is counted.
 */
struct timeline_event {
	__u64 request_ns;  /* 0: the wait before this hold was not seen */
	__u64 acquired_ns; /* 0: the hold began before the probes were attached */
	__u64 released_ns;
	__u64 waiter_py;   /* with --stacks: the holder's Python stack when it asked, 0: none */
	__u32 tgid;
	__u32 tid;
	__u32 prev_tid;	   /* who released the GIL before this acquisition, 0: unknown */
	__u16 acq_flags;   /* GIL_ACQ_* */
	__u16 rel_flags;   /* GIL_REL_* */
	__u32 drop_requests; /* made by this thread during the wait */
	__u32 pad;
};

#endif /* GILSTAT_H */
