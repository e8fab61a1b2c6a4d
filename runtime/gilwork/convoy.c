// SPDX-License-Identifier: GPL-2.0
/*
 * The convoy effect (bpo-7946): an I/O thread releases the GIL around every send and recv, and
 * each time it wants it back a CPU-bound thread holds it. Nothing makes the CPU thread let go
 * before the I/O thread's timed wait runs out a whole switch interval and asks it to drop, so a
 * round trip that takes tens of microseconds alone takes one or two intervals.
 *
 * convoy measures round trips alone, then with --threads CPU threads spinning, and how fast the
 * CPU threads run meanwhile; with --policy io-priority it measures the contended phase again under
 * libgil's convoy fix, side by side. interval sweeps the switch interval and the number of CPU
 * threads. The echo peer is a server outside the interpreter, as in the CPython it models
 * (scripts/cpython_experiments.py): a forked process that never takes this GIL.
 *
 * How often the CPU thread gets the GIL during the I/O thread's round trip is a race between
 * the CPU thread's wake-up and the I/O thread's time away around each call, decided by a few
 * microseconds: the I/O thread's holds between the calls, and the peer's turnaround. Both are
 * calibrated below against CPython, as measured on the machines gilwork runs on; the GIL itself
 * (runtime/gil.c) is CPython's and is not tuned.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gilwork.h"

/* Round trips before the clock starts: the first ones pay for the peer's first wake-up. */
#define WARMUP_ROUND_TRIPS 3

/*
 * The interpreter's own work around each call, measured by scripts/convoy-cost.sh: socketpair
 * loops that never block, timed as the thread's CPU time so that other load on the machine does
 * not count (2-CPU VM, 2026-12-07; us per loop, the minimum of 9 x 50,000):
 *
 *                                           C    3.11   3.13   3.14   3.15  (Debian's builds)
 *   send + recv                           1.65   2.05   2.07   2.05   2.15
 *   cpython_experiments.py's I/O loop:           2.24   2.22   2.29   2.29
 *     send, recv, n += 1, perf_counter(), max()
 *   the echo peer's loop: recv, test, send        2.09   2.10   2.11   2.12
 *
 * (pyenv's 3.11.7, built without LTO and PGO: 2.18, 2.47, 2.18.) So CPython's I/O thread
 * interprets 0.59 us per round trip beyond the C calls (3.13-3.15: 0.57-0.64), two uncontended
 * GIL cycles included, which libgil makes here itself (0.04 us each, build/cyclebench): 0.51 us
 * is left, 22 of gilwork's additions at 22.5 ns each (CPU time of `gilwork cpu`, which
 * convoy-cost.sh prints). It falls into three steps: after recv (the call's return), the loop's
 * own work (n += 1, perf_counter(), max()), before send (method lookup, argument parsing) form the
 * hold before send; after send and before recv the hold before recv, half as long. Three equal
 * steps of 7 additions, the first two with gilwork's own clock read between them, give that
 * shape. Until 2026-12-07 this was 27 (2 us per round trip, measured as wall time, which counted
 * time.thread_time()'s own system call and the machine's other load): the I/O thread held the GIL
 * three times as long as CPython's between its calls, and a waking CPU thread found the GIL held,
 * and went back to sleep, that much more often; the convoy was half as bad as CPython's.
 */
#define IO_STEP_ADDITIONS 7

/*
 * The echo peer is a CPython process too: each echo interprets 0.44 us beyond the C calls (its
 * loop above less C's send + recv, 3.11; 0.45-0.47 on 3.13-3.15), its own uncontended GIL cycles
 * included, since this peer takes no GIL: 19 additions, split about evenly around its send, before
 * it (the bytes recv returned, the test, the method call) and after it (back into recv). The
 * second half delays the I/O thread too: the send woke it onto the peer's CPU, which the peer
 * holds until it blocks in recv again.
 */
#define ECHO_STEP_ADDITIONS 9

