// SPDX-License-Identifier: GPL-2.0
/* --timeline: the BPF side's cycles merged into spans per thread, written as Chrome's JSON. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "gil_usdt.h"
#include "gilstat.h"
#include "json.h"
#include "snapshot.h"
#include "stacks.h"
#include "timeline.h"

enum span_kind {
	SPAN_HOLD,	/* one hold, or consecutive ones of one thread that no other came between */
	SPAN_WAIT,	/* a wait that ended in a switch to this thread */
	MARK_FORCED,	/* the switch to this thread was forced by its drop requests */
	MARK_REQUESTED, /* this thread released the GIL because a waiter asked */
};

struct span {
	__u64 start_ns, end_ns;
	__u64 held_ns; /* SPAN_HOLD: the holds' exact sum, without the gaps between them */
	__u64 wait_ns; /* SPAN_HOLD: the uncontended acquisitions' waits; SPAN_WAIT: its own */
	__u64 py;      /* SPAN_WAIT: the waiter's Python stack, 0: none */
	__u32 tgid, tid;
	__u32 holds;	     /* SPAN_HOLD: the holds merged into it */
	__u32 other_tid;     /* SPAN_WAIT: who held the GIL before the switch */
	__u32 drop_requests; /* SPAN_WAIT: made during it */
	enum span_kind kind;
};

/* Threads whose latest hold may still grow (holds > 0): an open-addressed table by tid. */
#define OPEN_SHIFT 16
#define OPEN_SLOTS (1u << OPEN_SHIFT)
#define OPEN_TRIED 16

struct timeline {
	struct timeline_opts o;
	struct ring_buffer *rb;
	struct span *spans; /* closed, in the order they closed */
	size_t nr, cap;
	struct span *open;  /* OPEN_SLOTS, tid 0: free; a slot stays its thread's */
	struct timeline_counts n; /* events and lost filled in by timeline_finish() */
};

struct timeline *timeline_new(const struct timeline_opts *o)
{
	struct timeline *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->o = *o;
	t->open = calloc(OPEN_SLOTS, sizeof(*t->open));
	if (!t->open) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

/* A closed span kept, or counted as dropped past the limit. */
static void keep(struct timeline *t, const struct span *s)
{
	if (t->nr >= t->o.limit) {
		t->n.dropped++;
		return;
	}
	if (t->nr == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		struct span *grown;

		if (cap > t->o.limit)
			cap = t->o.limit;
		grown = realloc(t->spans, cap * sizeof(*grown));
		if (!grown) {
			t->n.dropped++;
			return;
		}
		t->spans = grown;
		t->cap = cap;
	}
	t->spans[t->nr++] = *s;
}

static struct span *open_of(struct timeline *t, __u32 tid)
{
	__u32 home = (tid * 0x9E3779B1u) >> (32 - OPEN_SHIFT);

	for (__u32 i = 0; i < OPEN_TRIED; i++) {
		struct span *s = &t->open[(home + i) & (OPEN_SLOTS - 1)];

		if (s->tid == tid || !s->tid)
			return s;
	}
	return NULL;
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct timeline_event *e = data;
	struct timeline *t = ctx;
	bool waited, known_wait;
	struct span *open, s;

