/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gilwork: the tutorial's GIL experiments as workloads on libgil. Each scenario runs its modes
 * (sequential, threads, processes, ...) and fills one row of a report per mode; report.c prints
 * the report as the tutorial's table or as JSON.
 */
#ifndef GILWORK_H
#define GILWORK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gil.h"

#define GW_MAX_THREADS	 256
#define GW_MAX_INTERVALS 16

/* The tutorial's cpu_work(): sum(range(10_000_000)). */
#define GW_DEFAULT_WORK 10000000ull

/* Which options a scenario takes besides --threads, --seconds and --json. */
#define GW_TAKES_WORK	  0x1
#define GW_TAKES_INTERVAL 0x2
#define GW_TAKES_SWEEP	  0x4 /* --interval-us may be a list */

struct gw_opts;
struct gw_report;

struct gw_scenario {
	const char *name;
	const char *summary;
	int (*run)(const struct gw_opts *opts, struct gw_report *report);
	int default_threads;
	/* What --seconds means when it is not given; 0: the work size decides. */
	double default_seconds;
	unsigned int takes;
};

struct gw_opts {
	const struct gw_scenario *scenario;
	int threads;
	/* Additions per cpu_work() call; 0 when --seconds sizes the work instead. */
	uint64_t work;
	double seconds;
	double interval_us[GW_MAX_INTERVALS];
	int nr_intervals;
	/* --policy: every GIL's; convoy then runs the contended phase under cpython too. */
	bool policy_set;
	enum gil_policy policy;
	bool json;
};

/* Ground truth of one GIL, by address: what a tracer keyed on the probes' first argument sees. */
struct gw_gil_truth {
	uintptr_t address;
	struct gil_truth truth;
};

struct gw_row {
	const char *mode;
	const char *reason;
	/* Threads (or processes, or interpreters) that ran the mode's work at once. */
	int threads;
	int calls;
	double seconds;
	/* Sequential time / this mode's time, for the modes that have a sequential twin. */
	double speedup;
	long interval_us;

	/* convoy and interval: echo round trips of the I/O thread while cpu_threads spin. */
	bool convoy;
	int cpu_threads;
	uint64_t round_trips;
	double round_trip_max_us;
	/* This row's time per round trip / the time alone. */
	double slowdown;
	/* The GIL's policy, and how fast the CPU threads' loops ran meanwhile (all, per second). */
	enum gil_policy policy;
	uint64_t cpu_iterations;
	double cpu_iterations_per_sec;
	/* This row's CPU rate / the CPU rate of the same phase under cpython; 0: not compared. */
	double cpu_rate_kept;

	/*
	 * Updates of a counter every thread of an interpreter shares, as they share refcounts:
	 * made only under the GIL, none may be lost. shared_updates == 0: not counted.
	 */
	uint64_t shared_updates;
	uint64_t shared_updates_lost;

	/* io: how long all the sleeps ran at the same time. */
	bool sleeps;
	double sleep_overlap_sec;

	/* Ground truth, when the runtime keeps it (GIL_STATS=1). */
	bool has_truth;
	struct gil_truth truth;
	int nr_gils;
	struct gw_gil_truth *gils;
	/* The ground truth was summed over child processes, not taken in this one. */
	bool truth_from_children;
	bool has_io_thread_truth;
	struct gil_truth io_thread_truth;
};

struct gw_report {
	const struct gw_scenario *scenario;
	/* Additions per call; 0 for the scenarios without cpu_work(). */
	uint64_t work;
	/* The switch interval of the first mode. */
	long interval_us;
	int nr_rows;
	/* Pointers, so that a row stays put while the next one is added. */
	struct gw_row **rows;
};

/* One "interpreter": a GIL and the objects its threads share. */
struct gw_interp {
	struct gil *gil;
	/* Stands for a refcount every thread updates: a plain, non-atomic read-modify-write. */
	volatile uint64_t shared_refcnt;
	atomic_uint_least64_t shared_expected;
	/* Iterations of gw_spin() so far, all threads, counted as they run, 256 at a time. */
	atomic_uint_least64_t spin_iterations;
};

/* work.c */
double gw_now_sec(void);
void gw_sleep_sec(double sec);
void gw_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gw_name_thread(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int gw_interp_init(struct gw_interp *in, const struct gw_opts *opts, double interval_us,
		   bool nogil);
void gw_interp_done(struct gw_interp *in, struct gw_row *row);
struct gw_row *gw_report_row(struct gw_report *report, const char *mode, const char *reason);

uint64_t gw_cpu_work(struct gil_thread *t, struct gw_interp *in, uint64_t n);
uint64_t gw_cext_work(uint64_t n);
void gw_spin(struct gil_thread *t, struct gw_interp *in, const atomic_bool *stop);
double gw_additions_per_sec(void);

void gw_truth_add(struct gil_truth *sum, const struct gil_truth *s);
int gw_process_gils(const struct gw_gil_truth **gils, struct gil_truth *sum);

/* report.c */
void gw_print_text(const struct gw_report *report);
void gw_print_json(const struct gw_report *report);
void gw_report_free(struct gw_report *report);

/* The scenarios. */
int gw_run_cpu(const struct gw_opts *opts, struct gw_report *report);
int gw_run_io(const struct gw_opts *opts, struct gw_report *report);
int gw_run_procs(const struct gw_opts *opts, struct gw_report *report);
int gw_run_cext(const struct gw_opts *opts, struct gw_report *report);
int gw_run_subinterp(const struct gw_opts *opts, struct gw_report *report);
int gw_run_nogil(const struct gw_opts *opts, struct gw_report *report);
int gw_run_convoy(const struct gw_opts *opts, struct gw_report *report);
int gw_run_interval(const struct gw_opts *opts, struct gw_report *report);

#endif /* GILWORK_H */