/* Turns each policy takes when two are compared (--policy). */
#define COMPARE_TURNS 4

static const long default_intervals_us[] = {10000, 5000, 1000, 500, 100, 10, 1};

struct echo_peer {
	pid_t pid;
	/* sock[0] is the I/O thread's end, sock[1] the peer's. */
	int sock[2];
};

struct phase {
	struct gw_interp in;
	int sock;
	double seconds;
	atomic_bool stop;
	atomic_int cpu_running;
	atomic_int cpu_named; /* CPU threads named so far: each takes the next number */
	bool failed;
	uint64_t round_trips;
	/* The CPU threads' iterations over the I/O thread's measured stretch. */
	uint64_t spin_iterations;
	double elapsed_sec;
	double max_round_trip_sec;
	struct gil_truth io_truth;
};

/* The peer's loop: `while b := sock.recv(1): sock.send(b)`, with no GIL to take. */
static void echo_main(int sock)
{
	char c;

	gw_name_thread("echo");
	while (recv(sock, &c, 1, 0) == 1) {
		gw_cext_work(ECHO_STEP_ADDITIONS);
		if (send(sock, &c, 1, MSG_NOSIGNAL) != 1)
			break;
		gw_cext_work(ECHO_STEP_ADDITIONS);
	}
}

/*
 * Forked, as cpython_experiments.py forks its peer: a switch between the I/O thread and the peer
 * changes address spaces, as it does beside CPython. Called before the phase's threads exist.
 */
