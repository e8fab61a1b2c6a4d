// SPDX-License-Identifier: GPL-2.0
/*
 * libgil under random interleavings. For each seed, a few slots each run a chain of threads (a
 * thread exits and a new one takes its place) that make random GIL operations: acquire, release,
 * hold while polling the eval breaker, hold without polling, GIL_BEGIN/END_ALLOW_THREADS,
 * switch interval changes (valid and invalid), exit with or without the GIL; on one GIL or two,
 * with random work and sleeps in between; odd seeds under GIL_POLICY_IO_PRIORITY, even ones under
 * CPython's policy. The main thread then checks the invariants:
 *
 *  - mutual exclusion: never two threads inside one GIL's critical section;
 *  - progress: every seed ends before its deadline (no deadlock, no lost wake-up);
 *  - ground truth: a GIL's counters are the sums of its thread states'; acquisitions equal
 *    releases once every thread is gone; switches equal the holder changes the test itself saw;
 *    forced switches <= switches and <= drop requests; voluntary releases <= releases;
 *  - afterwards the GIL is free (a new thread takes it at once) and gil_free() accepts it.
 *
 * GIL_FUZZ_SEEDS=N runs seeds 1..N (default 100); GIL_FUZZ_SEED=S runs seed S alone (its
 * operations replay exactly, not its interleaving); GIL_FUZZ_SECONDS=T starts no new seed after
 * T seconds (default 8), so that slow runs (valgrind, sanitizers) stay bounded. A failure names
 * its seed. Workers only record; the main thread asserts, because cmocka longjmps.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
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

#define MAX_GILS	2
#define MAX_SLOTS	6
#define DEFAULT_SEEDS	100
#define DEFAULT_SECONDS 8
/* A seed whose threads have not all finished by then has deadlocked. */
#define SEED_DEADLINE_S 60

struct fuzz_gil {
	struct gil *gil;
	atomic_int inside;
	atomic_int violations;
	/* Guarded by the GIL alone: the test's own view of who held it last. */
	unsigned long last_id;
	uint64_t seen_switches;
	/* The statistics of the thread states freed so far, under run->lock. */
	struct gil_truth sum;
	/* Thread states freed while holding the GIL: gil_thread_free() made one more release. */
	uint64_t freed_holding;
};

struct fuzz_run {
	unsigned int seed;
	int nr_gils;
	int nr_slots;
	struct fuzz_gil g[MAX_GILS];
	/* Guards the sums, slots_done and each slot's last; done signals slots_done. */
	pthread_mutex_t lock;
	pthread_cond_t done;
	int slots_done;
	atomic_ulong next_id;
	atomic_int bad_interval_results;
	atomic_int errors;
};

/* A chain of threads; only its current thread touches it. */
struct slot {
	struct fuzz_run *run;
	uint64_t rng;
	int ops_left;
	bool has_prev;
	pthread_t prev;
	pthread_t last;
};

/* splitmix64: every slot of every seed has its own reproducible stream. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int rnd(uint64_t *state, unsigned int n)
{
	return (unsigned int)(next_random(state) % n);
}

static void spin_us(unsigned int us)
{
	uint64_t end = now_ns() + us * 1000ull;

	while (now_ns() < end)
		;
}

/* Mostly short, sometimes longer than a small switch interval, sometimes a yield or a sleep. */
static void random_pause(uint64_t *rng)
{
	unsigned int r = rnd(rng, 100);

	if (r < 50)
		return;
	if (r < 75)
		spin_us(rnd(rng, 50));
	else if (r < 90)
		sched_yield();
	else
		usleep(rnd(rng, 300));
}

static void enter(struct fuzz_gil *fg, unsigned long id)
{
	if (atomic_fetch_add(&fg->inside, 1) != 0)
		atomic_fetch_add(&fg->violations, 1);
	if (fg->last_id != id) {
		fg->seen_switches++;
		fg->last_id = id;
	}
}

static void leave(struct fuzz_gil *fg)
{
	atomic_fetch_sub(&fg->inside, 1);
}

static void set_random_interval(struct fuzz_run *run, struct fuzz_gil *fg, uint64_t *rng)
{
	static const double values[] = {-5, 0, NAN, 0.25, 1, 3, 20, 100, 1000, 5000};
	double v = values[rnd(rng, sizeof(values) / sizeof(values[0]))];
	int want = v > 0 ? 0 : -EINVAL;

	if (gil_set_interval_us(fg->gil, v) != want || gil_interval_us(fg->gil) < 1)
		atomic_fetch_add(&run->bad_interval_results, 1);
}

enum op { OP_TAKE, OP_DROP, OP_HOLD_POLLING, OP_HOLD_DEAF, OP_ALLOW_THREADS, OP_INTERVAL, OP_EXIT };

static enum op pick_op(uint64_t *rng, bool holding)
{
	unsigned int r = rnd(rng, 100);

