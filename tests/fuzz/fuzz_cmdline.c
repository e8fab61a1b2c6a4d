// SPDX-License-Identifier: GPL-2.0
/*
 * A process's argument list and a script's #! line, both chosen by the user who runs it: the
 * input is /proc/PID/cmdline and /proc/PID/environ (procfs.c), the -X gil and PYTHON_GIL reading
 * of them (python.c), and the head of a script that command_resolve() (command.c) follows as the
 * kernel and env(1) would.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "command.h"
#include "fuzz.h"
#include "procfs.h"
#include "python.h"

#define LIST_MAX 64

static void cmdline(const uint8_t *data, size_t size)
{
	unsigned long opens = fuzz_proc_opens;
	char buf[4096], *v[LIST_MAX], **argv;
	const char *python_gil = NULL;
	int nr;

	fuzz_proc_write("cmdline", data, size);
	fuzz_proc_write("environ", data, size);
	nr = proc_read_nul_list(FUZZ_PID, "environ", buf, sizeof(buf), v, LIST_MAX);
	for (int i = 0; i < nr; i++) {
		if (!strncmp(v[i], "PYTHON_GIL=", 11))
			python_gil = v[i] + 11;
	}
	nr = proc_read_nul_list(FUZZ_PID, "cmdline", buf, sizeof(buf), v, LIST_MAX);
	fuzz_require(fuzz_proc_opens > opens && nr >= 0, "proc_read_nul_list()");
	/* exactly nr + 1 pointers: ASan sees a read past the list's NULL */
	argv = malloc((nr + 1) * sizeof(*argv));
	memcpy(argv, v, (nr + 1) * sizeof(*argv));
	python_gil_disabled(python_gil, argv);
	free(argv);
}

static void shebang(const uint8_t *data, size_t size)
{
	struct command_resolved *r = calloc(1, sizeof(*r));
	struct command_args a = {};
	char err[512], *argv[] = {NULL, "arg", NULL};

	argv[0] = (char *)fuzz_write("script", data, size);
	if (!command_args_copy(&a, argv)) {
		command_resolve(&a, "python", "PYTHON_GIL", r, err, sizeof(err));
		command_args_free(&a);
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/*
	 * libFuzzer starts every run with the empty input: while an empty argument list (a zombie's)
	 * still crashes, tests/fuzz/run.sh sets this so that a long run gets past it. The replay
	 * never does: crashes/cmdline/empty-argv stays a failing test until the fix.
	 */
	if (!size && getenv("FUZZ_SKIP_KNOWN"))
		return 0;
	cmdline(data, size);
	shebang(data, size);
	return 0;
}
