// SPDX-License-Identifier: GPL-2.0
/*
 * The two ways a report is printed: the tutorial's table (mode, time, the reason in a phrase),
 * or one JSON object whose ground-truth fields carry the names gilstat's JSON uses.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gilwork.h"

static double us_per_round_trip(const struct gw_row *row)
{
	return row->round_trips ? row->seconds * 1e6 / (double)row->round_trips : 0;
}

static double round_trips_per_sec(const struct gw_row *row)
{
	return row->seconds > 0 ? (double)row->round_trips / row->seconds : 0;
}

static void print_truth_text(const char *who, const struct gil_truth *s)
{
	printf("    %s: %" PRIu64 " acquisitions, %" PRIu64 " switches (%" PRIu64
	       " forced), %" PRIu64 " drop requests, wait %.3f s (max %.3f ms), hold %.3f s\n",
	       who, s->acquisitions, s->switches, s->forced_switches, s->drop_requests,
	       (double)s->wait_ns_total * 1e-9, (double)s->wait_ns_max * 1e-6,
	       (double)s->hold_ns_total * 1e-9);
}

static void print_notes_text(const struct gw_row *row)
{
	if (row->shared_updates_lost)
		printf("    %" PRIu64 " of %" PRIu64
		       " updates of a shared counter were lost: two threads ran at once\n",
		       row->shared_updates_lost, row->shared_updates);
	if (row->sleeps && row->threads > 1)
		printf("    the sleeps overlapped for %.3f s\n", row->sleep_overlap_sec);
	if (row->has_truth)
		print_truth_text(row->truth_from_children ? "GILs of the children" : "GIL",
				 &row->truth);
	if (row->has_io_thread_truth)
		print_truth_text("I/O thread", &row->io_thread_truth);
	if (row->cpu_rate_kept > 0)
		printf("    the CPU threads keep %.0f%% of their rate under cpython\n",
		       row->cpu_rate_kept * 100);
}

void gw_print_text(const struct gw_report *report)
{
	const struct gw_scenario *sc = report->scenario;

	printf("gilwork %s: %s\n", sc->name, sc->summary);
	if (report->work)
		printf("cpu_work: %" PRIu64 " additions per call; ", report->work);
	if (report->nr_rows && !report->rows[0]->convoy)
		printf("switch interval %ld us\n", report->interval_us);
	if (report->nr_rows && report->rows[0]->convoy)
		printf("%-11s %11s %10s %13s %12s %9s %12s  %s\n", "mode", "cpu threads",
		       "interval", "round trip", "rate", "slowdown", "cpu rate", "reason");
	else
		printf("%-12s %7s %9s %9s  %s\n", "mode", "threads", "time", "speed-up", "reason");

	for (int i = 0; i < report->nr_rows; i++) {
		const struct gw_row *row = report->rows[i];

		if (row->convoy && row->cpu_threads)
			printf("%-11s %11d %7ld us %10.1f us %10.0f/s %8.1fx %8.1f M/s  %s\n",
			       row->mode, row->cpu_threads, row->interval_us,
			       us_per_round_trip(row), round_trips_per_sec(row),
			       row->slowdown > 0 ? row->slowdown : 1.0,
			       row->cpu_iterations_per_sec * 1e-6, row->reason);
		else if (row->convoy)
			printf("%-11s %11d %7ld us %10.1f us %10.0f/s %8.1fx %12s  %s\n", row->mode,
			       row->cpu_threads, row->interval_us, us_per_round_trip(row),
			       round_trips_per_sec(row), row->slowdown > 0 ? row->slowdown : 1.0,
			       "-", row->reason);
		else
			printf("%-12s %7d %7.3f s %8.2fx  %s\n", row->mode, row->threads,
			       row->seconds, row->speedup, row->reason);
		print_notes_text(row);
	}
}

static void print_truth_json(const struct gil_truth *s)
{
	printf("{\"acquisitions\": %" PRIu64 ", \"switches\": %" PRIu64
	       ", \"forced_switches\": %" PRIu64 ", \"drop_requests\": %" PRIu64
	       ", \"releases\": %" PRIu64 ", \"voluntary_releases\": %" PRIu64
	       ", \"wait_ns\": {\"total\": %" PRIu64 ", \"max\": %" PRIu64
	       "}, \"hold_ns\": {\"total\": %" PRIu64 ", \"max\": %" PRIu64 "}}",
	       s->acquisitions, s->switches, s->forced_switches, s->drop_requests, s->releases,
	       s->voluntary_releases, s->wait_ns_total, s->wait_ns_max, s->hold_ns_total,
	       s->hold_ns_max);
}

/* [{"address": "0x...", "acquisitions": ...}, ...]: the ground truth of each GIL, by address. */
static void print_gils_json(const struct gw_gil_truth *gils, int nr)
{
	putchar('[');
	for (int i = 0; i < nr; i++) {
		printf("%s{\"address\": \"%#" PRIxPTR "\", \"stats\": ", i ? ", " : "",
		       gils[i].address);
		print_truth_json(&gils[i].truth);
		putchar('}');
	}
	putchar(']');
}