	if (len < sizeof(*e))
		return 0;
	t->n.cycles++;
	if (!e->acquired_ns || e->released_ns < e->acquired_ns) {
		t->n.unseen++;
		return 0;
	}
	waited = e->acq_flags & GIL_ACQ_WAITED;
	known_wait = e->request_ns && e->acquired_ns >= e->request_ns;
	open = open_of(t, e->tid);
	if (open && open->holds && !waited && e->prev_tid == e->tid &&
	    !(e->rel_flags & GIL_REL_REQUESTED)) {
		open->end_ns = e->released_ns;
		open->held_ns += e->released_ns - e->acquired_ns;
		open->wait_ns += known_wait ? e->acquired_ns - e->request_ns : 0;
		open->holds++;
		t->n.merged++;
		return 0;
	}
	if (open && open->holds) {
		keep(t, open);
		open->holds = 0;
	}
	if (waited && known_wait) {
		s = (struct span){.kind = SPAN_WAIT, .tgid = e->tgid, .tid = e->tid,
				  .start_ns = e->request_ns, .end_ns = e->acquired_ns,
				  .wait_ns = e->acquired_ns - e->request_ns, .py = e->waiter_py,
				  .other_tid = e->prev_tid, .drop_requests = e->drop_requests};
		keep(t, &s);
	}
	if (e->acq_flags & GIL_ACQ_FORCED) {
		s = (struct span){.kind = MARK_FORCED, .tgid = e->tgid, .tid = e->tid,
				  .start_ns = e->acquired_ns, .end_ns = e->acquired_ns,
				  .other_tid = e->prev_tid};
		keep(t, &s);
	}
	s = (struct span){.kind = SPAN_HOLD, .tgid = e->tgid, .tid = e->tid,
			  .start_ns = e->acquired_ns, .end_ns = e->released_ns,
			  .held_ns = e->released_ns - e->acquired_ns, .holds = 1,
			  .wait_ns = !waited && known_wait ? e->acquired_ns - e->request_ns : 0};
	if (e->rel_flags & GIL_REL_REQUESTED) {
		/* the hold ends here: no later one of this thread merges into it */
		keep(t, &s);
		s = (struct span){.kind = MARK_REQUESTED, .tgid = e->tgid, .tid = e->tid,
				  .start_ns = e->released_ns, .end_ns = e->released_ns};
		keep(t, &s);
		return 0;
	}
	if (open)
		*open = s;
	else
		keep(t, &s);
	return 0;
}

void timeline_drain(struct timeline *t)
{
	if (!t->rb) {
		t->rb = ring_buffer__new(t->o.ring_fd, on_event, t, NULL);
		if (!t->rb)
			return;
	}
	ring_buffer__consume(t->rb);
}

/* Chrome's timestamps are microseconds: three decimals keep the nanoseconds. */
static double us(__u64 ns)
{
	return ns / 1000.0;
}

/*
 * A span as a begin and an end event, not as one complete ("X") event: a viewer that adds its
 * duration to its start may find the sum a hair past the next span's start, and nest the two.
 * The arguments go with the end (viewers merge them into the span), so that speedscope, which
 * names a frame by its begin event's arguments too, keeps one frame for every hold.
 */
static void write_event(struct json *j, const struct span *s, const char *ph, __u64 ns)
{
	static const char *const names[] = {
		[SPAN_HOLD] = "holds GIL",
		[SPAN_WAIT] = "waits for GIL",
		[MARK_FORCED] = "forced switch",
		[MARK_REQUESTED] = "released on request",
	};

	json_string(j, "name", names[s->kind]);
	json_string(j, "cat", "gil");
	json_string(j, "ph", ph);
	json_double(j, "ts", us(ns));
	if (!strcmp(ph, "i"))
		json_string(j, "s", "t");
	json_u64(j, "pid", s->tgid);
	json_u64(j, "tid", s->tid);
}

static void write_span(struct timeline *t, struct json *j, const struct span *s)
{
	bool span = s->kind == SPAN_HOLD || s->kind == SPAN_WAIT;
	char place[512];

	if (span) {
		json_object_begin(j, NULL);
		write_event(j, s, "B", s->start_ns);
		json_object_end(j);
	}
	json_object_begin(j, NULL);
	write_event(j, s, span ? "E" : "i", span ? s->end_ns : s->start_ns);
	json_object_begin(j, "args");
	switch (s->kind) {
	case SPAN_HOLD:
		json_u64(j, "holds", s->holds);
		json_u64(j, "held_ns", s->held_ns);
		json_u64(j, "wait_ns", s->wait_ns);
		break;
	case SPAN_WAIT:
		json_u64(j, "wait_ns", s->wait_ns);
		json_u64(j, "holder_tid", s->other_tid);
		json_u64(j, "drop_requests", s->drop_requests);
		if (s->py && t->o.stacks && stacks_python_place(t->o.stacks, s->py, place,
								 sizeof(place)))
			json_string(j, "python", place);
		break;
	case MARK_FORCED:
		json_u64(j, "from_tid", s->other_tid);
		break;
	case MARK_REQUESTED:
		break;
	}
	json_object_end(j);
	json_object_end(j);
}

static int tid_cmp(const void *a, const void *b)
{
	const __u64 *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* A metadata event naming a thread (tid), or its process (tid 0), as viewers label them. */
static void write_name(struct timeline *t, struct json *j, __u32 tgid, __u32 tid)
{
	char comm[TASK_COMM_LEN];

	/* viewers add the pid and tid to the name themselves */
	snapshot_task_comm(t->o.comm_fd, tgid, tid ? tid : tgid, comm, sizeof(comm));
	json_object_begin(j, NULL);
	json_string(j, "name", tid ? "thread_name" : "process_name");
	json_string(j, "ph", "M");
	json_u64(j, "pid", tgid);
	if (tid)
		json_u64(j, "tid", tid);
	json_object_begin(j, "args");
	json_string(j, "name", comm);
	json_object_end(j);
	json_object_end(j);
}

/* A name for each thread and process that has a span. */
static void write_names(struct timeline *t, struct json *j)
{
	__u64 *ids = malloc((t->nr ? t->nr : 1) * sizeof(*ids));
	size_t n = 0;

	if (!ids)
		return;
	for (size_t i = 0; i < t->nr; i++)
		ids[n++] = (__u64)t->spans[i].tgid << 32 | t->spans[i].tid;
	if (n)
		qsort(ids, n, sizeof(*ids), tid_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && ids[i] == ids[i - 1])
			continue;
		write_name(t, j, ids[i] >> 32, (__u32)ids[i]);
		if (!i || ids[i] >> 32 != ids[i - 1] >> 32)
			write_name(t, j, ids[i] >> 32, 0);
	}
	free(ids);
}

const struct timeline_counts *timeline_finish(struct timeline *t, __u64 lost)
{
	timeline_drain(t);
	for (__u32 i = 0; i < OPEN_SLOTS; i++)
		if (t->open[i].holds) {
			keep(t, &t->open[i]);
			t->open[i].holds = 0;
		}
	t->n.events = t->nr;
	t->n.lost = lost;
	return &t->n;
}

void timeline_counts_json(struct json *j, const struct timeline_counts *c)
{
	json_u64(j, "cycles", c->cycles);
	json_u64(j, "events", c->events);
	json_u64(j, "merged_holds", c->merged);
	json_u64(j, "dropped_over_limit", c->dropped);
	json_u64(j, "lost_ring_full", c->lost);
	json_u64(j, "holds_unseen_acquisition", c->unseen);
}

int timeline_write(struct timeline *t)
{
	struct json j;

	json_init(&j, t->o.f);
	json_object_begin(&j, NULL);
	json_array_begin(&j, "traceEvents");
	write_names(t, &j);
	for (size_t i = 0; i < t->nr; i++)
		write_span(t, &j, &t->spans[i]);
	json_array_end(&j);
	json_string(&j, "displayTimeUnit", "ns");
	json_object_begin(&j, "otherData");
	json_string(&j, "producer", "gilstat --timeline");
	timeline_counts_json(&j, &t->n);
	json_object_end(&j);
	json_object_end(&j);
	fputc('\n', t->o.f);
	return fflush(t->o.f) || ferror(t->o.f) ? -EIO : 0;
}

void timeline_print_summary(const struct timeline *t, FILE *f, const char *path)
{
	fprintf(f, "Timeline: %llu GIL cycles, %zu events written to %s (%llu holds merged into "
		   "their thread's previous one",
		(unsigned long long)t->n.cycles, t->nr, path, (unsigned long long)t->n.merged);
	if (t->n.dropped)
		fprintf(f, ", %llu events dropped over --timeline-limit",
			(unsigned long long)t->n.dropped);
	if (t->n.lost)
		fprintf(f, ", %llu cycles lost: the ring buffer was full",
			(unsigned long long)t->n.lost);
	fprintf(f, ")\n");
}

void timeline_free(struct timeline *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	free(t->spans);
	free(t->open);
	free(t);
}