	if (r < 3)
		return OP_EXIT;
	if (r < 8)
		return OP_INTERVAL;
	if (!holding)
		return OP_TAKE;
	if (r < 40)
		return OP_DROP;
	if (r < 65)
		return OP_HOLD_POLLING;
	if (r < 75)
		return OP_HOLD_DEAF;
	return OP_ALLOW_THREADS;
}

static void *life(void *arg);

/* The slot's last thread tells the main thread which thread to join. */
static void slot_done(struct slot *s)
{
	struct fuzz_run *run = s->run;

	pthread_mutex_lock(&run->lock);
	s->last = pthread_self();
	run->slots_done++;
	pthread_cond_signal(&run->done);
	pthread_mutex_unlock(&run->lock);
}

/* A thread of the slot ends: its state goes, and the next thread starts or the slot ends. */
static void end_life(struct slot *s, struct fuzz_gil *fg, struct gil_thread *t, bool holding)
{
	struct fuzz_run *run = s->run;
	struct gil_truth st;
	pthread_t next;

	if (holding)
		leave(fg);
	gil_thread_get_truth(t, &st);
	pthread_mutex_lock(&run->lock);
	fg->sum.acquisitions += st.acquisitions;
	fg->sum.releases += st.releases;
	fg->sum.switches += st.switches;
	fg->sum.forced_switches += st.forced_switches;
	fg->sum.drop_requests += st.drop_requests;
	fg->sum.voluntary_releases += st.voluntary_releases;
	fg->freed_holding += holding;
	pthread_mutex_unlock(&run->lock);
	gil_thread_free(t);

	if (s->ops_left > 0) {
		s->prev = pthread_self();
		s->has_prev = true;
		if (pthread_create(&next, NULL, life, s) == 0)
			return;
		atomic_fetch_add(&run->errors, 1);
	}
	slot_done(s);
}

static void *life(void *arg)
{
	struct slot *s = arg;
	struct fuzz_run *run = s->run;
	struct fuzz_gil *fg = &run->g[rnd(&s->rng, run->nr_gils)];
	unsigned long id = atomic_fetch_add(&run->next_id, 1) + 1;
	int ops = 1 + (int)rnd(&s->rng, 80);
	struct gil_thread *t;
	bool holding = false;

	if (s->has_prev)
		pthread_join(s->prev, NULL);
	t = gil_thread_new(fg->gil);
	if (!t) {
		atomic_fetch_add(&run->errors, 1);
		s->ops_left = 0;
		slot_done(s);
		return NULL;
	}
	while (ops-- > 0 && s->ops_left > 0) {
		enum op op = pick_op(&s->rng, holding);
		unsigned int n;

		s->ops_left--;
		if (op == OP_EXIT)
			break;
		switch (op) {
		case OP_TAKE:
			gil_acquire(t);
			enter(fg, id);
			holding = true;
			break;
		case OP_DROP:
			leave(fg);
			gil_release(t);
			holding = false;
			break;
		case OP_HOLD_POLLING:
			/* Out of the section around the poll: it may hand the GIL over and back. */
			for (n = rnd(&s->rng, 20); n > 0; n--) {
				spin_us(rnd(&s->rng, 40));
				leave(fg);
				gil_poll(t);
				enter(fg, id);
			}
			break;
		case OP_HOLD_DEAF:
			spin_us(rnd(&s->rng, 200));
			break;
		case OP_ALLOW_THREADS:
			leave(fg);
			GIL_BEGIN_ALLOW_THREADS(t)
			random_pause(&s->rng);
			GIL_END_ALLOW_THREADS
			enter(fg, id);
			break;
		case OP_INTERVAL:
			set_random_interval(run, fg, &s->rng);
			break;
		case OP_EXIT:
			break;
		}
		random_pause(&s->rng);
	}
	end_life(s, fg, t, holding);
	return NULL;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : fallback;
}

