// SPDX-License-Identifier: GPL-2.0
/*
 * --stacks in user space. The BPF side charges each wait of at least --min-wait to the holder's
 * stacks at its release (native ids in a stack map, Python ones as code object addresses); here
 * they are named, grouped by holder and by waiter, and printed.
 *
 * Native frames are symbolized from a copy of the target's maps, taken while it runs
 * (symbolizer.h), so that a report made after its exit still has them; Python code objects are
 * named from its memory (/proc/PID/mem) as soon as they are seen, for the same reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "flamegraph.h"
#include "hist.h"
#include "json.h"
#include "procfs.h"
#include "pycode.h"
#include "safeio.h"
#include "pygil.h"
#include "snapshot.h"
#include "stacks.h"
#include "svg.h"
#include "symbolizer.h"

#define MAX_FRAME_LEN FLAME_NAME_LEN

struct stack_entry {
	struct stack_key key;
	struct stack_stats st;
};

/* One row of a table: a holder (or a waiter) and the place it was at. */
struct stack_row {
	__u32 tgid, tid;
	char comm[TASK_COMM_LEN];
	char func[MAX_FRAME_LEN];
	char file[MAX_FRAME_LEN];
	int line;
	struct hist wait;
	__u64 hold_ns, forced;
};

/* The pairs of holder and waiter the text report shows; JSON has them all. */
#define MAX_PAIRS_SHOWN 10

/* A holder's place at its release and a waiter's where it asked: the waits one caused the other. */
struct stack_pair {
	struct stack_row holder, waiter; /* holder.wait: the waits of the pair */
};

struct stacks {
	struct stacks_opts o;
	struct stack_entry *cur, *prev;
	size_t nr_cur, nr_prev;
	struct stack_row *holders, *waiters;
	size_t nr_holders, nr_waiters;
	struct stack_pair *pairs; /* who held the GIL while whom waited */
	size_t nr_pairs;
	struct py_codes codes;
	struct symbolizer sym; /* its native frames' names, from its latest maps */
	int mem_fd;	       /* /proc/PID/mem, while the target runs */
	__u64 read_errors, stack_errors;
};

struct stacks *stacks_new(const struct stacks_opts *o)
{
	struct stacks *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o = *o;
	s->mem_fd = -1;
	return s;
}

/*
 * /proc/PID/mem opened again: an fd opened before an exec reads the old image's memory, which is
 * gone (a command started through a script, a pyenv shim, execs its interpreter later). The
 * previous fd stays when the process has ended.
 */
static void reopen_mem(struct stacks *s)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", s->o.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	s->mem_fd = fd;
}

void stacks_free(struct stacks *s)
{
	if (!s)
		return;
	symbolizer_free(&s->sym);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->cur);
	free(s->prev);
	free(s->holders);
	free(s->waiters);
	free(s->pairs);
	py_codes_free(&s->codes);
	free(s);
}

/* A code object of the target's, named once from its memory (pycode.h). */
static struct py_code *py_code_of(struct stacks *s, __u64 tagged, bool read)
{
	return py_code_name(&s->codes, s->mem_fd, &s->o.py->code, tagged, read);
}

/* The Python stack under key k of py_stacks, or false. */
static bool py_stack_of(struct stacks *s, __u64 k, struct py_stack *ps)
{
	return k && s->o.py && !bpf_map_lookup_elem(s->o.py_stacks_fd, &k, ps);
}

/* The innermost frame of ps that is a function's (entry frames are not), or NULL. */
static struct py_code *py_innermost(struct stacks *s, const struct py_stack *ps)
{
	for (__u32 i = 0; i < ps->depth && i < PY_MAX_FRAMES; i++) {
		struct py_code *pc = py_code_of(s, ps->code[i], true);

		if (!pc || !pc->entry)
			return pc;
	}
	return NULL;
}