static void print_row_json(const struct gw_row *row)
{
	printf("{\"mode\": \"%s\", \"threads\": %d", row->mode, row->threads);
	if (row->calls)
		printf(", \"calls\": %d", row->calls);
	printf(", \"seconds\": %.6f, \"interval_us\": %ld", row->seconds, row->interval_us);
	if (row->speedup > 0)
		printf(", \"speedup\": %.4f", row->speedup);
	if (row->convoy) {
		printf(", \"cpu_threads\": %d, \"round_trips\": %" PRIu64
		       ", \"round_trips_per_sec\": %.2f, \"us_per_round_trip\": %.3f"
		       ", \"max_us\": %.3f",
		       row->cpu_threads, row->round_trips, round_trips_per_sec(row),
		       us_per_round_trip(row), row->round_trip_max_us);
		if (row->slowdown > 0)
			printf(", \"slowdown\": %.3f", row->slowdown);
		printf(", \"policy\": \"%s\"", gil_policy_name(row->policy));
		if (row->cpu_threads)
			printf(", \"cpu_iterations_per_sec\": %.0f", row->cpu_iterations_per_sec);
		if (row->cpu_rate_kept > 0)
			printf(", \"cpu_rate_kept\": %.4f", row->cpu_rate_kept);
	}
	if (row->sleeps)
		printf(", \"sleep_overlap_sec\": %.6f", row->sleep_overlap_sec);
	if (row->shared_updates)
		printf(", \"shared_updates\": %" PRIu64 ", \"shared_updates_lost\": %" PRIu64,
		       row->shared_updates, row->shared_updates_lost);
	printf(", \"reason\": \"%s\"", row->reason);
	if (row->has_truth) {
		printf(", \"gil_stats\": ");
		print_truth_json(&row->truth);
		if (row->truth_from_children)
			printf(", \"gil_stats_source\": \"children\"");
		if (row->nr_gils > 1) {
			printf(", \"gils\": ");
			print_gils_json(row->gils, row->nr_gils);
		}
	}
	if (row->has_io_thread_truth) {
		printf(", \"io_thread\": ");
		print_truth_json(&row->io_thread_truth);
	}
	putchar('}');
}

void gw_print_json(const struct gw_report *report)
{
	const struct gw_gil_truth *gils;
	struct gil_truth sum;
	int nr_gils = gw_process_gils(&gils, &sum);

	printf("{\"scenario\": \"%s\", \"pid\": %d", report->scenario->name, (int)getpid());
	if (report->work)
		printf(", \"work\": %" PRIu64, report->work);
	printf(", \"interval_us\": %ld, \"results\": [", report->interval_us);
	for (int i = 0; i < report->nr_rows; i++) {
		if (i)
			printf(", ");
		print_row_json(report->rows[i]);
	}
	putchar(']');
	/* This process's GILs only: what a tracer attached to this PID sees. */
	if (nr_gils) {
		printf(", \"gil_stats\": ");
		print_truth_json(&sum);
		printf(", \"gils\": ");
		print_gils_json(gils, nr_gils);
	}
	printf("}\n");
}

void gw_report_free(struct gw_report *report)
{
	for (int i = 0; i < report->nr_rows; i++) {
		free(report->rows[i]->gils);
		free(report->rows[i]);
	}
	free(report->rows);
	report->rows = NULL;
	report->nr_rows = 0;
}
