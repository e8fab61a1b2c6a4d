// SPDX-License-Identifier: GPL-2.0
/*
 * What the scenarios share: the emulated bytecode, the "interpreters" and their ground truth.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gilwork.h"
#include "now_ns.h"

/*
 * CPython 3.11 runs `for i in range(n): total += i` as seven bytecodes per iteration, about
 * 25 ns on this machine (0.25 s for the tutorial's 10,000,000). Dispatch, reference counting and
 * int objects are stood for by a chain of dependent multiply-adds, ~1.2 ns each here: each
 * iteration's chain starts from the previous one's result, as each bytecode starts from the
 * interpreter state the previous one left, so the CPU cannot overlap iterations and the compiler
 * can neither fold nor vectorise them. gw_additions_per_sec() measures what this costs elsewhere.
 */
#define BYTECODE_STEPS_PER_ADD 20

/*
 * Every 256th iteration touches the interpreter's shared counter, as bytecode now and then
 * touches an object other threads use too. Not every iteration: in the free-threaded mode the
 * counter's cache line would bounce between cores on every addition and hide the scaling.
 */
#define SHARED_TOUCH_MASK 0xffu

/* Where a chain's result goes, so that it is not computed for nothing. */
static volatile uint64_t bytecode_sink;

static inline uint64_t bytecode_cost(uint64_t state)
{
	for (unsigned int k = 0; k < BYTECODE_STEPS_PER_ADD; k++) {
		state = state * 6364136223846793005ull + 1442695040888963407ull;
		__asm__ volatile("" : "+r"(state));
	}
	return state;
}

double gw_now_sec(void)
{
	return (double)now_ns() * 1e-9;
}

