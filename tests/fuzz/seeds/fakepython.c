// SPDX-License-Identifier: GPL-2.0
/*
 * The shape gilstat looks for in a libpython, in a few hundred bytes: take_gil and drop_gil, the C
 * API calling them (one of them through a helper, as LTO builds inline), the eval breaker's
 * release-and-retake in a handler, Py_Version and _PyRuntime. A seed of the GIL-discovery and ELF
 * harnesses (make-seeds.sh builds it).
 */
__attribute__((noinline, used)) int take_gil(int *gil)
{
	return __atomic_exchange_n(gil, 1, __ATOMIC_ACQUIRE);
}

__attribute__((noinline, used)) void drop_gil(int *gil)
{
	__atomic_store_n(gil, 0, __ATOMIC_RELEASE);
}

__attribute__((noinline)) static void drop_helper(int *gil)
{
	drop_gil(gil);
}

int gil;
const unsigned int Py_Version = 0x030c04f0;
char _PyRuntime[4096];

void PyEval_SaveThread(void)
{
	drop_helper(&gil);
}

void PyEval_RestoreThread(void)
{
	take_gil(&gil);
}

int _Py_HandlePending(int *pending)
{
	if (*pending) {
		drop_gil(&gil);
		take_gil(&gil);
	}
	return 0;
}
