# SPDX-License-Identifier: GPL-2.0
# The tutorial's CPU-bound work on two threads: only the GIL's holder runs bytecode, so they take
# turns, one switch interval (5 ms) at a time. Usage: cpu_work.py [N] (additions per thread)
# Self-contained on purpose, as the tutorial's programs are (python.sh runs cpu_work.py through
# runpy.run_path(), which would not find a shared module): the two-thread timing below is
# written again in io_work.py.
import sys
import threading
import time


def cpu_work(n):
    total = 0
    for i in range(n):
        total += i
    return total


n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000000
threads = [threading.Thread(target=cpu_work, args=(n,)) for _ in range(2)]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
print("elapsed %.3f" % (time.monotonic() - start))
