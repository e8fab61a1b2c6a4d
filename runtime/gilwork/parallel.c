// SPDX-License-Identifier: GPL-2.0
/*
 * The scenarios that run the same job N times one after the other, then N at once: cpu, io,
 * procs, cext, subinterp and nogil. Only what "at once" means changes: threads on one GIL,
 * processes, threads on GILs of their own, or threads on no GIL at all.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gilwork.h"

enum job_kind {
	JOB_CPU,   /* cpu_work(n): bytecode, holding the GIL */
	JOB_CEXT,  /* the same loop in "C", with the GIL released around it */
	JOB_SLEEP, /* time.sleep(): blocking, with the GIL released */
};

struct job {
	enum job_kind kind;
	uint64_t work;
	double sleep_sec;
};

struct worker {
	pthread_t tid;
	struct gw_interp *in;
	const struct job *job;
	int calls;
	pthread_barrier_t *start;
	int index; /* 1, 2, ... (0: the main thread): the thread is named by its job's kind and it */
	double sleep_start_sec;
	double sleep_end_sec;
	uint64_t sum;
};

/* One call of the job by t, which holds the GIL. */
static void run_job(struct gil_thread *t, struct worker *w)
{
	switch (w->job->kind) {
	case JOB_CPU:
		w->sum = gw_cpu_work(t, w->in, w->job->work);
		break;
	case JOB_CEXT:
		GIL_BEGIN_ALLOW_THREADS(t)
		w->sum = gw_cext_work(w->job->work);
		GIL_END_ALLOW_THREADS
		break;
	case JOB_SLEEP:
		GIL_BEGIN_ALLOW_THREADS(t)
		w->sleep_start_sec = gw_now_sec();
		gw_sleep_sec(w->job->sleep_sec);
		w->sleep_end_sec = gw_now_sec();
		GIL_END_ALLOW_THREADS
		break;
	}
}

static void *worker_main(void *arg)
{
	static const char *const kind_names[] = {
		[JOB_CPU] = "cpu", [JOB_CEXT] = "cext", [JOB_SLEEP] = "io"};
	struct worker *w = arg;
	struct gil_thread *t = gil_thread_new(w->in->gil);

	/* The sequential baseline runs on the main thread, whose name is the process's. */
	if (w->index)
		gw_name_thread("%s-%d", kind_names[w->job->kind], w->index);
	if (!t) {
		gw_err("cannot create a thread state: %s", strerror(errno));
		exit(1);
	}
	if (w->start)
		pthread_barrier_wait(w->start);
	/* A new Python thread's first act: take the GIL to run its bytecode. */
	gil_acquire(t);
	for (int c = 0; c < w->calls; c++)
		run_job(t, w);
	gil_thread_free(t);
	return NULL;
}

/* The sequential baseline: `calls` calls on the calling thread, on a fresh interpreter. */
static int run_sequential(const struct gw_opts *opts, const struct job *job, int calls, bool nogil,
			  struct gw_row *row)
{
	struct gw_interp in;
	struct worker w = {.job = job, .calls = calls, .in = &in};
	double start_sec;

	if (gw_interp_init(&in, opts, opts->interval_us[0], nogil))
		return -1;
	start_sec = gw_now_sec();
	worker_main(&w);
	row->seconds = gw_now_sec() - start_sec;
	row->threads = 1;
	row->calls = calls;
	row->speedup = 1.0;
	row->interval_us = gil_interval_us(in.gil);
	row->sleeps = job->kind == JOB_SLEEP;
	gw_interp_done(&in, row);
	return 0;
}

/*
 * n threads, one call each, all released at once; thread i runs on interpreter i % nr_interps.
 * The clock runs from the release to the last join.
 */
static int run_threads(const struct job *job, struct gw_interp *interps, int nr_interps, int n,
		       struct gw_row *row)
{
	struct worker *w = calloc((size_t)n, sizeof(*w));
	pthread_barrier_t start_line;
	double start_sec, first_end_sec = 0, last_start_sec = 0;
	int err;

