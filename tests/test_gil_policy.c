// SPDX-License-Identifier: GPL-2.0
/*
 * libgil's unit tests: GIL_POLICY_IO_PRIORITY, the convoy fix (runtime/gil.c says how it works).
 * A thread back from a blocking call preempts a CPU-bound holder after a slice, not an interval,
 * and is served before CPU-bound waiters; CPU-bound threads, and threads back from I/O among
 * themselves, keep CPython's rules; nothing of this happens under the default policy; a waiter
 * back from I/O that is cancelled leaves nobody behind it. Conventions: tests/gil_test.h.
 */
#include "gil_test.h"

static struct gil *new_policy_gil(long interval_us, enum gil_policy policy)
{
	struct gil *gil = new_gil(interval_us);

	assert_int_equal(gil_set_policy(gil, policy), 0);
	return gil;
}

/* Names, validation, the default, and the environment -------------------------------------- */

static void test_policy_names_and_default(void **state)
{
	struct gil *gil = new_gil(0);

	assert_int_equal(gil_policy(gil), GIL_POLICY_CPYTHON);
	assert_string_equal(gil_policy_name(GIL_POLICY_CPYTHON), "cpython");
	assert_string_equal(gil_policy_name(GIL_POLICY_IO_PRIORITY), "io-priority");
	assert_null(gil_policy_name((enum gil_policy)7));
	assert_int_equal(gil_policy_from_name("io-priority"), GIL_POLICY_IO_PRIORITY);
	assert_int_equal(gil_policy_from_name("cpython"), GIL_POLICY_CPYTHON);
	assert_int_equal(gil_policy_from_name("IO-priority"), -EINVAL);
	assert_int_equal(gil_policy_from_name(""), -EINVAL);
	assert_int_equal(gil_set_policy(gil, (enum gil_policy)7), -EINVAL);
	assert_int_equal(gil_policy(gil), GIL_POLICY_CPYTHON);
	assert_int_equal(gil_set_policy(gil, GIL_POLICY_IO_PRIORITY), 0);
	assert_int_equal(gil_policy(gil), GIL_POLICY_IO_PRIORITY);
	gil_free(gil);
}

static void test_policy_from_environment(void **state)
{
	struct gil_opts opts = { .policy = GIL_POLICY_IO_PRIORITY };
	struct gil *gil;

	setenv("GIL_POLICY", "io-priority", 1);
	gil = gil_new(NULL);
	assert_non_null(gil);
	assert_int_equal(gil_policy(gil), GIL_POLICY_IO_PRIORITY);
	gil_free(gil);

	/* An unknown policy is refused, not ignored. */
	setenv("GIL_POLICY", "fair", 1);
	errno = 0;
	assert_null(gil_new(NULL));
	assert_int_equal(errno, EINVAL);
	/* ...but a policy given in the options does not look at the environment. */
	gil = gil_new(&opts);
	assert_non_null(gil);
	assert_int_equal(gil_policy(gil), GIL_POLICY_IO_PRIORITY);
	gil_free(gil);

	/* Empty is unset. */
	setenv("GIL_POLICY", "", 1);
	gil = gil_new(NULL);
	assert_non_null(gil);
	assert_int_equal(gil_policy(gil), GIL_POLICY_CPYTHON);
	gil_free(gil);
	unsetenv("GIL_POLICY");

	opts.policy = (enum gil_policy)7;
	errno = 0;
	assert_null(gil_new(&opts));
	assert_int_equal(errno, EINVAL);
}

/* A CPU-bound holder, and a thread that comes back from a blocking call ---------------------- */

struct convoy {
	struct gil *gil;
	atomic_int holder_in;
	atomic_int io_done;
	bool holder_timed_out;
	/* The I/O thread released the GIL itself before it asks: it is back from I/O. */
	bool io_released_first;
	uint64_t io_wait_ns;
	struct gil_truth io_truth;
	struct gil_truth holder_truth;
};