static int echo_start(struct echo_peer *peer)
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, peer->sock)) {
		gw_err("socketpair: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	peer->pid = fork();
	if (peer->pid < 0) {
		gw_err("cannot fork the echo peer: %s", strerror(errno));
		close(peer->sock[0]);
		close(peer->sock[1]);
		return -1;
	}
	if (peer->pid == 0) {
		close(peer->sock[0]);
		echo_main(peer->sock[1]);
		_exit(0);
	}
	close(peer->sock[1]);
	return 0;
}

static void echo_stop(struct echo_peer *peer)
{
	/* The peer's recv() sees the end of the stream. */
	shutdown(peer->sock[0], SHUT_WR);
	while (waitpid(peer->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(peer->sock[0]);
}

/* sock.send(b"x"); sock.recv(1): each call releases the GIL while it blocks. */
static int round_trip(struct gil_thread *t, struct gw_interp *in, int sock)
{
	char c = 'x';
	ssize_t n;

	gw_cpu_work(t, in, IO_STEP_ADDITIONS);
	GIL_BEGIN_ALLOW_THREADS(t)
	n = send(sock, &c, 1, MSG_NOSIGNAL);
	GIL_END_ALLOW_THREADS
	if (n != 1)
		return -1;
	gw_cpu_work(t, in, IO_STEP_ADDITIONS);
	GIL_BEGIN_ALLOW_THREADS(t)
	n = recv(sock, &c, 1, 0);
	GIL_END_ALLOW_THREADS
	gw_cpu_work(t, in, IO_STEP_ADDITIONS);
	return n == 1 ? 0 : -1;
}

static void *cpu_main(void *arg)
{
	struct phase *ph = arg;
	struct gil_thread *t = gil_thread_new(ph->in.gil);

	gw_name_thread("cpu-%d", atomic_fetch_add(&ph->cpu_named, 1) + 1);
	if (!t) {
		gw_err("cannot create a thread state: %s", strerror(errno));
		exit(1);
	}
	gil_acquire(t);
	atomic_fetch_add(&ph->cpu_running, 1);
	gw_spin(t, &ph->in, &ph->stop);
	gil_thread_free(t);
	return NULL;
}

static void *io_main(void *arg)
{
	struct phase *ph = arg;
	struct gil_thread *t = gil_thread_new(ph->in.gil);
	double start_sec, end_sec, now_sec;
	uint64_t spin_start;

	gw_name_thread("io");
	if (!t) {
		gw_err("cannot create a thread state: %s", strerror(errno));
		exit(1);
	}
	gil_acquire(t);
	for (int i = 0; i < WARMUP_ROUND_TRIPS && !ph->failed; i++)
		ph->failed = round_trip(t, &ph->in, ph->sock) != 0;
	spin_start = atomic_load_explicit(&ph->in.spin_iterations, memory_order_relaxed);
	start_sec = now_sec = gw_now_sec();
	end_sec = start_sec + ph->seconds;
	while (!ph->failed && now_sec < end_sec) {
		double sent_sec = now_sec;

		ph->failed = round_trip(t, &ph->in, ph->sock) != 0;
		ph->round_trips++;
		now_sec = gw_now_sec();
		if (now_sec - sent_sec > ph->max_round_trip_sec)
			ph->max_round_trip_sec = now_sec - sent_sec;
	}
	ph->elapsed_sec = now_sec - start_sec;
	ph->spin_iterations =
		atomic_load_explicit(&ph->in.spin_iterations, memory_order_relaxed) - spin_start;
	gil_thread_get_truth(t, &ph->io_truth);
	/* Set while holding the GIL: the CPU threads see it the next time they run. */
	atomic_store(&ph->stop, true);
	gil_thread_free(t);
	return NULL;
}

/* One measurement: round trips for `seconds` on a fresh GIL while cpu_threads threads spin. */
static int run_phase(const struct gw_opts *opts, struct echo_peer *peer, double interval_us,
		     int cpu_threads, double seconds, struct gw_row *row)
{
	pthread_t *cpu_tids = calloc((size_t)cpu_threads + 1, sizeof(*cpu_tids));
	struct phase *ph = calloc(1, sizeof(*ph));
	pthread_t io_tid;
	int err = -1;

	if (!cpu_tids || !ph) {
		gw_err("out of memory");
		goto out;
	}
	if (gw_interp_init(&ph->in, opts, interval_us, false))
		goto out;
	ph->sock = peer->sock[0];
	ph->seconds = seconds;
	for (int i = 0; i < cpu_threads; i++) {
		err = pthread_create(&cpu_tids[i], NULL, cpu_main, ph);
		if (err) {
			/* The threads already spinning cannot be stopped without the I/O thread. */
			gw_err("cannot create CPU thread %d: %s", i + 1, strerror(err));
			exit(1);
		}
	}
	/* Every CPU thread has run: the I/O thread starts against all of them. */
	while (atomic_load(&ph->cpu_running) < cpu_threads)
		gw_sleep_sec(100e-6);
	err = pthread_create(&io_tid, NULL, io_main, ph);
	if (err) {
		gw_err("cannot create the I/O thread: %s", strerror(err));
		exit(1);
	}
	pthread_join(io_tid, NULL);
	for (int i = 0; i < cpu_threads; i++)
		pthread_join(cpu_tids[i], NULL);

	row->convoy = true;
	row->cpu_threads = cpu_threads;
	row->threads = cpu_threads + 1;
	row->interval_us = gil_interval_us(ph->in.gil);
	/* A row may take several phases (see gw_run_convoy()): they add up. */
	row->seconds += ph->elapsed_sec;
	row->round_trips += ph->round_trips;
	if (ph->max_round_trip_sec * 1e6 > row->round_trip_max_us)
		row->round_trip_max_us = ph->max_round_trip_sec * 1e6;
	row->policy = gil_policy(ph->in.gil);
	row->cpu_iterations += ph->spin_iterations;
	if (row->seconds > 0)
		row->cpu_iterations_per_sec = (double)row->cpu_iterations / row->seconds;
	if (gil_truth_enabled(ph->in.gil)) {
		row->has_io_thread_truth = true;
		gw_truth_add(&row->io_thread_truth, &ph->io_truth);
	}
	gw_interp_done(&ph->in, row);
	if (ph->failed || !ph->round_trips) {
		gw_err("echo round trip failed");
		err = -1;
	}
out:
	free(cpu_tids);
	free(ph);
	return err;
}

static double us_per_round_trip(const struct gw_row *row)
{
	return row->round_trips ? row->seconds * 1e6 / (double)row->round_trips : 0;
}

static void slowdown(struct gw_report *report)
{
	double alone_us = us_per_round_trip(report->rows[0]);

	for (int i = 1; i < report->nr_rows; i++)
		if (alone_us > 0)
			report->rows[i]->slowdown = us_per_round_trip(report->rows[i]) / alone_us;
}

int gw_run_convoy(const struct gw_opts *opts, struct gw_report *report)
{
	double interval_us = opts->interval_us[0];
	/* Alone, the latency settles within thousands of round trips: half a second is plenty. */
	double alone_sec = opts->seconds < 0.5 ? opts->seconds : 0.5;
	/* Another policy than CPython's is measured beside CPython's, in the same run. */
	bool compare = opts->policy_set && opts->policy != GIL_POLICY_CPYTHON;
	struct gw_opts base = *opts;
	struct gw_row *row, *alone, *contended;
	struct echo_peer peer;
	int err = 0;

	if (compare)
		base.policy = GIL_POLICY_CPYTHON;
	if (echo_start(&peer))
		return -1;
	alone = gw_report_row(report, "alone", "nobody else wants the GIL");
	contended = gw_report_row(report, "contended",
				  "each reacquire waits out a CPU thread's interval");
	if (!compare) {
		err = run_phase(&base, &peer, interval_us, 0, alone_sec, alone);
		if (!err)
			err = run_phase(&base, &peer, interval_us, opts->threads, opts->seconds,
					contended);
	} else {
		/*
		 * The phases take turns, COMPARE_TURNS times each, so that a change in what else
		 * the machine runs weighs on all of them alike: their ratios are the measurement.
		 */
		row = gw_report_row(report, gil_policy_name(opts->policy),
				    "back from I/O, it preempts the CPU threads after a slice");
		for (int i = 0; i < COMPARE_TURNS && !err; i++) {
			err = run_phase(&base, &peer, interval_us, 0, alone_sec / COMPARE_TURNS,
					alone);
			if (!err)
				err = run_phase(&base, &peer, interval_us, opts->threads,
						opts->seconds / COMPARE_TURNS, contended);
			if (!err)
				err = run_phase(opts, &peer, interval_us, opts->threads,
						opts->seconds / COMPARE_TURNS, row);
		}
		if (!err && contended->cpu_iterations_per_sec > 0)
			row->cpu_rate_kept =
				row->cpu_iterations_per_sec / contended->cpu_iterations_per_sec;
	}
	report->interval_us = alone->interval_us;
	echo_stop(&peer);
	slowdown(report);
	return err;
}

int gw_run_interval(const struct gw_opts *opts, struct gw_report *report)
{
	int nr_intervals = opts->nr_intervals;
	double intervals_us[GW_MAX_INTERVALS];
	struct echo_peer peer;
	struct gw_row *row;
	int err;

	if (nr_intervals) {
		memcpy(intervals_us, opts->interval_us, sizeof(intervals_us));
	} else {
		nr_intervals = sizeof(default_intervals_us) / sizeof(default_intervals_us[0]);
		for (int i = 0; i < nr_intervals; i++)
			intervals_us[i] = (double)default_intervals_us[i];
	}
	if (echo_start(&peer))
		return -1;
	row = gw_report_row(report, "alone", "nobody else wants the GIL");
	err = run_phase(opts, &peer, intervals_us[0], 0, opts->seconds, row);
	report->interval_us = row->interval_us;
	for (int n = 1; n <= opts->threads && !err; n++) {
		for (int i = 0; i < nr_intervals && !err; i++) {
			row = gw_report_row(report, "contended",
					    "a shorter interval cuts each wait short");
			err = run_phase(opts, &peer, intervals_us[i], n, opts->seconds, row);
		}
	}
	echo_stop(&peer);
	slowdown(report);
	return err;
}
