// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for libgil (runtime/gil.c). Behaviour is asserted through the ground-truth counters
 * (gil_get_truth(), gil_thread_get_truth()) and through lower bounds on time that the algorithm
 * guarantees (a timed wait never ends early), not through wall-clock upper bounds, except where
 * the point of a test is "about one interval"; those bounds are loose.
 *
 * Worker threads only record what they saw; the main thread asserts, because cmocka longjmps.
 * Every wait has a timeout and every test runs under a watchdog, so a broken GIL fails the test
 * instead of hanging it.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "gil.h"
#include "now_ns.h"

/* Longest a worker waits for another before it gives up and records a failure. */
#define WAIT_TIMEOUT_MS 5000
/* The watchdog: no single test may take longer than this. */
#define TEST_TIMEOUT_S 30

#define NS_PER_US 1000ull
#define NS_PER_MS 1000000ull

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* CPU work that the compiler cannot drop. */
static void burn(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

/* Spins for about us microseconds, calling gil_poll() on every back edge like an eval loop. */
static void spin_polling(struct gil_thread *t, long us)
{
	uint64_t end = now_ns() + (uint64_t)us * NS_PER_US;

	while (now_ns() < end) {
		burn(100);
		gil_poll(t);
	}
}

/* Spins for about us microseconds without ever looking at the eval breaker. */
static void spin_deaf(long us)
{
	uint64_t end = now_ns() + (uint64_t)us * NS_PER_US;

	while (now_ns() < end)
		burn(100);
}

/* Waits until *v >= at_least; false on timeout. */
static bool wait_at_least(atomic_int *v, int at_least, long timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	while (atomic_load(v) < at_least) {
		if (now_ns() > end)
			return false;
		sleep_us(50);
	}
	return true;
}

static bool join_within(pthread_t th, long timeout_ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(th, NULL, &deadline) == 0;
}

static void start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pthread_create(th, NULL, fn, arg), 0);
}

static void join_thread(pthread_t th)
{
	assert_true(join_within(th, WAIT_TIMEOUT_MS));
}

static struct gil *new_gil(long interval_us)
{
	struct gil_opts opts = { .interval_us = interval_us, .truth = true };
	struct gil *gil = gil_new(&opts);

	assert_non_null(gil);
	return gil;
}