/* Spins, polling the eval breaker, until the I/O thread got its turn. */
static void *convoy_cpu(void *arg)
{
	struct convoy *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);
	uint64_t end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;

	gil_acquire(t);
	atomic_store(&c->holder_in, 1);
	while (!atomic_load(&c->io_done)) {
		if (now_ns() > end) {
			c->holder_timed_out = true;
			break;
		}
		burn(100);
		gil_poll(t);
	}
	gil_release(t);
	gil_thread_get_truth(t, &c->holder_truth);
	gil_thread_free(t);
	return NULL;
}

static void *convoy_io(void *arg)
{
	struct convoy *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);
	uint64_t asked_ns;

	if (c->io_released_first) {
		/* Its first turn, before the CPU thread is in: then the "blocking call". */
		gil_acquire(t);
		gil_release(t);
	}
	wait_at_least(&c->holder_in, 1, WAIT_TIMEOUT_MS);
	sleep_us(1000);
	asked_ns = now_ns();
	gil_acquire(t);
	c->io_wait_ns = now_ns() - asked_ns;
	atomic_store(&c->io_done, 1);
	gil_release(t);
	gil_thread_get_truth(t, &c->io_truth);
	gil_thread_free(t);
	return NULL;
}

static void run_convoy(struct convoy *c)
{
	pthread_t cpu, io;

	start_thread(&io, convoy_io, c);
	if (c->io_released_first)
		sleep_us(20 * 1000);
	start_thread(&cpu, convoy_cpu, c);
	join_thread(io);
	join_thread(cpu);
	assert_false(c->holder_timed_out);
}

static void test_io_thread_preempts_cpu_holder_after_a_slice(void **state)
{
	const long interval_us = 500 * 1000;
	struct convoy on = { .gil = new_policy_gil(interval_us, GIL_POLICY_IO_PRIORITY),
			     .io_released_first = true };
	struct convoy off = { .gil = new_policy_gil(interval_us, GIL_POLICY_CPYTHON),
			      .io_released_first = true };

	/* Under the policy: one request, after a slice (10 ms here), one forced switch. */
	run_convoy(&on);
	assert_true(on.io_wait_ns < (uint64_t)interval_us * NS_PER_US / 2);
	/* one; a holder kept off the CPUs for an interval is asked once more per interval */
	assert_true(on.io_truth.drop_requests >= 1);
	assert_true(on.io_truth.drop_requests <= 1 + on.io_wait_ns / (interval_us * NS_PER_US));
	assert_int_equal(on.io_truth.forced_switches, 1);
	assert_int_equal(on.holder_truth.releases - on.holder_truth.voluntary_releases, 1);

	/* CPython's rule on the same GIL: a whole interval first, a timed wait never ends early. */
	run_convoy(&off);
	assert_true(off.io_wait_ns >= (uint64_t)interval_us * NS_PER_US);
	assert_true(off.io_truth.drop_requests >= 1);
	assert_true(off.io_truth.drop_requests <= off.io_wait_ns / (interval_us * NS_PER_US));
	assert_int_equal(off.io_truth.forced_switches, 1);
	gil_free(on.gil);
	gil_free(off.gil);
}

static void test_cpu_bound_waiter_keeps_cpython_rules(void **state)
{
	const long interval_us = 50 * 1000;
	/* A thread that never released the GIL by itself is CPU-bound: it waits an interval. */
	struct convoy c = { .gil = new_policy_gil(interval_us, GIL_POLICY_IO_PRIORITY) };

	run_convoy(&c);
	assert_true(c.io_wait_ns >= (uint64_t)interval_us * NS_PER_US);
	/* one request per whole interval waited: one, unless the holder was kept off the CPUs */
	assert_true(c.io_truth.drop_requests >= 1);
	assert_true(c.io_truth.drop_requests <= c.io_wait_ns / (interval_us * NS_PER_US));
	gil_free(c.gil);
}

/* A holder that is itself back from I/O is not preempted early. */
static void *io_holder(void *arg)
{
	struct convoy *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);
	uint64_t end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;

	gil_acquire(t);
	gil_release(t);
	gil_acquire(t);
	atomic_store(&c->holder_in, 1);
	while (!atomic_load(&c->io_done)) {
		if (now_ns() > end) {
			c->holder_timed_out = true;
			break;
		}
		burn(100);
		gil_poll(t);
	}
	gil_release(t);
	gil_thread_get_truth(t, &c->holder_truth);
	gil_thread_free(t);
	return NULL;
}

