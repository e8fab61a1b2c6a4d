// SPDX-License-Identifier: GPL-2.0
/* The histogram maths and layouts of the collector: bucket edges, percentiles, deltas, output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "json.h"
#include "report.h"

#define US 1000ull

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fn(f, arg);
	fclose(f);
	return buf;
}

static void test_slot_edges(void **state)
{
	assert_int_equal(hist_slot_low(0), 0);
	assert_int_equal(hist_slot_high(0), 1);
	assert_int_equal(hist_slot_low(1), 2);
	assert_int_equal(hist_slot_high(1), 3);
	assert_int_equal(hist_slot_low(10), 1024);
	assert_int_equal(hist_slot_high(10), 2047);
	assert_int_equal(hist_slot_high(MAX_SLOTS - 1), (1ull << MAX_SLOTS) - 1);
}

static void test_percentile_empty_is_zero(void **state)
{
	struct hist h = {};

	assert_int_equal(hist_percentile_ns(&h, 50, US), 0);
	assert_int_equal(hist_percentile_ns(&h, 99, US), 0);
}

static void test_percentile_interpolates_inside_slot(void **state)
{
	/* 100 values in [1024, 2047] us: the median is half-way through the slot. */
	struct hist h = { .count = 100, .max_ns = 2047 * US };

	h.slots[10] = 100;
	assert_int_equal(hist_percentile_ns(&h, 50, US), 1536 * US);
	assert_int_equal(hist_percentile_ns(&h, 100, US), 2047 * US);
}

static void test_percentile_picks_right_slot(void **state)
{
	/* 90 fast values, 10 slow ones: p50 and p90 are fast, p99 is slow. */
	struct hist h = { .count = 100, .max_ns = 5000 * US };

	h.slots[1] = 90;
	h.slots[12] = 10;
	assert_true(hist_percentile_ns(&h, 50, US) >= 2 * US);
	assert_true(hist_percentile_ns(&h, 50, US) <= 4 * US);
	assert_true(hist_percentile_ns(&h, 90, US) <= 4 * US);
	assert_true(hist_percentile_ns(&h, 99, US) >= 4096 * US);
}

static void test_percentile_never_above_max(void **state)
{
	struct hist h = { .count = 1, .max_ns = 4100 * US };

	h.slots[12] = 1;
	assert_int_equal(hist_percentile_ns(&h, 99, US), 4100 * US);
}

static void test_sub_gives_interval_counts(void **state)
{
	struct hist prev = { .count = 3, .total_ns = 30, .max_ns = 20 * US };
	struct hist cur = prev, d;

	prev.slots[4] = 3;
	cur.slots[4] = 3;
	cur.slots[5] = 2;
	cur.count = 5;
	cur.total_ns = 100;
	cur.max_ns = 40 * US;
	hist_sub(&d, &cur, &prev, US);
	assert_int_equal(d.count, 2);
	assert_int_equal(d.total_ns, 70);
	assert_int_equal(d.slots[4], 0);
	assert_int_equal(d.slots[5], 2);
	/* The maximum grew in this interval, so it is this interval's. */
	assert_int_equal(d.max_ns, 40 * US);

	/* No new maximum: bounded by the top of the highest slot used in the interval. */
	prev = cur;
	cur.slots[1] += 1;
	cur.count++;
	hist_sub(&d, &cur, &prev, US);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.max_ns, 4 * US);
}

static void print_one(FILE *f, const void *arg)
{
	hist_print(f, arg, "usecs");
}

static void test_layout_matches_print_log2_hist(void **state)
{
	struct hist h = {};
	char *out;

	h.slots[0] = 233;
	h.slots[2] = 50;
	out = capture(print_one, &h);
	assert_string_equal(out,
			    "     usecs               : count    distribution\n"
			    "         0 -> 1          : 233      |****************************************|\n"
			    "         2 -> 3          : 0        |                                        |\n"
			    "         4 -> 7          : 50       |********                                |\n");
	free(out);
}

static void test_layout_empty_prints_nothing(void **state)
{
	struct hist h = {};
	char *out = capture(print_one, &h);

	assert_string_equal(out, "");
	free(out);
}

static void print_summary(FILE *f, const void *arg)
{
	hist_print_summary(f, arg, "usecs", US);
}

static void test_summary_line(void **state)
{
	struct hist h = { .count = 4, .total_ns = 10 * US, .max_ns = 4 * US };
	char *out;

	h.slots[1] = 4;
	out = capture(print_summary, &h);
	assert_string_equal(out, "     count 4, avg 2.5, p50 3.0, p90 4.0, p99 4.0, max 4.0 usecs\n");
	free(out);
}

static void write_json(FILE *f, const void *arg)
{
	struct json j;

	json_init(&j, f);
	json_object_begin(&j, NULL);
	json_u64(&j, "a", 1);
	json_string(&j, "s", "q\"\\\n");
	json_array_begin(&j, "l");
	json_u64(&j, NULL, 2);
	json_object_begin(&j, NULL);
	json_double(&j, "x", 0.5);
	json_object_end(&j);
	json_array_end(&j);
	json_object_end(&j);
}

static void test_json_writer(void **state)
{
	char *out = capture(write_json, NULL);

	assert_string_equal(out, "{\"a\":1,\"s\":\"q\\\"\\\\\\u000a\",\"l\":[2,{\"x\":0.500}]}\n");
	free(out);
}

static void test_stats_add_and_sub_are_inverse(void **state)
{
	struct gil_stats a = {}, b = {}, sum = {}, back = {};

	a.c.acquisitions = 5;
	a.c.map_full = 1;
	a.hists[HIST_WAIT].slots[3] = 5;
	a.hists[HIST_WAIT].count = 5;
	b.c.acquisitions = 7;
	b.c.forced_switches = 2;
	b.hists[HIST_WAIT].slots[3] = 1;
	b.hists[HIST_WAIT].count = 1;
	snapshot_stats_add(&sum, &a);
	snapshot_stats_add(&sum, &b);
	assert_int_equal(sum.c.acquisitions, 12);
	assert_int_equal(sum.c.forced_switches, 2);
	assert_int_equal(sum.c.map_full, 1);
	assert_int_equal(sum.hists[HIST_WAIT].slots[3], 6);
	snapshot_stats_sub(&back, &sum, &a, US);
	assert_int_equal(back.c.acquisitions, 7);
	assert_int_equal(back.c.map_full, 0);
	assert_int_equal(back.hists[HIST_WAIT].slots[3], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_edges),
		cmocka_unit_test(test_percentile_empty_is_zero),
		cmocka_unit_test(test_percentile_interpolates_inside_slot),
		cmocka_unit_test(test_percentile_picks_right_slot),
		cmocka_unit_test(test_percentile_never_above_max),
		cmocka_unit_test(test_sub_gives_interval_counts),
		cmocka_unit_test(test_layout_matches_print_log2_hist),
		cmocka_unit_test(test_layout_empty_prints_nothing),
		cmocka_unit_test(test_summary_line),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_stats_add_and_sub_are_inverse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