void gw_sleep_sec(double sec)
{
	struct timespec ts = {
		.tv_sec = (time_t)sec,
		.tv_nsec = (long)((sec - (double)(time_t)sec) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void gw_err(const char *fmt, ...)
{
	va_list ap;

	fputs("gilwork: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Names the calling thread by its role (cpu-1, io, echo), as threading.Thread.name does from
 * CPython 3.14 on: tracers show the kernel's name (comm, at most 15 bytes) beside its id.
 */
void gw_name_thread(const char *fmt, ...)
{
	char name[16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	pthread_setname_np(pthread_self(), name);
}

/* Every GIL this process created, merged by address as a tracer keyed on it would see them. */
static struct gw_gil_truth *process_gils;
static int nr_process_gils;

static int gils_add(struct gw_gil_truth **gils, int *nr, uintptr_t address,
		    const struct gil_truth *s)
{
	struct gw_gil_truth *grown;

	for (int i = 0; i < *nr; i++) {
		if ((*gils)[i].address == address) {
			gw_truth_add(&(*gils)[i].truth, s);
			return 0;
		}
	}
	grown = realloc(*gils, (size_t)(*nr + 1) * sizeof(**gils));
	if (!grown)
		return -ENOMEM;
	*gils = grown;
	grown[*nr].address = address;
	grown[*nr].truth = *s;
	(*nr)++;
	return 0;
}

void gw_truth_add(struct gil_truth *sum, const struct gil_truth *s)
{
	sum->acquisitions += s->acquisitions;
	sum->switches += s->switches;
	sum->forced_switches += s->forced_switches;
	sum->drop_requests += s->drop_requests;
	sum->releases += s->releases;
	sum->voluntary_releases += s->voluntary_releases;
	sum->wait_ns_total += s->wait_ns_total;
	if (s->wait_ns_max > sum->wait_ns_max)
		sum->wait_ns_max = s->wait_ns_max;
	sum->hold_ns_total += s->hold_ns_total;
	if (s->hold_ns_max > sum->hold_ns_max)
		sum->hold_ns_max = s->hold_ns_max;
}

int gw_process_gils(const struct gw_gil_truth **gils, struct gil_truth *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < nr_process_gils; i++)
		gw_truth_add(sum, &process_gils[i].truth);
	*gils = process_gils;
	return nr_process_gils;
}

int gw_interp_init(struct gw_interp *in, const struct gw_opts *opts, double interval_us, bool nogil)
{
	struct gil_opts gopts = {.nogil = nogil};

	memset(in, 0, sizeof(*in));
	in->gil = gil_new(&gopts);
	if (!in->gil) {
		/* gilwork checked GIL_POLICY at start-up: this is something else. */
		gw_err("cannot create a GIL: %s", strerror(errno));
		return -1;
	}
	if (interval_us > 0 && gil_set_interval_us(in->gil, interval_us)) {
		gw_err("switch interval %g us out of range", interval_us);
		gil_free(in->gil);
		return -1;
	}
	if (opts->policy_set)
		gil_set_policy(in->gil, opts->policy);
	return 0;
}

/* Folds the interpreter's ground truth into the row and the process's, and frees its GIL. */
void gw_interp_done(struct gw_interp *in, struct gw_row *row)
{
	uint64_t expected = atomic_load(&in->shared_expected);

	if (gil_truth_enabled(in->gil)) {
		struct gil_truth s;

		gil_get_truth(in->gil, &s);
		row->has_truth = true;
		gw_truth_add(&row->truth, &s);
		if (gils_add(&row->gils, &row->nr_gils, (uintptr_t)in->gil, &s) ||
		    gils_add(&process_gils, &nr_process_gils, (uintptr_t)in->gil, &s))
			gw_err("out of memory: statistics of GIL %p dropped", (void *)in->gil);
	}
	row->shared_updates += expected;
	row->shared_updates_lost += expected - in->shared_refcnt;
	gil_free(in->gil);
	in->gil = NULL;
}

struct gw_row *gw_report_row(struct gw_report *report, const char *mode, const char *reason)
{
	struct gw_row **grown =
		realloc(report->rows, (size_t)(report->nr_rows + 1) * sizeof(*grown));
	struct gw_row *row = calloc(1, sizeof(*row));

	if (grown)
		report->rows = grown;
	if (!grown || !row) {
		free(row);
		gw_err("out of memory");
		exit(1);
	}
	row->mode = mode;
	row->reason = reason;
	report->rows[report->nr_rows++] = row;
	return row;
}

/*
 * cpu_work(n): `total = 0; for i in range(n): total += i`, with the eval breaker polled on the
 * back edge of every iteration, as CPython's JUMP_BACKWARD does. The caller holds the GIL.
 */
uint64_t gw_cpu_work(struct gil_thread *t, struct gw_interp *in, uint64_t n)
{
	uint64_t total = 0, state = 0, touches = 0;

	for (uint64_t i = 0; i < n; i++) {
		state = bytecode_cost(state + i);
		total += i;
		__asm__ volatile("" : "+r"(total));
		if ((i & SHARED_TOUCH_MASK) == 0) {
			in->shared_refcnt++;
			touches++;
		}
		gil_poll(t);
	}
	atomic_fetch_add(&in->shared_expected, touches);
	bytecode_sink = state;
	return total;
}

/*
 * The same loop as C extension code runs it (NumPy's inner loops): it touches no Python object
 * and never polls the eval breaker, because the caller released the GIL around it.
 */
uint64_t gw_cext_work(uint64_t n)
{
	uint64_t total = 0, state = 0;

	for (uint64_t i = 0; i < n; i++) {
		state = bytecode_cost(state + i);
		total += i;
		__asm__ volatile("" : "+r"(total));
	}
	bytecode_sink = state;
	return total;
}

/* `while not stop: x += 1`: a CPU-bound thread that runs until told to stop. */
void gw_spin(struct gil_thread *t, struct gw_interp *in, const atomic_bool *stop)
{
	uint64_t state = 0, touches = 0;

	for (uint64_t i = 0; !atomic_load_explicit(stop, memory_order_relaxed); i++) {
		state = bytecode_cost(state + i);
		if ((i & SHARED_TOUCH_MASK) == 0) {
			in->shared_refcnt++;
			touches++;
			/* Published as it runs, so that another thread can time a stretch of it. */
			atomic_fetch_add_explicit(&in->spin_iterations, SHARED_TOUCH_MASK + 1,
						  memory_order_relaxed);
		}
		gil_poll(t);
	}
	atomic_fetch_add(&in->shared_expected, touches);
	bytecode_sink = state;
}

/* How fast the emulated bytecode runs here, so that --seconds can size the work. */
double gw_additions_per_sec(void)
{
	const uint64_t n = 1000000;
	double best_sec = 1e9;

	for (int i = 0; i < 2; i++) {
		double start_sec = gw_now_sec(), sec;

		gw_cext_work(n);
		sec = gw_now_sec() - start_sec;
		if (sec < best_sec)
			best_sec = sec;
	}
	return (double)n / best_sec;
}
