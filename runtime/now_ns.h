/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one reading of a clock in nanoseconds that the whole tree uses: libgil, gilstat, gilwork,
 * the tests and the benchmarks. CLOCK_MONOTONIC is the clock bpf_ktime_get_ns() reads, so times
 * taken here and in BPF programs compare.
 */
#ifndef NOW_NS_H
#define NOW_NS_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

#endif /* NOW_NS_H */
