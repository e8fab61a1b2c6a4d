// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a stripped free-threaded CPython 3.14t, which this machine does not have: no
 * take_gil/drop_gil and no marker symbol, only the exported C API and a _PyRuntime that starts
 * with _Py_DebugOffsets, as every build from 3.13 on does: the cookie, PY_VERSION_HEX and the
 * free-threaded flag. Sleeps argv[1] seconds, so that tests can find it by PID.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define PYTHON_FUNC __attribute__((noinline, used, visibility("default")))

struct debug_offsets_head {
	char cookie[8];
	uint64_t version;
	uint64_t free_threaded;
	uint64_t runtime_state_size;
};

/* 3.14.0 final, free-threaded; the rest of the runtime state is not this test's business */
__attribute__((used, visibility("default"))) struct {
	struct debug_offsets_head head;
	char rest[4096];
} _PyRuntime = {{"xdebugpy", 0x030e00f0, 1, 4096 + sizeof(struct debug_offsets_head)}, {}};

volatile int gil_locked;

PYTHON_FUNC void PyEval_SaveThread(void)
{
	gil_locked = 0;
}

PYTHON_FUNC void PyEval_RestoreThread(void)
{
	gil_locked = 1;
}

int main(int argc, char **argv)
{
	PyEval_SaveThread();
	PyEval_RestoreThread();
	if (argc > 1)
		sleep(atoi(argv[1]));
	return 0;
}
