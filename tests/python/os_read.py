# SPDX-License-Identifier: GPL-2.0
# N calls of os.read(fd, 1) on /dev/zero: each releases and takes the GIL once, so N of them make
# exactly N - 1 more GIL cycles than one does. Prints the loop's own time, "loop_ns NS", and the
# CPU time its thread spent in it, "loop_cpu_ns NS" (a uprobe's cost is the hitting thread's, and
# CPU time leaves out the time other tasks ran instead), for the benchmarks, which compare them
# traced and untraced without the interpreter's start-up.
import os
import sys
import time

fd = os.open("/dev/zero", os.O_RDONLY)
n = int(sys.argv[1])
start = time.perf_counter_ns()
start_cpu = time.thread_time_ns()
for _ in range(n):
    os.read(fd, 1)
print("loop_ns", time.perf_counter_ns() - start)
print("loop_cpu_ns", time.thread_time_ns() - start_cpu)