static void test_io_threads_take_turns_as_in_cpython(void **state)
{
	const long interval_us = 50 * 1000;
	struct convoy c = { .gil = new_policy_gil(interval_us, GIL_POLICY_IO_PRIORITY),
			    .io_released_first = true };
	pthread_t holder, io;

	start_thread(&io, convoy_io, &c);
	sleep_us(20 * 1000);
	start_thread(&holder, io_holder, &c);
	join_thread(io);
	join_thread(holder);
	assert_false(c.holder_timed_out);
	assert_true(c.io_wait_ns >= (uint64_t)interval_us * NS_PER_US);
	assert_true(c.io_truth.drop_requests >= 1);
	assert_true(c.io_truth.drop_requests <= c.io_wait_ns / (interval_us * NS_PER_US));
	gil_free(c.gil);
}

/* Served before CPU-bound waiters that asked first ------------------------------------------ */

/* Without the preference the I/O thread would be served first one time in ORDER_CPU_WAITERS + 1. */
#define ORDER_CPU_WAITERS 3

struct order {
	struct gil *gil;
	atomic_int holder_in;
	atomic_int cpu_waiting;
	atomic_int io_back;
	atomic_int served;
	atomic_int first_cpu_turn;
	int io_turn;
	atomic_int done;
	bool holder_timed_out;
};

static void *order_holder(void *arg)
{
	struct order *o = arg;
	struct gil_thread *t = gil_thread_new(o->gil);
	uint64_t end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;

	gil_acquire(t);
	atomic_store(&o->holder_in, 1);
	while (atomic_load(&o->done) < ORDER_CPU_WAITERS + 1) {
		if (now_ns() > end) {
			o->holder_timed_out = true;
			break;
		}
		burn(100);
		gil_poll(t);
	}
	gil_release(t);
	gil_thread_free(t);
	return NULL;
}

static void *order_cpu_waiter(void *arg)
{
	struct order *o = arg;
	struct gil_thread *t = gil_thread_new(o->gil);

	int turn;

	wait_at_least(&o->holder_in, 1, WAIT_TIMEOUT_MS);
	atomic_fetch_add(&o->cpu_waiting, 1);
	gil_acquire(t);
	turn = atomic_fetch_add(&o->served, 1);
	if (turn < atomic_load(&o->first_cpu_turn))
		atomic_store(&o->first_cpu_turn, turn);
	gil_release(t);
	atomic_fetch_add(&o->done, 1);
	gil_thread_free(t);
	return NULL;
}

static void *order_io_waiter(void *arg)
{
	struct order *o = arg;
	struct gil_thread *t = gil_thread_new(o->gil);

	gil_acquire(t);
	gil_release(t);
	wait_at_least(&o->io_back, 1, WAIT_TIMEOUT_MS);
	gil_acquire(t);
	o->io_turn = atomic_fetch_add(&o->served, 1);
	gil_release(t);
	atomic_fetch_add(&o->done, 1);
	gil_thread_free(t);
	return NULL;
}

static void test_io_thread_served_before_cpu_waiters(void **state)
{
	/* The CPU-bound waiters would ask after 200 ms; the I/O thread asks after a 4 ms slice. */
	struct order o = { .gil = new_policy_gil(200 * 1000, GIL_POLICY_IO_PRIORITY),
			   .first_cpu_turn = ORDER_CPU_WAITERS + 1 };
	pthread_t holder, cpu[ORDER_CPU_WAITERS], io;

	start_thread(&io, order_io_waiter, &o);
	sleep_us(20 * 1000);
	start_thread(&holder, order_holder, &o);
	for (int i = 0; i < ORDER_CPU_WAITERS; i++)
		start_thread(&cpu[i], order_cpu_waiter, &o);
	assert_true(wait_at_least(&o.cpu_waiting, ORDER_CPU_WAITERS, WAIT_TIMEOUT_MS));
	sleep_us(20 * 1000);
	atomic_store(&o.io_back, 1);
	join_thread(io);
	for (int i = 0; i < ORDER_CPU_WAITERS; i++)
		join_thread(cpu[i]);
	join_thread(holder);
	assert_false(o.holder_timed_out);
	assert_int_equal(o.io_turn, 0);
	assert_int_equal(atomic_load(&o.first_cpu_turn), 1);
	gil_free(o.gil);
}

