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

enum gilstat_hist {
	HIST_WAIT,
	HIST_HOLD,
	HIST_HANDOFF,
	HIST_SCHED_DELAY,
	NR_HISTS,
};

struct hist {
	__u64 slots[MAX_SLOTS];
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;
};

struct gil_counters {
	__u64 acquisitions;
	__u64 switches;
	__u64 forced_switches;
	__u64 drop_requests;
	__u64 releases;
	__u64 voluntary_releases;
	__u64 migrations_in;
	__u64 migrations_out;
	__u64 waiter_switches;
	__u64 contended_ns;
	/* Events that could not be counted in full: a missing start time, a full map. */
	__u64 missing_start;
	__u64 map_full;
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

#define GROUP_THREAD  0x1
#define GROUP_PROCESS 0x2
#define GROUP_GIL     0x4

#define MAX_KEYS       10240
#define MAX_WAITERS    16384
#define MAX_GILS_SHIFT 10
#define MAX_GILS       (1 << MAX_GILS_SHIFT)

#endif /* GILSTAT_H */
