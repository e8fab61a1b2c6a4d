/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --timeline: every GIL cycle of the target to user space, one event at each release, for a
 * timeline of who held the GIL and who waited. Included by gilstat.bpf.c before the cycle's
 * counting, which calls it; off (targ_timeline false) it is compiled out.
 */
#ifndef GILSTAT_TIMELINE_BPF_H
#define GILSTAT_TIMELINE_BPF_H

/* Its size is set by the collector; a page when --timeline is off. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} timeline SEC(".maps");

/* Cycles the ring buffer had no room for: the collector reports them lost. */
__u64 timeline_lost = 0;

/* The acquisition of the hold that begins, kept in the GIL's state until its release. */
static __always_inline void timeline_on_acquire(struct gil_state *st, __u32 tid, __u64 request_ns,
						__u64 acquired_ns, __u32 flags,
						__u64 drop_requests)
{
	st->hold_request_ns = request_ns;
	st->hold_acquired_ns = acquired_ns;
	st->hold_tid = tid;
	st->hold_prev_tid = st->last_release_ns ? st->last_release_tid : 0;
	st->hold_acq_flags = flags;
	st->hold_drop_requests = drop_requests;
	st->hold_py = 0;
}

/*
 * The cycle that a release ends. The ring buffer is read on the collector's clock, not woken per
 * event: a wakeup per GIL cycle would cost the target more than the cycle.
 */
static __always_inline void timeline_on_release(struct gil_state *st, __u64 id, __u64 acquired_ns,
						__u64 released_ns, __u32 flags)
{
	struct timeline_event *e;
	/* the acquisition kept is this hold's only if this thread made it */
	bool mine = st->hold_tid == (__u32)id && st->hold_acquired_ns == acquired_ns;

	e = bpf_ringbuf_reserve(&timeline, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&timeline_lost, 1);
		return;
	}
	e->request_ns = mine ? st->hold_request_ns : 0;
	e->acquired_ns = acquired_ns;
	e->released_ns = released_ns;
	e->waiter_py = mine ? st->hold_py : 0;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->prev_tid = mine ? st->hold_prev_tid : 0;
	e->acq_flags = mine ? st->hold_acq_flags : 0;
	e->rel_flags = flags;
	e->drop_requests = mine ? st->hold_drop_requests : 0;
	e->pad = 0;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	st->hold_tid = 0;
}

#endif