static void watchdog_fired(int sig)
{
	static const char msg[] = "not ok - test_gil: a test hung (watchdog)\n";

	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static int arm_watchdog(void **state)
{
	signal(SIGALRM, watchdog_fired);
	alarm(TEST_TIMEOUT_S);
	return 0;
}

static int disarm_watchdog(void **state)
{
	alarm(0);
	return 0;
}

/* Mutual exclusion ------------------------------------------------------------------------- */

#define EXCL_OPS_PER_CYCLE 20

struct excl_shared {
	struct gil *gil;
	int cycles;
	atomic_int ready;
	atomic_int go;
	/* Guarded by the GIL alone; volatile so that every increment really reaches memory. */
	volatile int inside;
	volatile uint64_t work;
	atomic_int violations;
};

struct excl_worker {
	pthread_t th;
	struct excl_shared *sh;
	int cycles_done;
	struct gil_truth stats;
};

static void *excl_thread(void *arg)
{
	struct excl_worker *w = arg;
	struct excl_shared *sh = w->sh;
	struct gil_thread *t = gil_thread_new(sh->gil);

	atomic_fetch_add(&sh->ready, 1);
	wait_at_least(&sh->go, 1, WAIT_TIMEOUT_MS);
	for (int i = 0; i < sh->cycles; i++) {
		gil_acquire(t);
		for (int op = 0; op < EXCL_OPS_PER_CYCLE; op++) {
			/* One "bytecode": with the GIL held nobody else is inside. */
			if (++sh->inside != 1)
				atomic_fetch_add(&sh->violations, 1);
			sh->work++;
			burn(20);
			sh->inside--;
			/* A back edge: a drop request may hand the GIL over here. */
			gil_poll(t);
		}
		gil_release(t);
		w->cycles_done++;
	}
	gil_thread_get_truth(t, &w->stats);
	gil_thread_free(t);
	return NULL;
}

/*
 * Every thread makes `cycles` acquire/release cycles. A gil_poll() that honours a drop request
 * adds an acquisition and a release of its own, always a requested (non-voluntary) one; with an
 * interval longer than the test nobody asks, and the counts are exact.
 */
static void run_mutual_exclusion(int nthreads, int cycles, long interval_us, bool exact)
{
	struct excl_shared sh = { .gil = new_gil(interval_us), .cycles = cycles };
	struct excl_worker *w = calloc(nthreads, sizeof(*w));
	struct gil_truth s, sum = { 0 };
	uint64_t total_cycles = (uint64_t)nthreads * cycles;

	assert_non_null(w);
	for (int i = 0; i < nthreads; i++) {
		w[i].sh = &sh;
		start_thread(&w[i].th, excl_thread, &w[i]);
	}
	assert_true(wait_at_least(&sh.ready, nthreads, WAIT_TIMEOUT_MS));
	atomic_store(&sh.go, 1);
	for (int i = 0; i < nthreads; i++) {
		join_thread(w[i].th);
		assert_int_equal(w[i].cycles_done, cycles);
		sum.acquisitions += w[i].stats.acquisitions;
		sum.releases += w[i].stats.releases;
		sum.switches += w[i].stats.switches;
		sum.forced_switches += w[i].stats.forced_switches;
		sum.drop_requests += w[i].stats.drop_requests;
	}
	gil_get_truth(sh.gil, &s);

	assert_int_equal(atomic_load(&sh.violations), 0);
	assert_int_equal(sh.work, total_cycles * EXCL_OPS_PER_CYCLE);
	assert_int_equal(sh.inside, 0);

	/* The GIL's counters are the sum of its threads'. */
	assert_int_equal(s.acquisitions, sum.acquisitions);
	assert_int_equal(s.releases, sum.releases);
	assert_int_equal(s.switches, sum.switches);
	assert_int_equal(s.forced_switches, sum.forced_switches);
	assert_int_equal(s.drop_requests, sum.drop_requests);

	assert_int_equal(s.acquisitions, s.releases);
	assert_true(s.switches >= (uint64_t)nthreads && s.switches <= s.acquisitions);
	assert_true(s.forced_switches <= s.switches);
	if (exact) {
		assert_int_equal(s.acquisitions, total_cycles);
		assert_int_equal(s.voluntary_releases, total_cycles);
		assert_int_equal(s.drop_requests, 0);
		assert_int_equal(s.forced_switches, 0);
	} else {
		assert_true(s.acquisitions >= total_cycles);
		assert_true(s.acquisitions - total_cycles <= s.releases - s.voluntary_releases);
	}
	gil_free(sh.gil);
	free(w);
}

static void test_mutual_exclusion_8_threads(void **state)
{
	/* No drop request in 10 s: every acquisition is one of the threads' own cycles. */
	run_mutual_exclusion(8, 500, 10 * 1000 * 1000, true);
	/* A short interval: forced switches in the middle of a cycle, at gil_poll(). */
	run_mutual_exclusion(8, 200, 100, false);
}

static void test_mutual_exclusion_64_threads(void **state)
{
	run_mutual_exclusion(64, 100, 10 * 1000 * 1000, true);
	run_mutual_exclusion(64, 50, 200, false);
}

/* A spinning holder is made to drop ------------------------------------------------------------ */

struct pair {
	struct gil *gil;
	long interval_us;
	/* How long the holder runs before it lets go by itself; 0: until the waiter got in. */
	long hold_us;
	/* Does the holder call gil_poll() while it runs? */
	bool polls;
	atomic_int holder_in;
	atomic_int waiter_asking;
	atomic_int waiter_done;
	bool holder_timed_out;
	uint64_t waiter_asked_ns;
	struct gil_truth holder_stats;
	struct gil_truth waiter_stats;
};

static void *pair_holder(void *arg)
{
	struct pair *p = arg;
	struct gil_thread *t = gil_thread_new(p->gil);
	uint64_t end;

	gil_acquire(t);
	atomic_store(&p->holder_in, 1);
	if (p->hold_us) {
		/* Let the waiter get into gil_acquire() first, then run for hold_us. */
		wait_at_least(&p->waiter_asking, 1, WAIT_TIMEOUT_MS);
		sleep_us(2000);
		if (p->polls)
			spin_polling(t, p->hold_us);
		else
			spin_deaf(p->hold_us);
	} else {
		end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;
		while (!atomic_load(&p->waiter_done)) {
			if (now_ns() > end) {
				p->holder_timed_out = true;
				break;
			}
			burn(100);
			gil_poll(t);
		}
	}
	gil_release(t);
	gil_thread_get_truth(t, &p->holder_stats);
	gil_thread_free(t);
	return NULL;
}

static void *pair_waiter(void *arg)
{
	struct pair *p = arg;
	struct gil_thread *t = gil_thread_new(p->gil);

	wait_at_least(&p->holder_in, 1, WAIT_TIMEOUT_MS);
	p->waiter_asked_ns = now_ns();
	atomic_store(&p->waiter_asking, 1);
	gil_acquire(t);
	atomic_store(&p->waiter_done, 1);
	gil_release(t);
	gil_thread_get_truth(t, &p->waiter_stats);
	gil_thread_free(t);
	return NULL;
}

static void run_pair(struct pair *p)
{
	pthread_t holder, waiter;

	p->gil = new_gil(p->interval_us);
	start_thread(&holder, pair_holder, p);
	start_thread(&waiter, pair_waiter, p);
	join_thread(holder);
	join_thread(waiter);
	assert_false(p->holder_timed_out);
	assert_int_equal(p->waiter_stats.acquisitions, 1);
	assert_int_equal(p->waiter_stats.switches, 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_spinning_holder_drops_within_interval(void **state)
{
	enum { ROUNDS = 5 };
	const long interval_us = 5000;
	uint64_t wait_ns[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		struct pair p = { .interval_us = interval_us, .polls = true };
		struct gil_truth s;

		run_pair(&p);
		gil_get_truth(p.gil, &s);
		/* The waiter asked after one interval without a switch, and the holder obeyed. */
		assert_true(p.waiter_stats.drop_requests >= 1);
		assert_int_equal(p.waiter_stats.forced_switches, 1);
		assert_true(s.drop_requests >= 1);
		assert_true(s.forced_switches >= 1);
		/* Dropped once on request, and released once more at the end. */
		assert_true(p.holder_stats.releases - p.holder_stats.voluntary_releases >= 1);
		assert_true(p.waiter_stats.wait_ns_max >= interval_us * NS_PER_US);
		wait_ns[r] = p.waiter_stats.wait_ns_max;
		gil_free(p.gil);
	}
	/*
	 * About one interval: the waiter asks after one, and the holder drops at its next poll.
	 * Other work on the machine delays wake-ups by milliseconds, hence loose bounds.
	 */
	qsort(wait_ns, ROUNDS, sizeof(wait_ns[0]), cmp_u64);
	assert_true(wait_ns[0] < 2 * interval_us * NS_PER_US);
	assert_true(wait_ns[ROUNDS / 2] < 10 * interval_us * NS_PER_US);
}

/* Drop requests wait for a full interval ------------------------------------------------------ */

static void test_drop_request_only_after_full_interval(void **state)
{
	/* The holder lets go by itself well before the interval: nobody asks it to. */
	struct pair early = { .interval_us = 500 * 1000, .hold_us = 20 * 1000, .polls = true };
	/* The holder runs for many intervals, polling: it is asked, and drops. */
	struct pair polled = { .interval_us = 5000, .hold_us = 60 * 1000, .polls = true };
	/* The holder runs for many intervals and never polls: the waiter keeps asking. */
	struct pair deaf = { .interval_us = 5000, .hold_us = 60 * 1000, .polls = false };
	struct gil_truth s;

	run_pair(&early);
	gil_get_truth(early.gil, &s);
	assert_int_equal(s.drop_requests, 0);
	assert_int_equal(s.forced_switches, 0);
	assert_int_equal(early.waiter_stats.drop_requests, 0);
	assert_int_equal(early.holder_stats.releases, 1);
	assert_int_equal(early.holder_stats.voluntary_releases, 1);
	gil_free(early.gil);

	run_pair(&polled);
	gil_get_truth(polled.gil, &s);
	assert_true(s.drop_requests >= 1);
	assert_int_equal(polled.waiter_stats.forced_switches, 1);
	assert_true(polled.waiter_stats.wait_ns_max >= polled.interval_us * NS_PER_US);
	gil_free(polled.gil);

	run_pair(&deaf);
	gil_get_truth(deaf.gil, &s);
	assert_true(s.drop_requests >= 1);
	/* Each request needs a whole interval of waiting without a switch. */
	assert_true(deaf.waiter_stats.drop_requests <=
		    deaf.waiter_stats.wait_ns_max / (deaf.interval_us * NS_PER_US));
	/* The holder never honoured them; its one release came with a request pending. */
	assert_int_equal(deaf.holder_stats.releases, 1);
	assert_int_equal(deaf.holder_stats.voluntary_releases, 0);
	assert_int_equal(deaf.waiter_stats.forced_switches, 1);
	gil_free(deaf.gil);
}

/* Forced switching: the releaser does not win the GIL back ------------------------------------ */

#define ALT_SWITCHES 200
#define ALT_LOG_MAX  (ALT_SWITCHES + 8)

struct alternation {
	struct gil *gil;
	atomic_int ready;
	atomic_int stop;
	uint64_t deadline_ns;
	/* Guarded by the GIL: who ran each stretch of bytecodes, in order. */
	int last_id;
	int log_len;
	unsigned char log[ALT_LOG_MAX];
	struct {
		pthread_t th;
		uint64_t bytecodes;
		struct gil_truth stats;
	} thread[2];
};

struct alt_arg {
	struct alternation *a;
	int id;
};

static void alt_bytecode(struct alternation *a, int id)
{
	if (a->last_id != id) {
		a->last_id = id;
		if (a->log_len < ALT_LOG_MAX)
			a->log[a->log_len] = (unsigned char)id;
		a->log_len++;
		if (a->log_len >= ALT_SWITCHES || now_ns() > a->deadline_ns)
			atomic_store(&a->stop, 1);
	}
	a->thread[id].bytecodes++;
	burn(50);
}

static void *alt_thread(void *arg)
{
	struct alt_arg *aa = arg;
	struct alternation *a = aa->a;
	struct gil_thread *t = gil_thread_new(a->gil);

	atomic_fetch_add(&a->ready, 1);
	wait_at_least(&a->ready, 2, WAIT_TIMEOUT_MS);
	gil_acquire(t);
	for (;;) {
		/* After every acquisition, at least one bytecode: log entries == holder changes. */
		alt_bytecode(a, aa->id);
		if (atomic_load(&a->stop))
			break;
		gil_poll(t);
	}
	gil_release(t);
	gil_thread_get_truth(t, &a->thread[aa->id].stats);
	gil_thread_free(t);
	return NULL;
}

static void test_forced_drop_hands_over(void **state)
{
	struct alternation a = { .gil = new_gil(1000), .last_id = -1 };
	struct alt_arg args[2] = { { &a, 0 }, { &a, 1 } };
	struct gil_truth s;
	uint64_t requested, total;

	a.deadline_ns = now_ns() + 10000 * NS_PER_MS;
	for (int i = 0; i < 2; i++)
		start_thread(&a.thread[i].th, alt_thread, &args[i]);
	for (int i = 0; i < 2; i++)
		join_thread(a.thread[i].th);
	gil_get_truth(a.gil, &s);

	assert_true(a.log_len >= ALT_SWITCHES);
	assert_int_equal(s.switches, (uint64_t)a.log_len);
	for (int i = 1; i < a.log_len && i < ALT_LOG_MAX; i++)
		assert_int_not_equal(a.log[i], a.log[i - 1]);
	/*
	 * Only drop requests end a stretch, and each ends in a switch: a releaser that won the GIL
	 * back would leave a requested release without a forced switch. The first acquisition is
	 * not forced, nor perhaps the one after the final, voluntary release.
	 */
	requested = s.releases - s.voluntary_releases;
	assert_true(s.forced_switches + 2 >= s.switches);
	assert_true(requested <= s.forced_switches + 1);
	/* Both made progress, in comparable shares. */
	total = a.thread[0].bytecodes + a.thread[1].bytecodes;
	for (int i = 0; i < 2; i++) {
		assert_true(a.thread[i].stats.acquisitions >= ALT_SWITCHES / 2 - 1);
		assert_true(a.thread[i].bytecodes * 5 >= total);
	}
	gil_free(a.gil);
}

/* switch_number ------------------------------------------------------------------------------- */

static void test_switches_count_holder_changes(void **state)
{
	struct gil *gil = new_gil(0);
	struct gil_thread *t1 = gil_thread_new(gil), *t2 = gil_thread_new(gil);
	struct gil_truth s, s1, s2;

	/* The first acquisition is a change: from nobody to t1. Re-taking it is not. */
	for (int i = 0; i < 1000; i++) {
		gil_acquire(t1);
		assert_true(gil_held(t1));
		gil_release(t1);
		assert_false(gil_held(t1));
	}
	gil_get_truth(gil, &s);
	assert_int_equal(s.acquisitions, 1000);
	assert_int_equal(s.releases, 1000);
	assert_int_equal(s.voluntary_releases, 1000);
	assert_int_equal(s.switches, 1);
	assert_int_equal(s.forced_switches, 0);
	assert_int_equal(s.drop_requests, 0);

	/* Thread states, not OS threads, are holders (PyThreadState_Swap does the same). */
	gil_acquire(t2);
	gil_release(t2);
	gil_acquire(t1);
	gil_release(t1);
	gil_acquire(t1);
	gil_release(t1);
	gil_get_truth(gil, &s);
	gil_thread_get_truth(t1, &s1);
	gil_thread_get_truth(t2, &s2);
	assert_int_equal(s.switches, 3);
	assert_int_equal(s1.switches, 2);
	assert_int_equal(s2.switches, 1);
	assert_int_equal(s1.acquisitions, 1002);
	assert_int_equal(s2.acquisitions, 1);

	/* A freed state is nobody: whoever takes the GIL next is a change, even its last holder. */
	gil_acquire(t2);
	gil_release(t2);
	gil_thread_free(t2);
	gil_acquire(t1);
	gil_release(t1);
	gil_get_truth(gil, &s);
	assert_int_equal(s.switches, 5);

	/* Statistics switched off count nothing, and switched on again resume. */
	gil_enable_truth(gil, false);
	assert_false(gil_truth_enabled(gil));
	gil_acquire(t1);
	gil_release(t1);
	gil_get_truth(gil, &s);
	assert_int_equal(s.acquisitions, 1005);
	gil_enable_truth(gil, true);
	gil_acquire(t1);
	gil_release(t1);
	gil_get_truth(gil, &s);
	assert_int_equal(s.acquisitions, 1006);

	gil_thread_free(t1);
	gil_free(gil);
}

/* The switch interval ------------------------------------------------------------------------- */

static void test_interval_validation(void **state)
{
	struct gil_opts opts = { .interval_us = -1 };
	struct gil *gil;

	errno = 0;
	assert_null(gil_new(&opts));
	assert_int_equal(errno, EINVAL);

	gil = gil_new(NULL);
	assert_non_null(gil);
	assert_int_equal(gil_interval_us(gil), GIL_DEFAULT_INTERVAL_US);
	assert_int_equal(GIL_DEFAULT_INTERVAL_US, 5000);
	assert_false(gil_is_nogil(gil));

	assert_int_equal(gil_set_interval_us(gil, 0), -EINVAL);
	assert_int_equal(gil_set_interval_us(gil, -0.0), -EINVAL);
	assert_int_equal(gil_set_interval_us(gil, -1), -EINVAL);
	assert_int_equal(gil_set_interval_us(gil, NAN), -EINVAL);
	assert_int_equal(gil_set_interval_us(gil, -INFINITY), -EINVAL);
	/* A rejected value leaves the interval as it was. */
	assert_int_equal(gil_interval_us(gil), 5000);

	assert_int_equal(gil_set_interval_us(gil, 0.5), 0);
	assert_int_equal(gil_interval_us(gil), 1);
	assert_int_equal(gil_set_interval_us(gil, 1e-9), 0);
	assert_int_equal(gil_interval_us(gil), 1);
	assert_int_equal(gil_set_interval_us(gil, 2.7), 0);
	assert_int_equal(gil_interval_us(gil), 2);
	assert_int_equal(gil_set_interval_us(gil, 1e9), 0);
	assert_int_equal(gil_interval_us(gil), 1000000000);
	assert_int_equal(gil_set_interval_us(gil, 4e12), 0);
	assert_int_equal(gil_interval_us(gil), 4000000000000);
	assert_int_equal(gil_set_interval_us(gil, 1e30), -ERANGE);
	assert_int_equal(gil_set_interval_us(gil, INFINITY), -ERANGE);
	assert_int_equal(gil_interval_us(gil), 4000000000000);
	gil_free(gil);

	opts.interval_us = 0;
	gil = gil_new(&opts);
	assert_non_null(gil);
	assert_int_equal(gil_interval_us(gil), GIL_DEFAULT_INTERVAL_US);
	gil_free(gil);
	opts.interval_us = 1234;
	gil = gil_new(&opts);
	assert_non_null(gil);
	assert_int_equal(gil_interval_us(gil), 1234);
	gil_free(gil);
}

/* A 1 us interval is a working GIL too, if a busy one. */
static void test_shortest_interval_hands_over(void **state)
{
	struct pair p = { .interval_us = 1, .polls = true };
	struct gil_truth s;

	run_pair(&p);
	gil_get_truth(p.gil, &s);
	assert_true(s.forced_switches >= 1);
	gil_free(p.gil);
}

/* GIL_BEGIN_ALLOW_THREADS --------------------------------------------------------------------- */

struct allow {
	struct gil *gil;
	atomic_int a_blocking;
	atomic_int b_went;
	bool a_saw_b;
	bool b_held;
	struct gil_truth a_stats, b_stats;
};

static void *allow_a(void *arg)
{
	struct allow *al = arg;
	struct gil_thread *t = gil_thread_new(al->gil);

	gil_acquire(t);
	GIL_BEGIN_ALLOW_THREADS(t)
	atomic_store(&al->a_blocking, 1);
	/* The "blocking call": it ends only if B could take the GIL meanwhile. */
	al->a_saw_b = wait_at_least(&al->b_went, 1, WAIT_TIMEOUT_MS);
	GIL_END_ALLOW_THREADS
	gil_release(t);
	gil_thread_get_truth(t, &al->a_stats);
	gil_thread_free(t);
	return NULL;
}

static void *allow_b(void *arg)
{
	struct allow *al = arg;
	struct gil_thread *t = gil_thread_new(al->gil);

	wait_at_least(&al->a_blocking, 1, WAIT_TIMEOUT_MS);
	gil_acquire(t);
	al->b_held = gil_held(t);
	atomic_store(&al->b_went, 1);
	gil_release(t);
	gil_thread_get_truth(t, &al->b_stats);
	gil_thread_free(t);
	return NULL;
}

static void test_allow_threads_lets_others_run(void **state)
{
	struct allow al = { .gil = new_gil(10 * 1000 * 1000) };
	pthread_t a, b;
	struct gil_truth s;

	start_thread(&a, allow_a, &al);
	start_thread(&b, allow_b, &al);
	join_thread(a);
	join_thread(b);
	assert_true(al.a_saw_b);
	assert_true(al.b_held);
	assert_int_equal(al.a_stats.acquisitions, 2);
	assert_int_equal(al.a_stats.voluntary_releases, 2);
	assert_int_equal(al.b_stats.acquisitions, 1);
	gil_get_truth(al.gil, &s);
	assert_int_equal(s.drop_requests, 0);
	assert_int_equal(s.switches, 3);
	gil_free(al.gil);
}

/* One GIL per interpreter --------------------------------------------------------------------- */

struct interp {
	struct gil *gil;
	atomic_int *inside;
	bool saw_other;
	struct gil_truth stats;
};

static void *interp_thread(void *arg)
{
	struct interp *in = arg;
	struct gil_thread *t = gil_thread_new(in->gil);

	gil_acquire(t);
	atomic_fetch_add(in->inside, 1);
	/* Both hold their own GIL at once, or this times out. */
	in->saw_other = wait_at_least(in->inside, 2, WAIT_TIMEOUT_MS);
	gil_release(t);
	gil_thread_get_truth(t, &in->stats);
	gil_thread_free(t);
	return NULL;
}

static void test_per_interpreter_gils_are_independent(void **state)
{
	atomic_int inside = 0;
	struct interp in[2] = { { .gil = new_gil(1000), .inside = &inside },
				{ .gil = new_gil(1000), .inside = &inside } };
	pthread_t th[2];

	for (int i = 0; i < 2; i++)
		start_thread(&th[i], interp_thread, &in[i]);
	for (int i = 0; i < 2; i++)
		join_thread(th[i]);
	for (int i = 0; i < 2; i++) {
		struct gil_truth s;

		assert_true(in[i].saw_other);
		gil_get_truth(in[i].gil, &s);
		assert_int_equal(s.acquisitions, 1);
		assert_int_equal(s.switches, 1);
		assert_int_equal(s.drop_requests, 0);
		assert_int_equal(in[i].stats.acquisitions, 1);
		gil_free(in[i].gil);
	}
}

/* Free-threaded mode -------------------------------------------------------------------------- */

static void test_nogil_lets_everyone_in(void **state)
{
	struct gil_opts opts = { .nogil = true, .truth = true, .interval_us = 1 };
	atomic_int inside = 0;
	struct interp in[2];
	pthread_t th[2];
	struct gil_truth s;
	struct gil_thread *t;

	in[0] = (struct interp){ .gil = gil_new(&opts), .inside = &inside };
	assert_non_null(in[0].gil);
	assert_true(gil_is_nogil(in[0].gil));
	in[1] = in[0];
	for (int i = 0; i < 2; i++)
		start_thread(&th[i], interp_thread, &in[i]);
	for (int i = 0; i < 2; i++)
		join_thread(th[i]);
	assert_true(in[0].saw_other);
	assert_true(in[1].saw_other);
	assert_int_equal(in[0].stats.acquisitions, 0);

	/* Acquire and release only mark the state; nothing is counted or switched. */
	t = gil_thread_new(in[0].gil);
	for (int i = 0; i < 1000; i++) {
		gil_acquire(t);
		assert_true(gil_held(t));
		gil_poll(t);
		gil_release(t);
	}
	gil_get_truth(in[0].gil, &s);
	assert_int_equal(s.acquisitions, 0);
	assert_int_equal(s.releases, 0);
	assert_int_equal(s.switches, 0);
	assert_int_equal(s.drop_requests, 0);
	gil_thread_free(t);
	gil_free(in[0].gil);
}

/* A waiter that is cancelled ------------------------------------------------------------------ */

struct cancel {
	struct gil *gil;
	atomic_int waiters_in;
	atomic_int waiters_acquired;
	atomic_int holder_in;
	atomic_int holder_go;
	atomic_int holder_stop;
	atomic_int holder_progress;
	bool holder_timed_out;
	struct gil_truth holder_stats;
};

static void free_state(void *t)
{
	gil_thread_free(t);
}

/* A thread that asks for the GIL and, like an exiting Python thread, may die waiting. */
static void *cancel_waiter(void *arg)
{
	struct cancel *c = arg;
	struct gil_thread *t;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	t = gil_thread_new(c->gil);
	pthread_cleanup_push(free_state, t);
	atomic_fetch_add(&c->waiters_in, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	gil_acquire(t);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	atomic_fetch_add(&c->waiters_acquired, 1);
	gil_release(t);
	pthread_cleanup_pop(1);
	return NULL;
}

/* Holds the GIL without polling until told to, then polls once: the drop-request path. */
static void *cancel_holder(void *arg)
{
	struct cancel *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);

	gil_acquire(t);
	atomic_store(&c->holder_in, 1);
	c->holder_timed_out = !wait_at_least(&c->holder_go, 1, WAIT_TIMEOUT_MS);
	gil_poll(t);
	gil_release(t);
	gil_thread_get_truth(t, &c->holder_stats);
	gil_thread_free(t);
	return NULL;
}

/* Spins and polls until told to stop. */
static void *cancel_spinner(void *arg)
{
	struct cancel *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);

	gil_acquire(t);
	atomic_store(&c->holder_in, 1);
	while (!atomic_load(&c->holder_stop)) {
		burn(200);
		atomic_fetch_add(&c->holder_progress, 1);
		gil_poll(t);
	}
	gil_release(t);
	gil_thread_get_truth(t, &c->holder_stats);
	gil_thread_free(t);
	return NULL;
}

static void cancel_and_join(pthread_t th)
{
	assert_int_equal(pthread_cancel(th), 0);
	join_thread(th);
}

static void test_cancelled_waiter_does_not_wedge(void **state)
{
	struct cancel c = { .gil = new_gil(1000) };
	pthread_t holder, w1, w2;
	struct gil_truth s;
	int progress;

	/*
	 * A lone waiter asked for a drop and died: its request is withdrawn, so the holder's next
	 * poll does not drop and wait in vain for a switch.
	 */
	start_thread(&holder, cancel_holder, &c);
	assert_true(wait_at_least(&c.holder_in, 1, WAIT_TIMEOUT_MS));
	start_thread(&w1, cancel_waiter, &c);
	assert_true(wait_at_least(&c.waiters_in, 1, WAIT_TIMEOUT_MS));
	sleep_us(20 * 1000);
	cancel_and_join(w1);
	atomic_store(&c.holder_go, 1);
	join_thread(holder);
	assert_false(c.holder_timed_out);
	assert_int_equal(c.holder_stats.releases, 1);
	assert_int_equal(atomic_load(&c.waiters_acquired), 0);
	gil_free(c.gil);

	/*
	 * Two waiters asked, one died and withdrew the request (as CPython's gh-96387 fix does);
	 * the other asks again after an interval, and the holder drops for it.
	 */
	c = (struct cancel){ .gil = new_gil(1000) };
	start_thread(&holder, cancel_holder, &c);
	assert_true(wait_at_least(&c.holder_in, 1, WAIT_TIMEOUT_MS));
	start_thread(&w1, cancel_waiter, &c);
	start_thread(&w2, cancel_waiter, &c);
	assert_true(wait_at_least(&c.waiters_in, 2, WAIT_TIMEOUT_MS));
	sleep_us(20 * 1000);
	cancel_and_join(w1);
	sleep_us(20 * 1000);
	atomic_store(&c.holder_go, 1);
	join_thread(w2);
	join_thread(holder);
	assert_false(c.holder_timed_out);
	assert_int_equal(atomic_load(&c.waiters_acquired), 1);
	gil_get_truth(c.gil, &s);
	assert_true(s.forced_switches >= 1);
	gil_free(c.gil);

	/*
	 * A holder that keeps dropping on request, and waiters cancelled at random moments, some
	 * while the holder sits in the FORCE_SWITCHING wait for them. The holder must keep going.
	 */
	c = (struct cancel){ .gil = new_gil(20) };
	srand(1);
	start_thread(&holder, cancel_spinner, &c);
	assert_true(wait_at_least(&c.holder_in, 1, WAIT_TIMEOUT_MS));
	for (int i = 0; i < 300; i++) {
		start_thread(&w1, cancel_waiter, &c);
		assert_true(wait_at_least(&c.waiters_in, i + 1, WAIT_TIMEOUT_MS));
		sleep_us(rand() % 200);
		cancel_and_join(w1);
		progress = atomic_load(&c.holder_progress);
		assert_true(wait_at_least(&c.holder_progress, progress + 1, WAIT_TIMEOUT_MS));
	}
	atomic_store(&c.holder_stop, 1);
	join_thread(holder);
	gil_free(c.gil);
}

/* fork() -------------------------------------------------------------------------------------- */

/* In the child, checks numbered by bit; the exit status says which failed. */
#define CHILD_CHECK(failed, bit, cond) ((failed) |= (cond) ? 0 : 1 << (bit))

static bool stats_are_zero(const struct gil_truth *s)
{
	static const struct gil_truth zero;

	return memcmp(s, &zero, sizeof(zero)) == 0;
}

/* The child of a thread that held the GIL: it still holds it, and the GIL works. */
static int child_of_holder(struct gil *gil, struct gil_thread *t)
{
	struct gil_thread *t2;
	struct gil_truth s;
	int failed = 0;

	alarm(5);
	CHILD_CHECK(failed, 0, gil_held(t));
	gil_get_truth(gil, &s);
	CHILD_CHECK(failed, 1, stats_are_zero(&s));
	gil_thread_get_truth(t, &s);
	CHILD_CHECK(failed, 2, stats_are_zero(&s));
	/* The parent's waiter asked for a drop; that request died with it. */
	gil_poll(t);
	CHILD_CHECK(failed, 3, gil_held(t));
	/* A pending request would make this wait for a switch that nobody can make. */
	gil_release(t);
	gil_acquire(t);
	t2 = gil_thread_new(gil);
	gil_release(t);
	gil_acquire(t2);
	gil_release(t2);
	gil_acquire(t);
	gil_get_truth(gil, &s);
	CHILD_CHECK(failed, 4, s.acquisitions == 3 && s.releases == 3);
	CHILD_CHECK(failed, 5, s.switches == 2 && s.forced_switches == 0 && s.drop_requests == 0);
	gil_release(t);
	gil_thread_free(t2);
	gil_thread_free(t);
	/* Aborts if the parent's other thread states were still bound to the GIL. */
	gil_free(gil);
	return failed;
}

/* The child of a thread that did not hold the GIL: nobody holds it. */
static int child_of_waiter(struct gil *gil, struct gil_thread *t)
{
	struct gil_truth s;
	int failed = 0;

	alarm(5);
	CHILD_CHECK(failed, 0, !gil_held(t));
	gil_acquire(t);
	gil_get_truth(gil, &s);
	CHILD_CHECK(failed, 1, s.acquisitions == 1 && s.switches == 1);
	CHILD_CHECK(failed, 2, s.wait_ns_max < 1000 * NS_PER_MS);
	gil_release(t);
	gil_thread_free(t);
	gil_free(gil);
	return failed;
}

static int wait_child(pid_t pid)
{
	uint64_t end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_us(1000);
	}
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_fork_child_reinitialises(void **state)
{
	struct pair p = { .interval_us = 1000 };
	struct gil_thread *t;
	pthread_t waiter;
	pid_t pid;

	/* The main thread holds; a waiter has asked it to drop many times over. */
	p.gil = new_gil(p.interval_us);
	t = gil_thread_new(p.gil);
	gil_acquire(t);
	atomic_store(&p.holder_in, 1);
	start_thread(&waiter, pair_waiter, &p);
	assert_true(wait_at_least(&p.waiter_asking, 1, WAIT_TIMEOUT_MS));
	sleep_us(20 * 1000);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_of_holder(p.gil, t));
	assert_int_equal(wait_child(pid), 0);
	/* The parent is untouched: the waiter still gets its turn. */
	gil_release(t);
	join_thread(waiter);
	assert_int_equal(p.waiter_stats.forced_switches, 1);
	assert_true(p.waiter_stats.drop_requests >= 1);

	/* Now fork from a thread that does not hold the GIL while the waiter's thread holds it. */
	p.holder_in = p.waiter_asking = p.waiter_done = 0;
	p.hold_us = 50 * 1000;
	start_thread(&waiter, pair_holder, &p);
	assert_true(wait_at_least(&p.holder_in, 1, WAIT_TIMEOUT_MS));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child_of_waiter(p.gil, t));
	assert_int_equal(wait_child(pid), 0);
	atomic_store(&p.waiter_asking, 1);
	join_thread(waiter);
	gil_thread_free(t);
	gil_free(p.gil);
}

