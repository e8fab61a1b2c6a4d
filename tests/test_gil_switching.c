// SPDX-License-Identifier: GPL-2.0
/*
 * libgil's unit tests: how a GIL changes hands. A waiter asks a spinning holder to drop only
 * after a whole switch interval; the holder drops at its next poll and does not win the GIL back
 * (FORCE_SWITCHING); switch_number counts holder changes; the interval's validation and its 1 us
 * floor. Conventions: tests/gil_test.h.
 */
#include <math.h>

#include "gil_test.h"

/* A spinning holder is made to drop ------------------------------------------------------------ */

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
	 * About one interval: the waiter asks after one, and the holder drops at its next poll
	 * (the forced switch above says it did). Other work on the machine, and ThreadSanitizer,
	 * delay wake-ups and polls by milliseconds: beside `stress-ng --cpu 2` under
	 * ThreadSanitizer none of five waits came under two intervals. So only a holder that kept
	 * the GIL far longer than its next poll fails here.
	 */
	qsort(wait_ns, ROUNDS, sizeof(wait_ns[0]), cmp_u64);
	assert_true(wait_ns[ROUNDS / 2] < 20 * interval_us * NS_PER_US);
}

/* Drop requests wait for a full interval ------------------------------------------------------ */

static void test_drop_request_only_after_full_interval(void **state)
{
	/* The holder lets go by itself well before the interval: nobody asks it to. */
	struct pair early = { .interval_us = 500 * 1000, .hold_us = 20 * 1000, .polls = true };
	/* The holder runs for many intervals, polling: it is asked, and drops. */
	/*
	 * The holder polls until the waiter has the GIL: a loaded machine may start the waiter's
	 * wait late, and a holder that ran for a fixed time could end before anyone asked.
	 */
	struct pair polled = { .interval_us = 5000, .polls = true };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_spinning_holder_drops_within_interval),
		TEST(test_drop_request_only_after_full_interval),
		TEST(test_forced_drop_hands_over),
		TEST(test_switches_count_holder_changes),
		TEST(test_interval_validation),
		TEST(test_shortest_interval_hands_over),
	};

	/* GIL_STATS in the environment must not change what these tests expect. */
	unsetenv("GIL_STATS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