/* Exclusion and the ground truth, under the policy ------------------------------------------ */

#define MIX_IO_THREADS	3
#define MIX_CPU_THREADS 2
#define MIX_IO_CYCLES	300

struct mix {
	struct gil *gil;
	atomic_int io_left;
	volatile int inside;
	atomic_int violations;
	struct gil_truth truth[MIX_IO_THREADS + MIX_CPU_THREADS];
};

struct mix_arg {
	struct mix *m;
	int id;
};

static void mix_bytecode(struct mix *m, struct gil_thread *t, int ops)
{
	for (int op = 0; op < ops; op++) {
		if (++m->inside != 1)
			atomic_fetch_add(&m->violations, 1);
		burn(20);
		m->inside--;
		gil_poll(t);
	}
}

static void *mix_io(void *arg)
{
	struct mix_arg *a = arg;
	struct mix *m = a->m;
	struct gil_thread *t = gil_thread_new(m->gil);

	for (int i = 0; i < MIX_IO_CYCLES; i++) {
		gil_acquire(t);
		mix_bytecode(m, t, 10);
		gil_release(t);
		sleep_us(50);
	}
	atomic_fetch_sub(&m->io_left, 1);
	gil_thread_get_truth(t, &m->truth[a->id]);
	gil_thread_free(t);
	return NULL;
}

static void *mix_cpu(void *arg)
{
	struct mix_arg *a = arg;
	struct mix *m = a->m;
	struct gil_thread *t = gil_thread_new(m->gil);
	uint64_t end = now_ns() + WAIT_TIMEOUT_MS * NS_PER_MS;

	gil_acquire(t);
	while (atomic_load(&m->io_left) > 0 && now_ns() < end)
		mix_bytecode(m, t, 100);
	gil_release(t);
	gil_thread_get_truth(t, &m->truth[a->id]);
	gil_thread_free(t);
	return NULL;
}

static void test_policy_keeps_exclusion_and_truth(void **state)
{
	enum { N = MIX_IO_THREADS + MIX_CPU_THREADS };
	struct mix m = { .gil = new_policy_gil(1000, GIL_POLICY_IO_PRIORITY),
			 .io_left = MIX_IO_THREADS };
	struct mix_arg args[N];
	pthread_t th[N];
	struct gil_truth s, sum = { 0 };

	for (int i = 0; i < N; i++) {
		args[i] = (struct mix_arg){ .m = &m, .id = i };
		start_thread(&th[i], i < MIX_IO_THREADS ? mix_io : mix_cpu, &args[i]);
	}
	for (int i = 0; i < N; i++)
		join_thread(th[i]);
	for (int i = 0; i < N; i++) {
		sum.acquisitions += m.truth[i].acquisitions;
		sum.releases += m.truth[i].releases;
		sum.switches += m.truth[i].switches;
		sum.forced_switches += m.truth[i].forced_switches;
		sum.drop_requests += m.truth[i].drop_requests;
		sum.voluntary_releases += m.truth[i].voluntary_releases;
	}
	gil_get_truth(m.gil, &s);
	assert_int_equal(atomic_load(&m.violations), 0);
	assert_int_equal(m.inside, 0);
	assert_int_equal(s.acquisitions, sum.acquisitions);
	assert_int_equal(s.releases, sum.releases);
	assert_int_equal(s.switches, sum.switches);
	assert_int_equal(s.forced_switches, sum.forced_switches);
	assert_int_equal(s.drop_requests, sum.drop_requests);
	assert_int_equal(s.voluntary_releases, sum.voluntary_releases);
	assert_int_equal(s.acquisitions, s.releases);
	/*
	 * Every I/O cycle was counted. Not every one ended in a voluntary release: an I/O thread
	 * kept off the CPUs while it holds the GIL (ThreadSanitizer on a loaded machine) gets a
	 * CPU waiter's drop request, and may drop and take the GIL again in its cycle. The I/O
	 * threads had to preempt the CPU ones.
	 */
	for (int i = 0; i < MIX_IO_THREADS; i++) {
		assert_true(m.truth[i].acquisitions >= MIX_IO_CYCLES);
		assert_int_equal(m.truth[i].releases, m.truth[i].acquisitions);
	}
	assert_true(s.forced_switches >= 1 && s.forced_switches <= s.switches);
	assert_true(s.forced_switches <= s.drop_requests);
	gil_free(m.gil);
}