	if (!w) {
		gw_err("out of memory");
		return -1;
	}
	pthread_barrier_init(&start_line, NULL, (unsigned int)n + 1);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){.in = &interps[i % nr_interps],
				       .job = job,
				       .calls = 1,
				       .start = &start_line,
				       .index = i + 1};
		err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (err) {
			/* Threads already waiting at the start line cannot be called back. */
			gw_err("cannot create thread %d: %s", i + 1, strerror(err));
			exit(1);
		}
	}
	pthread_barrier_wait(&start_line);
	start_sec = gw_now_sec();
	for (int i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
	row->seconds = gw_now_sec() - start_sec;
	row->threads = n;
	row->calls = n;
	row->interval_us = gil_interval_us(interps[0].gil);

	if (job->kind == JOB_SLEEP) {
		row->sleeps = true;
		for (int i = 0; i < n; i++) {
			if (i == 0 || w[i].sleep_end_sec < first_end_sec)
				first_end_sec = w[i].sleep_end_sec;
			if (w[i].sleep_start_sec > last_start_sec)
				last_start_sec = w[i].sleep_start_sec;
		}
		if (n > 1 && first_end_sec > last_start_sec)
			row->sleep_overlap_sec = first_end_sec - last_start_sec;
	}
	pthread_barrier_destroy(&start_line);
	free(w);
	return 0;
}

/* The work each call does: --work, or what makes the sequential mode last about --seconds. */
static uint64_t work_per_call(const struct gw_opts *opts)
{
	double work;

	if (opts->work)
		return opts->work;
	work = opts->seconds * gw_additions_per_sec() / opts->threads;
	return work < 1 ? 1 : (uint64_t)work;
}

static void speedup(struct gw_report *report)
{
	double base_sec = report->rows[0]->seconds;

	for (int i = 1; i < report->nr_rows; i++)
		if (report->rows[i]->seconds > 0)
			report->rows[i]->speedup = base_sec / report->rows[i]->seconds;
}

/* Sequential, then opts->threads threads on one interpreter (or on none, nogil). */
static int sequential_vs_threads(const struct gw_opts *opts, struct gw_report *report,
				 const struct job *job, bool nogil, const char *seq_reason,
				 const char *threads_reason)
{
	struct gw_interp in;
	struct gw_row *row;
	int err;

	report->work = job->kind == JOB_SLEEP ? 0 : job->work;
	row = gw_report_row(report, "sequential", seq_reason);
	if (run_sequential(opts, job, opts->threads, nogil, row))
		return -1;
	report->interval_us = row->interval_us;

	row = gw_report_row(report, "threads", threads_reason);
	if (gw_interp_init(&in, opts, opts->interval_us[0], nogil))
		return -1;
	err = run_threads(job, &in, 1, opts->threads, row);
	gw_interp_done(&in, row);
	speedup(report);
	return err;
}

int gw_run_cpu(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_CPU, .work = work_per_call(opts)};

	return sequential_vs_threads(opts, report, &job, false, "baseline: one call after another",
				     "one GIL: the threads take turns");
}

int gw_run_io(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_SLEEP, .sleep_sec = opts->seconds};

	return sequential_vs_threads(opts, report, &job, false, "one sleep after another",
				     "a sleeping thread releases the GIL");
}

int gw_run_cext(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_CEXT, .work = work_per_call(opts)};

	return sequential_vs_threads(opts, report, &job, false, "baseline: one call after another",
				     "the C loop runs with the GIL released");
}

int gw_run_nogil(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_CPU, .work = work_per_call(opts)};

	return sequential_vs_threads(opts, report, &job, true, "baseline: one call after another",
				     "no GIL: the threads run at once");
}

/* PEP 684: one interpreter, and so one GIL, per thread. */
int gw_run_subinterp(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_CPU, .work = work_per_call(opts)};
	struct gw_interp *interps = calloc((size_t)opts->threads, sizeof(*interps));
	struct gw_row *row;
	int err = -1, ready = 0;

	if (!interps) {
		gw_err("out of memory");
		return -1;
	}
	report->work = job.work;
	row = gw_report_row(report, "sequential", "baseline: one call after another");
	if (run_sequential(opts, &job, opts->threads, false, row))
		goto out;
	report->interval_us = row->interval_us;

	row = gw_report_row(report, "interpreters", "each interpreter has its own GIL");
	for (; ready < opts->threads; ready++)
		if (gw_interp_init(&interps[ready], opts, opts->interval_us[0], false))
			goto out;
	err = run_threads(&job, interps, opts->threads, opts->threads, row);
	speedup(report);
