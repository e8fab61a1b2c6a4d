// SPDX-License-Identifier: GPL-2.0
/*
 * The reports print names the traced processes chose (comm): in text, control bytes are escaped
 * so that escape codes never reach the operator's terminal; JSON keeps its own escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* "set the title" and "clear the screen", in a process's name and in a thread's */
#define TITLE_CODE "\x1b]0;owned\x07"
#define CLEAR_CODE "\x1b[2J"

static char *print(bool json)
{
	struct group_stats key = {.key = {.tgid = 42, .tid = 42}};
	struct snapshot s = {.keys = &key, .nr_keys = 1};
	struct report_meta m = {.pid = 42,
				.comm = TITLE_CODE "app",
				.view = "libgil",
				.probe_path = "/usr/lib/libgil.so.1",
				.duration_ns = 1000000000,
				.final = true};
	struct report_opts o = {
		.unit_ns = 1000, .unit_name = "usecs", .group = GROUP_PROCESS, .json = json};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	snprintf(key.comm, sizeof(key.comm), "%s", CLEAR_CODE "worker");
	report_print(f, &s, &m, &o);
	fclose(f);
	return text;
}

static void test_text_escapes_names(void **state)
{
	char *text = print(false);

	assert_null(strchr(text, '\x1b'));
	assert_null(strchr(text, '\x07'));
	assert_non_null(strstr(text, "PID 42 (\\x1b]0;owned\\x07app)"));
	assert_non_null(strstr(text, "PID 42 \\x1b[2Jworker"));
	free(text);
}

static void test_json_keeps_its_own_escaping(void **state)
{
	char *text = print(true);

	assert_null(strchr(text, '\x1b'));
	assert_non_null(strstr(text, "\\u001b]0;owned\\u0007app"));
	assert_null(strstr(text, "\\x1b"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_escapes_names),
		cmocka_unit_test(test_json_keeps_its_own_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
