/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What libgil's unit tests share (tests/test_gil_*.c): timed waits that cannot hang, threads
 * joined with a timeout, CPU work that polls the eval breaker or does not, a GIL that keeps its
 * ground truth, and a watchdog around every test.
 *
 * Behaviour is asserted through the ground-truth counters (gil_get_truth(),
 * gil_thread_get_truth()) and through lower bounds on time that the algorithm guarantees (a timed
 * wait never ends early), not through wall-clock upper bounds, except where the point of a test is
 * "about one interval"; those bounds are loose. Worker threads only record what they saw; the main
 * thread asserts, because cmocka longjmps. Every wait has a timeout and every test runs under the
 * watchdog, so a broken GIL fails the test instead of hanging it.
 */
#ifndef GIL_TEST_H
#define GIL_TEST_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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

static inline void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* CPU work that the compiler cannot drop. */
static inline void burn(int n)
{
	for (volatile int i = 0; i < n; i++)
		;
}

/* Spins for about us microseconds, calling gil_poll() on every back edge like an eval loop. */
static inline void spin_polling(struct gil_thread *t, long us)
{
	uint64_t end = now_ns() + (uint64_t)us * NS_PER_US;

	while (now_ns() < end) {
		burn(100);
		gil_poll(t);
	}
}

/* Spins for about us microseconds without ever looking at the eval breaker. */
static inline void spin_deaf(long us)
{
	uint64_t end = now_ns() + (uint64_t)us * NS_PER_US;

	while (now_ns() < end)
		burn(100);
}

/* Waits until *v >= at_least; false on timeout. */
static inline bool wait_at_least(atomic_int *v, int at_least, long timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	while (atomic_load(v) < at_least) {
		if (now_ns() > end)
			return false;
		sleep_us(50);
	}
	return true;
}

static inline bool join_within(pthread_t th, long timeout_ms)
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

static inline void start_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	assert_int_equal(pthread_create(th, NULL, fn, arg), 0);
}

static inline void join_thread(pthread_t th)
{
	assert_true(join_within(th, WAIT_TIMEOUT_MS));
}

static inline struct gil *new_gil(long interval_us)
{
	struct gil_opts opts = { .interval_us = interval_us, .truth = true };
	struct gil *gil = gil_new(&opts);

	assert_non_null(gil);
	return gil;
}

static inline void watchdog_fired(int sig)
{
	static const char msg[] = "not ok - a test hung (watchdog)\n";

	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

static inline int arm_watchdog(void **state)
{
	signal(SIGALRM, watchdog_fired);
	alarm(TEST_TIMEOUT_S);
	return 0;
}

static inline int disarm_watchdog(void **state)
{
	alarm(0);
	return 0;
}

/*
 * A holder and a waiter: the holder takes the GIL first, then runs until the waiter got in
 * (hold_us 0) or for hold_us, polling the eval breaker or not; the waiter asks once.
 */
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

static inline void *pair_holder(void *arg)
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

static inline void *pair_waiter(void *arg)
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

static inline void run_pair(struct pair *p)
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

#define TEST(f) cmocka_unit_test_setup_teardown(f, arm_watchdog, disarm_watchdog)

#endif /* GIL_TEST_H */