/* Names the code objects of every Python stack seen so far that are not named yet. */
static void name_new_codes(struct stacks *s)
{
	__u64 key, next;
	void *prev = NULL;
	struct py_stack ps;

	if (!s->o.py)
		return;
	while (!bpf_map_get_next_key(s->o.py_stacks_fd, prev, &next)) {
		if (py_stack_of(s, next, &ps))
			for (__u32 i = 0; i < ps.depth && i < PY_MAX_FRAMES; i++)
				py_code_of(s, ps.code[i], true);
		key = next;
		prev = &key;
	}
}

bool stacks_python_place(struct stacks *s, __u64 py_key, char *buf, size_t len)
{
	struct py_stack ps;
	struct py_code *pc;
	const char *base;

	if (!py_stack_of(s, py_key, &ps))
		return false;
	pc = py_innermost(s, &ps);
	if (!pc)
		return false;
	base = strrchr(pc->file, '/') ? strrchr(pc->file, '/') + 1 : pc->file;
	if (pc->why)
		snprintf(buf, len, "[unknown] (%s)", pc->why);
	else
		snprintf(buf, len, "%s (%s:%d)", pc->func, base, pc->line);
	return true;
}

void stacks_refresh(struct stacks *s)
{
	/* new maps: an exec, whose memory an fd opened before it cannot read */
	if (symbolizer_refresh(&s->sym, s->o.pid))
		reopen_mem(s);
	name_new_codes(s);
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct stack_entry *)a)->key, &((const struct stack_entry *)b)->key,
		      sizeof(struct stack_key));
}