out:
	for (int i = 0; i < ready; i++)
		gw_interp_done(&interps[i], row);
	free(interps);
	return err;
}

static int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* What a child of procs sends its parent. */
struct child_report {
	struct gil_truth truth;
	uint64_t shared_updates;
	uint64_t shared_updates_lost;
};

/*
 * The child of fork(): libgil re-initialised the GIL, which this thread still holds, as
 * CPython's child does after os.fork(). It runs one call and sends its GIL's ground truth home.
 */
static void __attribute__((noreturn))
child_main(struct gw_interp *in, struct gil_thread *t, const struct job *job, int fd)
{
	struct child_report r = {0};

	gw_cpu_work(t, in, job->work);
	gil_thread_free(t);
	gil_get_truth(in->gil, &r.truth);
	r.shared_updates = atomic_load(&in->shared_expected);
	r.shared_updates_lost = r.shared_updates - in->shared_refcnt;
	_exit(write(fd, &r, sizeof(r)) == sizeof(r) ? 0 : 1);
}

/*
 * multiprocessing with fork: N processes, each with its own GIL. The row's ground truth is the
 * children's, summed through a pipe; the parent's GIL (held across fork(), released while it
 * waits, as os.fork() and os.waitpid() do) counts only in the process's totals.
 */
int gw_run_procs(const struct gw_opts *opts, struct gw_report *report)
{
	struct job job = {.kind = JOB_CPU, .work = work_per_call(opts)};
	int n = opts->threads, failed = 0;
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	int *fds = calloc((size_t)n, sizeof(*fds));
	struct gw_row *row, parent = {0};
	struct gil_thread *t;
	struct gw_interp in;
	double start_sec;
	int err = -1;

	if (!pids || !fds) {
		gw_err("out of memory");
		goto out;
	}
	report->work = job.work;
	row = gw_report_row(report, "sequential", "baseline: one call after another");
	if (run_sequential(opts, &job, n, false, row))
		goto out;
	report->interval_us = row->interval_us;

	row = gw_report_row(report, "processes", "each process has its own GIL");
	if (gw_interp_init(&in, opts, opts->interval_us[0], false))
		goto out;
	t = gil_thread_new(in.gil);
	if (!t) {
		gw_err("cannot create a thread state: %s", strerror(errno));
		exit(1);
	}
	gil_acquire(t);
	/* Nothing buffered may be printed twice. */
	fflush(NULL);
	start_sec = gw_now_sec();
	for (int i = 0; i < n; i++) {
		int pipefd[2];

		if (pipe(pipefd)) {
			gw_err("pipe: %s", strerror(errno));
			exit(1);
		}
		pids[i] = fork();
		if (pids[i] < 0) {
			gw_err("fork: %s", strerror(errno));
			exit(1);
		}
		if (pids[i] == 0) {
			for (int j = 0; j < i; j++)
				close(fds[j]);
			close(pipefd[0]);
			child_main(&in, t, &job, pipefd[1]);
		}
		close(pipefd[1]);
		fds[i] = pipefd[0];
	}
	GIL_BEGIN_ALLOW_THREADS(t)
	for (int i = 0; i < n; i++) {
		struct child_report r;
		int status;

		if (read_full(fds[i], &r, sizeof(r))) {
			failed++;
		} else {
			gw_truth_add(&row->truth, &r.truth);
			row->shared_updates += r.shared_updates;
			row->shared_updates_lost += r.shared_updates_lost;
		}
		close(fds[i]);
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	GIL_END_ALLOW_THREADS
	row->seconds = gw_now_sec() - start_sec;
	row->threads = n;
	row->calls = n;
	row->interval_us = gil_interval_us(in.gil);
	row->has_truth = gil_truth_enabled(in.gil);
	row->truth_from_children = true;
	speedup(report);
	gil_thread_free(t);
	gw_interp_done(&in, &parent);
	free(parent.gils);
	if (failed)
		gw_err("%d of %d child processes failed", failed, n);
	else
		err = 0;
out:
	free(pids);
	free(fds);
	return err;
}
