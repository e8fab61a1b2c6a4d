// SPDX-License-Identifier: GPL-2.0
/* The exposition formats: label escaping, negotiation, buckets, and cgroups and container IDs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter.h"
#include "prometheus.h"

#define ID "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"

static void test_labels_are_escaped(void **state)
{
	char labels[64] = "";

	assert_true(prom_label_append(labels, sizeof(labels), "pid", "42"));
	assert_true(prom_label_append(labels, sizeof(labels), "comm", "a\"b\\c\nd"));
	assert_string_equal(labels, "pid=\"42\",comm=\"a\\\"b\\\\c\\nd\"");
	/* What does not fit is left out whole. */
	assert_false(prom_label_append(labels, sizeof(labels), "container", ID));
	assert_string_equal(labels, "pid=\"42\",comm=\"a\\\"b\\\\c\\nd\"");
}

static void test_openmetrics_only_when_asked(void **state)
{
	assert_int_equal(prom_negotiate(NULL), PROM_TEXT);
	assert_int_equal(prom_negotiate("*/*"), PROM_TEXT);
	assert_int_equal(prom_negotiate("application/openmetrics-text;version=1.0.0,text/plain;"
					"version=0.0.4;q=0.5"),
			 PROM_OPENMETRICS);
}

static void test_buckets_are_cumulative_seconds(void **state)
{
	struct gil_stats s = {};
	struct prom_series series = { .labels = "pid=\"1\"", .s = &s, .keyed = true, .process = true };
	struct prom_scrape scrape = { .series = &series, .nr_series = 1, .unit_ns = 1000,
				      .nr_targets = 1, .version = "0" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	s.hists[HIST_WAIT].slots[0] = 3;  /* below 2 us */
	s.hists[HIST_WAIT].slots[12] = 2; /* [4096, 8192) us */
	s.hists[HIST_WAIT].slots[MAX_SLOTS - 1] = 1;
	s.hists[HIST_WAIT].total_ns = 1500000001;
	s.c.acquisitions = 7;
	prom_write(f, &scrape, PROM_OPENMETRICS);
	fclose(f);
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_bucket{pid=\"1\",le=\"2e-06\"} 3\n"));
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_bucket{pid=\"1\",le=\"0.004096\"} 3\n"));
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_bucket{pid=\"1\",le=\"0.008192\"} 5\n"));
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_bucket{pid=\"1\",le=\"+Inf\"} 6\n"));
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_count{pid=\"1\"} 6\n"));
	assert_non_null(strstr(buf, "gilstat_gil_wait_seconds_sum{pid=\"1\"} 1.500000001\n"));
	assert_non_null(strstr(buf, "# TYPE gilstat_gil_acquisitions counter\n"));
	assert_non_null(strstr(buf, "gilstat_gil_acquisitions_total{pid=\"1\"} 7\n"));
	assert_non_null(strstr(buf, "# UNIT gilstat_gil_held_seconds seconds\n"));
	assert_string_equal(buf + len - 6, "# EOF\n");
	free(buf);
}

static void test_container_id_from_cgroup(void **state)
{
	char id[80];

	assert_true(exporter_container_id("0::/system.slice/docker-" ID ".scope\n", id, sizeof(id)));
	assert_string_equal(id, ID);
	assert_true(exporter_container_id("0::/kubepods/burstable/pod1234/" ID "\n", id, sizeof(id)));
	assert_string_equal(id, ID);
	assert_false(exporter_container_id("0::/user.slice/user-0.slice/session-3.scope\n", id,
					 sizeof(id)));
	assert_string_equal(id, "");
	/* 65 hex digits are no container ID. */
	assert_false(exporter_container_id("0::/x/" ID "a\n", id, sizeof(id)));
}

static void test_cgroup_v2_path(void **state)
{
	char path[64];

	assert_true(exporter_cgroup_path("0::/system.slice/app.service\n", path, sizeof(path)));
	assert_string_equal(path, "/system.slice/app.service");
	/* a hybrid host: the v1 controllers' lines come first, the unified one is "0::" */
	assert_true(exporter_cgroup_path("12:cpu,cpuacct:/x\n1:name=systemd:/y\n0::/z", path,
					 sizeof(path)));
	assert_string_equal(path, "/z");
	/* v1 only: none */
	assert_false(exporter_cgroup_path("4:memory:/docker/abc\n", path, sizeof(path)));
	assert_string_equal(path, "");
	/* a path longer than the label may be is left out, not cut */
	assert_false(exporter_cgroup_path("0::/" ID ID "\n", path, sizeof(path)));
	assert_false(exporter_cgroup_path("", path, sizeof(path)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_are_escaped),
		cmocka_unit_test(test_openmetrics_only_when_asked),
		cmocka_unit_test(test_buckets_are_cumulative_seconds),
		cmocka_unit_test(test_container_id_from_cgroup),
		cmocka_unit_test(test_cgroup_v2_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