/* Runs one seed; a broken invariant fails the test with the seed in the message. */
static void run_seed(unsigned int seed, int force_gils)
{
	static const long intervals_us[] = {1, 10, 50, 200, 1000, 5000};
	struct fuzz_run run = {.seed = seed};
	struct slot slots[MAX_SLOTS];
	uint64_t rng = seed * 0x2545f4914f6cdd1dull;
	struct gil_opts opts = {
		.truth = true,
		.policy = seed % 2 ? GIL_POLICY_IO_PRIORITY : GIL_POLICY_CPYTHON,
	};
	struct timespec deadline;
	int stuck = 0;

	run.nr_gils = force_gils ? force_gils : 1 + (seed % 4 == 3);
	run.nr_slots = 2 + (int)rnd(&rng, MAX_SLOTS - 1);
	opts.interval_us = intervals_us[rnd(&rng, sizeof(intervals_us) / sizeof(intervals_us[0]))];
	pthread_mutex_init(&run.lock, NULL);
	pthread_cond_init(&run.done, NULL);
	for (int i = 0; i < run.nr_gils; i++) {
		run.g[i].gil = gil_new(&opts);
		assert_non_null(run.g[i].gil);
	}
	for (int i = 0; i < run.nr_slots; i++) {
		pthread_t th;

		slots[i] = (struct slot){
			.run = &run,
			.rng = next_random(&rng),
			.ops_left = 50 + (int)rnd(&rng, 250),
		};
		if (pthread_create(&th, NULL, life, &slots[i]))
			fail_msg("seed %u: cannot start a thread", seed);
	}

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += SEED_DEADLINE_S;
	pthread_mutex_lock(&run.lock);
	while (run.slots_done < run.nr_slots && !stuck)
		stuck = pthread_cond_timedwait(&run.done, &run.lock, &deadline) == ETIMEDOUT;
	stuck = run.nr_slots - run.slots_done;
	pthread_mutex_unlock(&run.lock);
	if (stuck)
		fail_msg("seed %u: %d of %d slots still running after %d s: deadlock", seed, stuck,
			 run.nr_slots, SEED_DEADLINE_S);
	for (int i = 0; i < run.nr_slots; i++)
		pthread_join(slots[i].last, NULL);

	if (atomic_load(&run.errors))
		fail_msg("seed %u: could not create threads or thread states", seed);
	if (atomic_load(&run.bad_interval_results))
		fail_msg("seed %u: gil_set_interval_us() returned the wrong result %d times", seed,
			 atomic_load(&run.bad_interval_results));
	for (int i = 0; i < run.nr_gils; i++) {
		struct fuzz_gil *fg = &run.g[i];
		struct gil_truth s;
		struct gil_thread *t;

		if (atomic_load(&fg->violations))
			fail_msg("seed %u, GIL %d: %d times two threads held it at once", seed, i,
				 atomic_load(&fg->violations));
		gil_get_truth(fg->gil, &s);
		if (s.acquisitions != fg->sum.acquisitions || s.switches != fg->sum.switches ||
		    s.forced_switches != fg->sum.forced_switches ||
		    s.drop_requests != fg->sum.drop_requests ||
		    s.releases != fg->sum.releases + fg->freed_holding)
			fail_msg("seed %u, GIL %d: its counters are not the sums of its threads' "
				 "(acquisitions %llu vs %llu, releases %llu vs %llu + %llu)",
				 seed, i, (unsigned long long)s.acquisitions,
				 (unsigned long long)fg->sum.acquisitions,
				 (unsigned long long)s.releases,
				 (unsigned long long)fg->sum.releases,
				 (unsigned long long)fg->freed_holding);
		if (s.acquisitions != s.releases)
			fail_msg("seed %u, GIL %d: %llu acquisitions but %llu releases", seed, i,
				 (unsigned long long)s.acquisitions,
				 (unsigned long long)s.releases);
		if (s.switches != fg->seen_switches)
			fail_msg("seed %u, GIL %d: %llu switches counted, %llu holder changes seen",
				 seed, i, (unsigned long long)s.switches,
				 (unsigned long long)fg->seen_switches);
		if (s.forced_switches > s.switches || s.forced_switches > s.drop_requests ||
		    s.voluntary_releases > s.releases)
			fail_msg("seed %u, GIL %d: forced %llu, switches %llu, drop requests %llu, "
				 "voluntary %llu, releases %llu",
				 seed, i, (unsigned long long)s.forced_switches,
				 (unsigned long long)s.switches,
				 (unsigned long long)s.drop_requests,
				 (unsigned long long)s.voluntary_releases,
				 (unsigned long long)s.releases);

		/* Nobody holds or waits any more: a new thread gets it without a wait. */
		t = gil_thread_new(fg->gil);
		assert_non_null(t);
		gil_acquire(t);
		gil_release(t);
		gil_thread_get_truth(t, &s);
		gil_thread_free(t);
		if (s.drop_requests)
			fail_msg("seed %u, GIL %d: a lone thread had to ask for the GIL", seed, i);
		gil_free(fg->gil);
	}
	pthread_cond_destroy(&run.done);
	pthread_mutex_destroy(&run.lock);
}

static void run_seeds(int force_gils)
{
	int nr_seeds = env_int("GIL_FUZZ_SEEDS", DEFAULT_SEEDS);
	int one_seed = env_int("GIL_FUZZ_SEED", 0);
	uint64_t stop =
		now_ns() + (uint64_t)env_int("GIL_FUZZ_SECONDS", DEFAULT_SECONDS) * 1000000000ull;
	int ran = 0;

	if (one_seed) {
		run_seed((unsigned int)one_seed, force_gils);
		return;
	}
	for (int seed = 1; seed <= nr_seeds && (ran == 0 || now_ns() < stop); seed++, ran++)
		run_seed((unsigned int)seed, force_gils);
	print_message("# %d seeds\n", ran);
}

static void test_random_interleavings(void **state)
{
	run_seeds(0);
}

/* Threads of one process on two GILs (PEP 684), every seed. */
static void test_random_interleavings_two_gils(void **state)
{
	run_seeds(2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_interleavings),
		cmocka_unit_test(test_random_interleavings_two_gils),
	};

	/* The GILs keep statistics and take the seed's policy, whatever the environment. */
	unsetenv("GIL_STATS");
	unsetenv("GIL_POLICY");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
