// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for a free-threaded CPython 3.13t, which this machine does not have: the symbols
 * userspace/python.c looks for, an eval breaker that drops and retakes the GIL, a C API function
 * with drop_gil inlined, and the marker only Py_GIL_DISABLED builds define. Sleeps argv[1]
 * seconds, so that tests can find it by PID.
 */
#include <stdlib.h>
#include <unistd.h>

/* PY_VERSION_HEX of 3.13.0 final */
const unsigned long Py_Version = 0x030d00f0;

volatile int gil_locked, forced_switches;

#define PYTHON_FUNC __attribute__((noinline, used))

PYTHON_FUNC void take_gil(void)
{
	gil_locked = 1;
}

PYTHON_FUNC void drop_gil(void)
{
	gil_locked = 0;
}

PYTHON_FUNC void PyEval_SaveThread(void)
{
	drop_gil();
}

PYTHON_FUNC void PyEval_RestoreThread(void)
{
	take_gil();
}

/* what LTO leaves when it inlines drop_gil: no call to find */
PYTHON_FUNC void PyEval_ReleaseThread(void)
{
	gil_locked = 0;
}

/* as in CPython, work after the retake keeps take_gil a call rather than a tail jump */
PYTHON_FUNC void _Py_HandlePending(void)
{
	drop_gil();
	take_gil();
	forced_switches++;
}

PYTHON_FUNC void _Py_MergeZeroLocalRefcount(void)
{
}

int main(int argc, char **argv)
{
	_Py_HandlePending();
	if (argc > 1)
		sleep(atoi(argv[1]));
	return 0;
}
