// SPDX-License-Identifier: GPL-2.0
/*
 * libgil's unit tests: who may hold a GIL. One thread at a time, however many ask; others run
 * while a holder has released it around a blocking call; one GIL per interpreter, each
 * independent; nobody at all in the free-threaded mode. Conventions: tests/gil_test.h.
 */
#include "gil_test.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_mutual_exclusion_8_threads),
		TEST(test_mutual_exclusion_64_threads),
		TEST(test_allow_threads_lets_others_run),
		TEST(test_per_interpreter_gils_are_independent),
		TEST(test_nogil_lets_everyone_in),
	};

	/* GIL_STATS in the environment must not change what these tests expect. */
	unsetenv("GIL_STATS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
