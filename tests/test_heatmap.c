// SPDX-License-Identifier: GPL-2.0
/* The SVG heatmap: its cells, its columns' widths, the text it escapes, and the empty case. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"

#define US    1000ull
#define MS_NS 1000000ull

/* The SVG of a heatmap of hist over nr intervals of duration_ns, h[i] being interval i's. */
static char *render(enum gilstat_hist hist, const struct hist *h, int nr, __u64 duration_ns,
		    const char *comm)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct heatmap *hm = heatmap_new(f, hist, US);

	assert_non_null(hm);
	for (int i = 0; i < nr; i++)
		assert_int_equal(heatmap_add_column(hm, &h[i], duration_ns), 0);
	assert_int_equal(heatmap_write(hm, 42, comm), 0);
	heatmap_free(hm);
	return buf;
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void test_cells_carry_their_counts(void **state)
{
	struct hist h[2] = {};
	char *svg;

	h[0].slots[0] = 7;
	h[0].slots[12] = 3; /* [4096, 8191] us */
	h[1].slots[12] = 5;
	svg = render(HIST_WAIT, h, 2, 200 * MS_NS, "gilwork");
	assert_int_equal(count_of(svg, "class=\"cell\""), 3);
	assert_non_null(strstr(svg, "data-interval=\"1\" data-start-s=\"0.000\" "
				    "data-duration-s=\"0.200\" data-count=\"10\""));
	assert_non_null(strstr(svg, "data-interval=\"2\" data-start-s=\"0.200\" "
				    "data-duration-s=\"0.200\" data-count=\"5\""));
	assert_non_null(strstr(svg, "data-slot=\"12\" data-low=\"4096000\" data-high=\"8191999\" "
				    "data-count=\"3\"><title>wait 4.1 ms to 8.19 ms\n"
				    "interval 1: 0.000 s to 0.200 s\ncount 3</title>"));
	assert_non_null(strstr(svg, "data-intervals=\"2\" data-count=\"15\""));
	assert_non_null(strstr(svg, "GIL wait time (log2 buckets)"));
	assert_non_null(strstr(svg, "time since tracing began (s)"));
	free(svg);
}

static void test_columns_as_wide_as_their_intervals(void **state)
{
	struct hist h[3] = {};
	char *buf = NULL, *svg, *p;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct heatmap *hm = heatmap_new(f, HIST_HOLD, US);
	double x[3], w[3];

	/* Two intervals of 1 s, then a last one cut short at 0.5 s, as when the target exits. */

	for (int i = 0; i < 3; i++) {
		h[i].slots[3] = 1;
		assert_int_equal(heatmap_add_column(hm, &h[i], i < 2 ? 1000 * MS_NS : 500 * MS_NS),
				 0);
	}
	assert_int_equal(heatmap_write(hm, 42, "x"), 0);
	heatmap_free(hm);
	svg = buf;
	p = svg;
	for (int i = 0; i < 3; i++) {
		p = strstr(p, "<rect class=\"cell\" x=\"");
		assert_non_null(p);
		assert_int_equal(sscanf(p, "<rect class=\"cell\" x=\"%lf\" y=\"%*f\" width=\"%lf\"",
					&x[i], &w[i]),
				 2);
		p++;
	}
	assert_float_equal(w[0], w[1], 0.01);
	assert_float_equal(w[2], w[0] / 2, 0.01);
	assert_float_equal(x[1], x[0] + w[0], 0.01);
	assert_float_equal(x[2], x[1] + w[1], 0.01);
	assert_non_null(strstr(svg, "GIL hold time"));
	free(svg);
}

static void test_text_is_escaped(void **state)
{
	struct hist h = {};
	char *svg;

	h.slots[1] = 1;
	svg = render(HIST_WAIT, &h, 1, MS_NS, "a<b>&\"c\"");
	assert_non_null(strstr(svg, "PID 42 (a&lt;b&gt;&amp;&quot;c&quot;)"));
	assert_null(strstr(svg, "a<b"));
	free(svg);
}

static void test_empty_heatmap_is_a_picture(void **state)
{
	char *svg = render(HIST_WAIT, NULL, 0, 0, "idle");

	assert_non_null(strstr(svg, "<svg "));
	assert_non_null(strstr(svg, "</svg>\n"));
	assert_non_null(strstr(svg, "data-intervals=\"0\" data-count=\"0\""));
	assert_int_equal(count_of(svg, "class=\"cell\""), 0);
	assert_non_null(strstr(svg, ">none</text>"));
	free(svg);
}

static void test_many_columns(void **state)
{
	enum { NR = 1000 };
	struct hist *h = calloc(NR, sizeof(*h));
	char *svg;

	for (int i = 0; i < NR; i++)
		h[i].slots[i % MAX_SLOTS] = i + 1;
	svg = render(HIST_HANDOFF, h, NR, 10 * MS_NS, "many");
	assert_int_equal(count_of(svg, "class=\"column\""), NR);
	assert_int_equal(count_of(svg, "class=\"cell\""), NR);
	assert_non_null(strstr(svg, "data-interval=\"1000\""));
	free(h);
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells_carry_their_counts),
		cmocka_unit_test(test_columns_as_wide_as_their_intervals),
		cmocka_unit_test(test_text_is_escaped),
		cmocka_unit_test(test_empty_heatmap_is_a_picture),
		cmocka_unit_test(test_many_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
