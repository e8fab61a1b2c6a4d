/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgil: CPython's global interpreter lock ("new GIL", 3.2-3.13, Python/ceval_gil.c) as a C
 * library, with USDT probes (provider "gil") that gilstat attaches to.
 *
 * A program plays the part of the interpreter: each thread owns a struct gil_thread (CPython's
 * PyThreadState) bound to one struct gil (one per interpreter, PEP 684), runs its "bytecode" only
 * while holding the GIL, calls gil_poll() on every back edge of its loops (the eval breaker), and
 * brackets blocking calls with GIL_BEGIN_ALLOW_THREADS / GIL_END_ALLOW_THREADS.
 */
#ifndef GIL_H
#define GIL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GIL_DEFAULT_INTERVAL_US 5000

struct gil;
struct gil_thread;

/*
 * Who gets the GIL when several want it. GIL_POLICY_CPYTHON is CPython's and the default. With
 * GIL_POLICY_IO_PRIORITY a thread coming back from a blocking call (one that released the GIL
 * itself, through gil_release()) asks a CPU-bound holder to drop at once and is served before the
 * CPU-bound waiters: the convoy fix proposed in bpo-7946. runtime/gil.c explains it.
 */
enum gil_policy {
	GIL_POLICY_CPYTHON = 0,
	GIL_POLICY_IO_PRIORITY,
};

struct gil_opts {
	/* Switch interval in microseconds; 0 means GIL_DEFAULT_INTERVAL_US. */
	long interval_us;
	/* Free-threaded mode (PEP 703): acquire and release return at once. */
	bool nogil;
	/* Keep ground-truth statistics (also turned on by the environment GIL_STATS=1). */
	bool truth;
	/*
	 * The scheduling policy. GIL_POLICY_CPYTHON (0) here lets the environment choose:
	 * GIL_POLICY=io-priority (or cpython); gil_new() fails with EINVAL for any other value.
	 */
	enum gil_policy policy;
};

/*
 * The ground truth: what the GIL itself counted, kept only when asked for (gil_opts.truth,
 * gil_enable_truth() or GIL_STATS=1). A tracer's counts of the same run must equal these.
 */
struct gil_truth {
	uint64_t acquisitions;
	uint64_t switches;	  /* holder changes: CPython's switch_number */
	uint64_t forced_switches; /* holder changes after a release a drop request asked for */
	uint64_t drop_requests;	  /* times a waiter asked the holder to drop */
	uint64_t releases;
	uint64_t voluntary_releases; /* releases no drop request asked for */
	uint64_t wait_ns_total;
	uint64_t wait_ns_max;
	uint64_t hold_ns_total;
	uint64_t hold_ns_max;
};

/* A new GIL, not held by anyone; opts may be NULL. NULL with errno set on failure. */
struct gil *gil_new(const struct gil_opts *opts);
/* Frees a GIL that no thread state is bound to any more. */
void gil_free(struct gil *gil);

/*
 * sys.setswitchinterval() in microseconds: -EINVAL for interval_us <= 0 or NaN (Python raises
 * ValueError); a positive value below 1 us is clamped to 1 us, the shortest timed wait the
 * runtime makes. Takes effect at the next wait.
 */
int gil_set_interval_us(struct gil *gil, double interval_us);
long gil_interval_us(const struct gil *gil);
bool gil_is_nogil(const struct gil *gil);

/* The policy of a GIL; -EINVAL for an unknown one. Takes effect at the next acquisition. */
int gil_set_policy(struct gil *gil, enum gil_policy policy);
enum gil_policy gil_policy(const struct gil *gil);
/* "cpython", "io-priority"; NULL for an unknown policy. */
const char *gil_policy_name(enum gil_policy policy);
/* The policy a name stands for; -EINVAL for an unknown name. */
int gil_policy_from_name(const char *name);

/* The ground truth of the whole GIL or of one thread; zeros while it is not kept. */
void gil_enable_truth(struct gil *gil, bool on);
bool gil_truth_enabled(const struct gil *gil);
void gil_get_truth(const struct gil *gil, struct gil_truth *out);
void gil_thread_get_truth(const struct gil_thread *t, struct gil_truth *out);

/* A thread state bound to gil, for the calling thread; it does not hold the GIL yet. */
struct gil_thread *gil_thread_new(struct gil *gil);
/* Releases the GIL if t holds it, then frees t. Call from the thread that owns t. */
void gil_thread_free(struct gil_thread *t);
struct gil *gil_thread_gil(const struct gil_thread *t);

/* take_gil() and drop_gil(): block until t holds the GIL; give it up. */
void gil_acquire(struct gil_thread *t);
void gil_release(struct gil_thread *t);
bool gil_held(const struct gil_thread *t);

/*
 * The eval breaker. Every struct gil_thread begins with this word so that gil_poll(), called on
 * every back edge, costs a single relaxed load when nothing is pending, as CPython 3.13's
 * per-thread eval_breaker does. A waiter that wants the GIL sets a bit here in the holder's state.
 */
struct gil_eval_breaker {
	atomic_uint bits;
};

/* Slow path of gil_poll(): honours a drop request by dropping and re-taking the GIL. */
void gil_handle_pending(struct gil_thread *t);

static inline void gil_poll(struct gil_thread *t)
{
	struct gil_eval_breaker *eb = (struct gil_eval_breaker *)t;

	if (__builtin_expect(atomic_load_explicit(&eb->bits, memory_order_relaxed) != 0, 0))
		gil_handle_pending(t);
}

/*
 * Py_BEGIN_ALLOW_THREADS / Py_END_ALLOW_THREADS: around a blocking call or a loop that touches no
 * interpreter state, so that other threads run meanwhile. The two must pair in one block.
 */
#define GIL_BEGIN_ALLOW_THREADS(t)                                                                 \
	{                                                                                          \
		struct gil_thread *_gil_save = (t);                                                \
		gil_release(_gil_save);
#define GIL_END_ALLOW_THREADS                                                                      \
		gil_acquire(_gil_save);                                                            \
	}

#ifdef __cplusplus
}
#endif
#endif /* GIL_H */