/* Reads stack_waits whole into cur (the old cur becomes prev). */
static int read_entries(struct stacks *s)
{
	struct stack_key key, next;
	void *prev_key = NULL;
	size_t cap = 0;

	free(s->prev);
	s->prev = s->cur;
	s->nr_prev = s->nr_cur;
	s->cur = NULL;
	s->nr_cur = 0;
	while (!bpf_map_get_next_key(s->o.waits_fd, prev_key, &next)) {
		if (s->nr_cur == cap) {
			struct stack_entry *grown;

			cap = cap ? 2 * cap : 64;
			grown = realloc(s->cur, cap * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			s->cur = grown;
		}
		if (!bpf_map_lookup_elem(s->o.waits_fd, &next, &s->cur[s->nr_cur].st)) {
			s->cur[s->nr_cur].key = next;
			s->nr_cur++;
		}
		key = next;
		prev_key = &key;
	}
	/* qsort() wants an array even of none: the table is NULL until a first entry */
	if (s->nr_cur)
		qsort(s->cur, s->nr_cur, sizeof(*s->cur), entry_cmp);
	return 0;
}

/* The native frames of stack id, innermost first; their number; *truncated past the limit. */
static int native_frames(struct stacks *s, __s32 id, __u64 *ips, bool *truncated)
{
	int n = 0;

	*truncated = false;
	if (id < 0 || bpf_map_lookup_elem(s->o.stacks_fd, &id, ips))
		return 0;
	while (n < s->o.depth + 1 && ips[n])
		n++;
	if (n > s->o.depth) {
		n = s->o.depth;
		*truncated = true;
	}
	return n;
}

/* Frames of the GIL's own machinery, which every stack at a release or an acquisition has. */
static bool is_gil_frame(const char *func, const char *file)
{
	static const char *const prefixes[] = {"gil_",	   "take_gil",	  "drop_gil", "PyEval_",
					       "_PyEval_", "pthread_cond", "___pthread", "__pthread",
					       "wait_for_release", "spin_"};
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

	if (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) || !strcmp(base, "gil.c"))
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(func, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

static const char *stack_reason(__s32 id)
{
	switch (id) {
	case STACK_NOT_RECORDED:
		return "[released early: the wait was mostly the handoff]";
	case STACK_NO_RELEASE:
		return "[no release seen since tracing began]";
	case -EFAULT:
		return "[stack unreadable]";
	case -ENOMEM:
	case -E2BIG:
	case -EEXIST:
		return "[stack map full]";
	default:
		return "[no stack]";
	}
}

/*
 * The innermost of n (> 0) native frames outside the GIL's machinery, named into func, file and
 * line; the outermost when they are all the machinery's. Its index.
 */
static int own_frame(struct stacks *s, const __u64 *ips, int n, char *func, size_t len,
		     char *file, size_t file_len, int *line)
{
	for (int i = 0;; i++) {
		symbolizer_name(&s->sym, ips[i], i > 0, func, len, file, file_len, line);
		if (i == n - 1 || !is_gil_frame(func, file))
			return i;
	}
}

/*
 * Where a holder or a waiter was: its innermost Python frame, or its innermost native frame
 * outside the GIL's machinery, or why there is none.
 */
static void place_of(struct stacks *s, __s32 stack_id, __u64 py_key, struct stack_row *r)
{
	__u64 ips[STACK_MAX_DEPTH + 1] = {};
	struct py_stack ps;
	bool truncated;
	int n;

	r->file[0] = '\0';
	r->line = 0;
	if (py_stack_of(s, py_key, &ps)) {
		struct py_code *pc = py_innermost(s, &ps);

		if (pc) {
			snprintf(r->func, sizeof(r->func), "%s", pc->func);
			snprintf(r->file, sizeof(r->file), "%s", pc->file);
			r->line = pc->line;
			return;
		}
	}
	n = native_frames(s, stack_id, ips, &truncated);
	if (n)
		own_frame(s, ips, n, r->func, sizeof(r->func), r->file, sizeof(r->file), &r->line);
	else
		snprintf(r->func, sizeof(r->func), "%s", stack_reason(stack_id));
}

static bool same_place(const struct stack_row *a, const struct stack_row *b)
{
	return a->tgid == b->tgid && a->tid == b->tid && a->line == b->line &&
	       !strcmp(a->func, b->func) && !strcmp(a->file, b->file);
}

static struct stack_row *row_of(struct stack_row **rows, size_t *nr, const struct stack_row *r)
{
	struct stack_row *grown;

	for (size_t i = 0; i < *nr; i++)
		if (same_place(&(*rows)[i], r))
			return &(*rows)[i];
	grown = realloc(*rows, (*nr + 1) * sizeof(**rows));
	if (!grown)
		return NULL;
	*rows = grown;
	grown[*nr] = *r;
	memset(&grown[*nr].wait, 0, sizeof(grown[*nr].wait));
	grown[*nr].hold_ns = grown[*nr].forced = 0;
	return &grown[(*nr)++];
}

static int row_cmp(const void *a, const void *b)
{
	const struct stack_row *x = a, *y = b;

	return x->wait.total_ns < y->wait.total_ns ? 1 : x->wait.total_ns > y->wait.total_ns ? -1 : 0;
}

static struct stack_pair *pair_of(struct stacks *s, const struct stack_row *h,
				  const struct stack_row *w)
{
	struct stack_pair *grown;

	for (size_t i = 0; i < s->nr_pairs; i++)
		if (same_place(&s->pairs[i].holder, h) && same_place(&s->pairs[i].waiter, w))
			return &s->pairs[i];
	grown = realloc(s->pairs, (s->nr_pairs + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	s->pairs = grown;
	grown = &s->pairs[s->nr_pairs++];
	grown->holder = *h;
	grown->waiter = *w;
	memset(&grown->holder.wait, 0, sizeof(grown->holder.wait));
	return grown;
}

static int pair_cmp(const void *a, const void *b)
{
	return row_cmp(&((const struct stack_pair *)a)->holder,
		       &((const struct stack_pair *)b)->holder);
}

int stacks_read(struct stacks *s)
{
	static const struct stack_stats none;
	int err;

	stacks_refresh(s);
	err = read_entries(s);
	if (err)
		return err;
	s->nr_holders = s->nr_waiters = s->nr_pairs = 0;
	for (size_t i = 0; i < s->nr_cur; i++) {
		const struct stack_entry *e = &s->cur[i];
		/* bsearch() is not defined on a NULL array, even of no entries */
		const struct stack_entry *old =
			s->nr_prev ? bsearch(e, s->prev, s->nr_prev, sizeof(*s->prev), entry_cmp)
				   : NULL;
		const struct stack_stats *p = old ? &old->st : &none;
		struct stack_row r = {.tgid = e->key.tgid}, held, *h, *w;
		struct stack_pair *pair;
		struct hist d;

		hist_sub(&d, &e->st.wait, &p->wait, s->o.unit_ns);
		if (!d.count)
			continue;
		r.tid = e->key.holder_tid;
		snapshot_task_comm(s->o.comm_fd, r.tgid, r.tid, r.comm, sizeof(r.comm));
		place_of(s, e->key.holder_stack, e->key.holder_py, &r);
		h = row_of(&s->holders, &s->nr_holders, &r);
		held = r;
		r.tid = e->key.waiter_tid;
		snapshot_task_comm(s->o.comm_fd, r.tgid, r.tid, r.comm, sizeof(r.comm));
		place_of(s, e->key.waiter_stack, e->key.waiter_py, &r);
		w = row_of(&s->waiters, &s->nr_waiters, &r);
		pair = pair_of(s, &held, &r);
		if (!h || !w || !pair)
			return -ENOMEM;
		hist_merge(&h->wait, &d);
		hist_merge(&w->wait, &d);
		hist_merge(&pair->holder.wait, &d);
		h->hold_ns += e->st.hold_ns - p->hold_ns;
		h->forced += e->st.forced - p->forced;
	}
	if (s->nr_holders)
		qsort(s->holders, s->nr_holders, sizeof(*s->holders), row_cmp);
	if (s->nr_waiters)
		qsort(s->waiters, s->nr_waiters, sizeof(*s->waiters), row_cmp);
	if (s->nr_pairs)
		qsort(s->pairs, s->nr_pairs, sizeof(*s->pairs), pair_cmp);
	return 0;
}

void stacks_set_errors(struct stacks *s, __u64 read_errors, __u64 stack_errors)
{
	s->read_errors = read_errors;
	s->stack_errors = stack_errors;
}

static void place_text(const struct stack_row *r, char *buf, size_t len)
{
	const char *base = strrchr(r->file, '/') ? strrchr(r->file, '/') + 1 : r->file;

	if (!r->file[0])
		snprintf(buf, len, "-");
	else if (r->line)
		snprintf(buf, len, "%s:%d", base, r->line);
	else
		snprintf(buf, len, "%s", base);
}

static void print_rows(struct stacks *s, FILE *f, const struct stack_row *rows, size_t nr,
		       bool holders)
{
	char place[80], place_esc[4 * 80], comm[4 * TASK_COMM_LEN], func[4 * MAX_FRAME_LEN];

	fprintf(f, "%-7s %-15s %-32s %-24s %6s %10s %9s %9s", "TID", "THREAD", "FUNCTION",
		"FILE:LINE", "WAITS", "TOTAL-ms", "P99-ms", "MAX-ms");
	if (holders)
		fprintf(f, " %10s %6s", "HOLD-ms", "FORCED");
	fprintf(f, "\n");
	for (size_t i = 0; i < nr; i++) {
		const struct stack_row *r = &rows[i];

		place_text(r, place, sizeof(place));
		/* names the traced program chose: its thread's, its functions', its files' */
		safeio_escape(r->comm, comm, sizeof(comm));
		safeio_escape(r->func, func, sizeof(func));
		safeio_escape(place, place_esc, sizeof(place_esc));
		fprintf(f, "%-7u %-15s %-32.32s %-24.24s %6llu %10.3f %9.3f %9.3f", r->tid,
			comm, func, place_esc, (unsigned long long)r->wait.count,
			r->wait.total_ns / 1e6,
			hist_percentile_ns(&r->wait, 99, s->o.unit_ns) / 1e6, r->wait.max_ns / 1e6);
		if (holders)
			fprintf(f, " %10.3f %6llu", r->hold_ns / 1e6, (unsigned long long)r->forced);
		fprintf(f, "\n");
	}
}

/* "THREAD (TID) FUNCTION FILE:LINE" of a row, its names escaped, cut to width. */
static void who_text(const struct stack_row *r, char *buf, size_t len)
{
	char place[MAX_FRAME_LEN + 16], who[3 * MAX_FRAME_LEN + 64];

	place_text(r, place, sizeof(place));
	snprintf(who, sizeof(who), "%s (%u) %s %s", r->comm, r->tid, r->func, place);
	safeio_escape(who, buf, len);
}

/* The pairs that waited most: X held the GIL (at its release) while Y waited (where it asked). */
static void print_pairs(struct stacks *s, FILE *f)
{
	char held[4 * 60], waited[4 * 60];

	fprintf(f, "\nWho held the GIL while whom waited (the %d pairs that waited most):\n",
		MAX_PAIRS_SHOWN);
	fprintf(f, "%-52s %-52s %6s %10s\n", "HELD BY (THREAD, FUNCTION, FILE:LINE)",
		"WHILE WAITING", "WAITS", "TOTAL-ms");
	for (size_t i = 0; i < s->nr_pairs && i < MAX_PAIRS_SHOWN; i++) {
		const struct stack_pair *p = &s->pairs[i];

		who_text(&p->holder, held, sizeof(held));
		who_text(&p->waiter, waited, sizeof(waited));
		fprintf(f, "%-52.52s %-52.52s %6llu %10.3f\n", held, waited,
			(unsigned long long)p->holder.wait.count, p->holder.wait.total_ns / 1e6);
	}
}

void stacks_print_text(struct stacks *s, FILE *f, const char *unit_name)
{
	fprintf(f, "\nWho made the others wait (waits of %.3f ms or more, charged to the holder's "
		   "stack at its release):\n",
		s->o.min_wait_ns / 1e6);
	if (!s->nr_holders) {
		fprintf(f, "     (none)\n");
	} else {
		print_rows(s, f, s->holders, s->nr_holders, true);
		fprintf(f, "\nWho waited (where each asked for the GIL):\n");
		print_rows(s, f, s->waiters, s->nr_waiters, false);
		print_pairs(s, f);
	}
	if (s->codes.nr_unknown) {
		const char *sep = " ";

		fprintf(f, "note: %zu Python functions could not be named and are shown as [unknown]:",
			s->codes.nr_unknown);
		for (size_t i = 0; i < PY_CODE_REASONS; i++) {
			size_t n = py_code_unknown(&s->codes, py_code_reasons[i]);

			if (!n)
				continue;
			fprintf(f, "%s%zu %s", sep, n, py_code_reasons[i]);
			sep = ", ";
		}
		fputc('\n', f);
	}
	if (s->read_errors)
		fprintf(f, "note: %llu Python stacks ended at a frame that could not be read (freed "
			   "memory, a chain changing under the reader): they are cut there\n",
			(unsigned long long)s->read_errors);
	if (s->stack_errors)
		fprintf(f, "note: %llu stacks were not recorded (a full map, or an unreadable user "
			   "stack)\n",
			(unsigned long long)s->stack_errors);
}

/* Who and where: a row's thread and the place it was at. */
static void json_place_fields(struct json *j, const struct stack_row *r)
{
	json_u64(j, "tid", r->tid);
	json_string(j, "comm", r->comm);
	json_string(j, "function", r->func);
	json_string(j, "file", r->file);
	json_u64(j, "line", r->line > 0 ? r->line : 0);
}

static void json_rows(struct stacks *s, struct json *j, const char *key,
		      const struct stack_row *rows, size_t nr, bool holders)
{
	json_array_begin(j, key);
	for (size_t i = 0; i < nr; i++) {
		const struct stack_row *r = &rows[i];

		json_object_begin(j, NULL);
		json_u64(j, "pid", r->tgid);
		json_place_fields(j, r);
		json_u64(j, "waits", r->wait.count);
		json_u64(j, "total_ns", r->wait.total_ns);
		json_u64(j, "p99_ns", hist_percentile_ns(&r->wait, 99, s->o.unit_ns));
		json_u64(j, "max_ns", r->wait.max_ns);
		if (holders) {
			json_u64(j, "hold_ns", r->hold_ns);
			json_u64(j, "forced", r->forced);
		}
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_place(struct json *j, const char *key, const struct stack_row *r)
{
	json_object_begin(j, key);
	json_place_fields(j, r);
	json_object_end(j);
}

static void json_pairs(struct stacks *s, struct json *j)
{
	json_array_begin(j, "pairs");
	for (size_t i = 0; i < s->nr_pairs; i++) {
		const struct stack_pair *p = &s->pairs[i];

		json_object_begin(j, NULL);
		json_u64(j, "pid", p->holder.tgid);
		json_place(j, "holder", &p->holder);
		json_place(j, "waiter", &p->waiter);
		json_u64(j, "waits", p->holder.wait.count);
		json_u64(j, "total_ns", p->holder.wait.total_ns);
		json_object_end(j);
	}
	json_array_end(j);
}

void stacks_print_json(struct stacks *s, struct json *j)
{
	json_object_begin(j, "stacks");
	json_u64(j, "min_wait_ns", s->o.min_wait_ns);
	json_rows(s, j, "holders", s->holders, s->nr_holders, true);
	json_rows(s, j, "waiters", s->waiters, s->nr_waiters, false);
	json_pairs(s, j);
	json_u64(j, "frame_read_errors", s->read_errors);
	json_object_begin(j, "unknown_functions");
	for (size_t i = 0; i < PY_CODE_REASONS; i++)
		json_u64(j, py_code_reasons[i], py_code_unknown(&s->codes, py_code_reasons[i]));
	json_object_end(j);
	json_u64(j, "stack_errors", s->stack_errors);
	json_object_end(j);
}

/* A Python frame's name: "function (file:line)", or what there is of it; false for an entry frame. */
static bool py_frame_name(struct stacks *s, __u64 code, char *out)
{
	struct py_code *pc = py_code_of(s, code, true);
	const char *base = pc && strrchr(pc->file, '/') ? strrchr(pc->file, '/') + 1
							 : pc ? pc->file : "";

	if (pc && pc->entry)
		return false;
	if (pc && pc->file[0])
		snprintf(out, MAX_FRAME_LEN, "%.120s (%.100s:%d)", pc->func, base, pc->line);
	else
		snprintf(out, MAX_FRAME_LEN, "%s", pc ? pc->func : "?");
	return true;
}

static void reverse_frames(char (*out)[MAX_FRAME_LEN], int n)
{
	char tmp[MAX_FRAME_LEN];

	for (int i = 0, j = n - 1; i < j; i++, j--) {
		memcpy(tmp, out[i], sizeof(tmp));
		memcpy(out[i], out[j], sizeof(tmp));
		memcpy(out[j], tmp, sizeof(tmp));
	}
}

/* The frames one side of a wait can have: its stack and two marks. */
#define MAX_SIDE_FRAMES (STACK_MAX_DEPTH + PY_MAX_FRAMES + 2)

/*
 * The frames of one side of a wait into out, each at most MAX_FRAME_LEN: its Python frames when it
 * has any, else its native ones. A holder's run outermost first, a flame graph's tower; a
 * waiter's innermost first from where it asked for the GIL, past the GIL's own machinery, so that
 * they stand on the holder's as the waker's stack stands on the blocked one in a wake-up flame
 * graph. A stack cut at the limit has "[truncated]" at its outer end, one cut at an unreadable
 * frame "[unreadable frame]".
 */
static int frames_of(struct stacks *s, __s32 stack_id, __u64 py_key, bool innermost_first,
		     char (*out)[MAX_FRAME_LEN])
{
	__u64 ips[STACK_MAX_DEPTH + 1] = {};
	char func[MAX_FRAME_LEN], file[MAX_FRAME_LEN];
	int n = 0, nr, first = 0, line;
	struct py_stack ps;
	bool truncated;

	if (py_stack_of(s, py_key, &ps) && ps.depth) {
		/* the depth comes from a map: never beyond the frames the entry has */
		for (int i = 0; i < (int)ps.depth && i < PY_MAX_FRAMES; i++)
			n += py_frame_name(s, ps.code[i], out[n]);
		if (ps.flags & PY_STACK_READ_FAILED)
			snprintf(out[n++], MAX_FRAME_LEN, "[unreadable frame]");
		truncated = ps.flags & PY_STACK_TRUNCATED;
	} else {
		nr = native_frames(s, stack_id, ips, &truncated);
		if (!nr) {
			snprintf(out[n++], MAX_FRAME_LEN, "%s", stack_reason(stack_id));
			return n;
		}
		/* a waiter's innermost frames are the wait itself */
		if (innermost_first)
			first = own_frame(s, ips, nr, func, sizeof(func), file, sizeof(file), &line);
		for (int i = first; i < nr; i++)
			symbolizer_name(&s->sym, ips[i], i > 0, out[n++], MAX_FRAME_LEN, NULL, 0,
					NULL);
	}
	if (truncated)
		snprintf(out[n++], MAX_FRAME_LEN, "[truncated]");
	if (!innermost_first)
		reverse_frames(out, n);
	return n;
}

#define MAX_FOLDED_FRAMES (2 * MAX_SIDE_FRAMES + 1)

/* "X held the GIL while Y waited" as one path: the holder's frames, the separator, the waiter's. */
static int pair_frames(struct stacks *s, const struct stack_key *k, char (*out)[MAX_FRAME_LEN])
{
	int n = frames_of(s, k->holder_stack, k->holder_py, false, out);

	snprintf(out[n++], MAX_FRAME_LEN, "%s", FLAME_SEPARATOR);
	return n + frames_of(s, k->waiter_stack, k->waiter_py, true, out + n);
}

/* Folded stacks: "frame;frame;frame weight", weight = wait in us; ';' in a name becomes ':'. */
static void fold(struct stacks *s, FILE *f, const struct stack_entry *e)
{
	static char frames[MAX_FOLDED_FRAMES][MAX_FRAME_LEN];
	int n = pair_frames(s, &e->key, frames);

	for (int i = 0; i < n; i++) {
		for (char *c = frames[i]; *c; c++)
			if (*c == ';' || *c == '\n')
				*c = ':';
		fprintf(f, "%s%s", i ? ";" : "", frames[i]);
	}
	fprintf(f, " %llu\n", (unsigned long long)((e->st.wait.total_ns + 500) / 1000));
}

int stacks_write_folded(struct stacks *s, FILE *f)
{
	for (size_t i = 0; i < s->nr_cur; i++)
		if (s->cur[i].st.wait.total_ns >= 500)
			fold(s, f, &s->cur[i]);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

int stacks_write_flamegraph(struct stacks *s, FILE *f, const char *title)
{
	static char frames[MAX_FOLDED_FRAMES][MAX_FRAME_LEN];
	struct flame_node root = {.name = "all"};
	int err;

	for (size_t i = 0; i < s->nr_cur; i++) {
		int nr = pair_frames(s, &s->cur[i].key, frames);

		flamegraph_add(&root, frames, nr, s->cur[i].st.wait.total_ns / 1000);
	}
	err = flamegraph_write(f, &root, title, s->o.min_wait_ns);
	flamegraph_free(&root);
	return err;
}
