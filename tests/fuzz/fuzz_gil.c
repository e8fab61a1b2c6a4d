// SPDX-License-Identifier: GPL-2.0
/*
 * GIL discovery in a process gilstat -a has just seen (python.c, pysyms.c, pygil.c): the input is
 * the libpython that the process maps, whose symbols and code (the call graph from the C API to
 * take_gil/drop_gil, the eval breaker's handler) a user chose. The process maps it and the real
 * libc, and has an empty argument list, as a process that became a zombie during the look does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "python.h"

static char libc_line[4096];

/* This process's libc mapping, as the target's: the condition-variable view reads it. */
static void find_libc(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		if (strstr(line, "/libc.so.6") && strstr(line, "r-xp")) {
			snprintf(libc_line, sizeof(libc_line), "%s", line);
			break;
		}
	}
	if (f)
		fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long opens = fuzz_proc_opens;
	struct py_target *t = malloc(sizeof(*t));
	char maps[8192], exe[512], err[1024];
	const char *path;
	struct stat st;
	int n;

	if (!libc_line[0])
		find_libc();
	path = fuzz_write("libpython3.12.so.1.0", data, size);
	if (stat(path, &st))
		abort();
	n = snprintf(maps, sizeof(maps),
		     "55d000000000-55d000001000 r-xp 00000000 00:00 %lu %s\n%s",
		     (unsigned long)st.st_ino, path, libc_line);
	fuzz_proc_write("maps", (const uint8_t *)maps, n);
	fuzz_proc_write("cmdline", NULL, 0);
	fuzz_proc_write("environ", NULL, 0);
	snprintf(exe, sizeof(exe), "%s/proc/exe", fuzz_dir());
	unlink(exe);
	if (symlink(path, exe))
		abort();
	python_target_from_pid(FUZZ_PID, NULL, t, err, sizeof(err));
	fuzz_require(fuzz_proc_opens > opens, "python_target_from_pid()");
	free(t);
	return 0;
}
