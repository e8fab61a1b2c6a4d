// SPDX-License-Identifier: GPL-2.0
/*
 * libgil's unit tests: thread states and GILs coming and going. A waiter cancelled in the middle
 * of its wait wedges nobody; the child of fork() starts afresh; freeing a thread state that holds
 * the GIL releases it. Conventions: tests/gil_test.h.
 */
#include <sys/wait.h>

#include "gil_test.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_cancelled_waiter_does_not_wedge),
		TEST(test_fork_child_reinitialises),
		TEST(test_thread_free_releases),
	};

	/* GIL_STATS in the environment must not change what these tests expect. */
	unsetenv("GIL_STATS");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
