# SPDX-License-Identifier: GPL-2.0
# The tutorial's I/O-bound work on two threads: sleep() releases the GIL, so the two sleeps
# overlap. Usage: io_work.py [SECONDS] (each thread's sleep)
# Self-contained on purpose, as the tutorial's programs are (python.sh runs cpu_work.py through
# runpy.run_path(), which would not find a shared module): the two-thread timing below is
# written again in cpu_work.py.
import sys
import threading
import time


def io_work(seconds):
    time.sleep(seconds)


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
threads = [threading.Thread(target=io_work, args=(seconds,)) for _ in range(2)]
start = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join()
print("elapsed %.3f" % (time.monotonic() - start))