/* gil_thread_free() --------------------------------------------------------------------------- */

struct freeing {
	struct gil *gil;
	atomic_int holding;
	atomic_int waiter_in;
	atomic_int free_now;
	atomic_int waiter_got_it;
	bool holder_timed_out;
};

static void *freeing_holder(void *arg)
{
	struct freeing *f = arg;
	struct gil_thread *t = gil_thread_new(f->gil);

	gil_acquire(t);
	atomic_store(&f->holding, 1);
	f->holder_timed_out = !wait_at_least(&f->free_now, 1, WAIT_TIMEOUT_MS);
	/* Exits holding the GIL: freeing the state must let the waiter in. */
	gil_thread_free(t);
	return NULL;
}

static void *freeing_waiter(void *arg)
{
	struct freeing *f = arg;
	struct gil_thread *t = gil_thread_new(f->gil);

	wait_at_least(&f->holding, 1, WAIT_TIMEOUT_MS);
	atomic_store(&f->waiter_in, 1);
	gil_acquire(t);
	atomic_store(&f->waiter_got_it, 1);
	gil_release(t);
	gil_thread_free(t);
	return NULL;
}

static void test_thread_free_releases(void **state)
{
	struct freeing f = { .gil = new_gil(10 * 1000 * 1000) };
	pthread_t holder, waiter;
	struct gil_truth s;
	bool waiter_joined;

	start_thread(&holder, freeing_holder, &f);
	start_thread(&waiter, freeing_waiter, &f);
	assert_true(wait_at_least(&f.waiter_in, 1, WAIT_TIMEOUT_MS));
	sleep_us(10 * 1000);
	atomic_store(&f.free_now, 1);
	join_thread(holder);
	waiter_joined = join_within(waiter, WAIT_TIMEOUT_MS);
	if (!waiter_joined) {
		/* Still stuck in gil_acquire(), which is a cancellation point. */
		pthread_cancel(waiter);
		join_thread(waiter);
	}
	assert_true(waiter_joined);
	assert_false(f.holder_timed_out);
	assert_int_equal(atomic_load(&f.waiter_got_it), 1);
	gil_get_truth(f.gil, &s);
	assert_int_equal(s.acquisitions, 2);
	assert_int_equal(s.releases, 2);
	assert_int_equal(s.switches, 2);
	assert_int_equal(s.drop_requests, 0);
	gil_free(f.gil);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, arm_watchdog, disarm_watchdog)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_mutual_exclusion_8_threads),
		TEST(test_mutual_exclusion_64_threads),
		TEST(test_spinning_holder_drops_within_interval),
		TEST(test_drop_request_only_after_full_interval),
		TEST(test_forced_drop_hands_over),
		TEST(test_switches_count_holder_changes),
		TEST(test_interval_validation),
		TEST(test_shortest_interval_hands_over),
		TEST(test_allow_threads_lets_others_run),
		TEST(test_per_interpreter_gils_are_independent),
		TEST(test_nogil_lets_everyone_in),
		TEST(test_cancelled_waiter_does_not_wedge),
		TEST(test_fork_child_reinitialises),
		TEST(test_thread_free_releases),
	};

	/* GIL_STATS in the environment must not change what these tests expect. */
	unsetenv("GIL_STATS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