/* A waiter back from I/O that is cancelled ------------------------------------------------- */

struct cancelled_io {
	struct gil *gil;
	atomic_int holder_in;
	atomic_int holder_go;
	atomic_int io_ready;
	atomic_int io_asking;
	atomic_int cpu_in;
	bool holder_timed_out;
};

static void free_state(void *t)
{
	gil_thread_free(t);
}

/* Holds without polling until told to, then releases by itself. */
static void *deaf_holder(void *arg)
{
	struct cancelled_io *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);

	gil_acquire(t);
	atomic_store(&c->holder_in, 1);
	c->holder_timed_out = !wait_at_least(&c->holder_go, 1, WAIT_TIMEOUT_MS);
	gil_release(t);
	gil_thread_free(t);
	return NULL;
}

static void *cancelled_io_waiter(void *arg)
{
	struct cancelled_io *c = arg;
	struct gil_thread *t;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	t = gil_thread_new(c->gil);
	pthread_cleanup_push(free_state, t);
	gil_acquire(t);
	gil_release(t);
	atomic_store(&c->io_ready, 1);
	wait_at_least(&c->holder_in, 1, WAIT_TIMEOUT_MS);
	atomic_store(&c->io_asking, 1);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	gil_acquire(t);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	gil_release(t);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *late_cpu_waiter(void *arg)
{
	struct cancelled_io *c = arg;
	struct gil_thread *t = gil_thread_new(c->gil);

	gil_acquire(t);
	atomic_store(&c->cpu_in, 1);
	gil_release(t);
	gil_thread_free(t);
	return NULL;
}

static void test_cancelled_io_waiter_leaves_nobody_behind(void **state)
{
	/* 1 s interval: the CPU-bound waiter never asks; only a free GIL lets it in. */
	struct cancelled_io c = { .gil = new_policy_gil(1000 * 1000, GIL_POLICY_IO_PRIORITY) };
	pthread_t holder, io, cpu;

	start_thread(&io, cancelled_io_waiter, &c);
	assert_true(wait_at_least(&c.io_ready, 1, WAIT_TIMEOUT_MS));
	start_thread(&holder, deaf_holder, &c);
	assert_true(wait_at_least(&c.io_asking, 1, WAIT_TIMEOUT_MS));
	start_thread(&cpu, late_cpu_waiter, &c);
	/* The I/O waiter asked, after its slice, and sleeps in a timed wait: cancellable. */
	sleep_us(50 * 1000);
	assert_int_equal(pthread_cancel(io), 0);
	join_thread(io);
	/* The holder lets go: the CPU-bound waiter, no longer behind anyone, takes the GIL. */
	atomic_store(&c.holder_go, 1);
	join_thread(holder);
	assert_true(wait_at_least(&c.cpu_in, 1, 500));
	join_thread(cpu);
	assert_false(c.holder_timed_out);
	gil_free(c.gil);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_policy_names_and_default),
		TEST(test_policy_from_environment),
		TEST(test_io_thread_preempts_cpu_holder_after_a_slice),
		TEST(test_cpu_bound_waiter_keeps_cpython_rules),
		TEST(test_io_threads_take_turns_as_in_cpython),
		TEST(test_io_thread_served_before_cpu_waiters),
		TEST(test_policy_keeps_exclusion_and_truth),
		TEST(test_cancelled_io_waiter_leaves_nobody_behind),
	};

	/* GIL_STATS and GIL_POLICY in the environment must not change what these tests expect. */
	unsetenv("GIL_STATS");
	unsetenv("GIL_POLICY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
