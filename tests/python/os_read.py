# SPDX-License-Identifier: GPL-2.0
# N calls of os.read(fd, 1) on /dev/zero: each releases and takes the GIL once, so N of them make
# exactly N - 1 more GIL cycles than one does. Prints the loop's own time, "loop_ns NS", for the
# benchmarks, which compare it traced and untraced without the interpreter's start-up.
import os
import sys
import time

fd = os.open("/dev/zero", os.O_RDONLY)
n = int(sys.argv[1])
start = time.perf_counter_ns()
for _ in range(n):
    os.read(fd, 1)
print("loop_ns", time.perf_counter_ns() - start)
