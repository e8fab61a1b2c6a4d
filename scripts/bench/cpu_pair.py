# SPDX-License-Identifier: GPL-2.0
# Two CPU-bound threads spinning SECONDS together, counting the GIL's hand-overs between them as
# the interpreter itself sees them: only the GIL's holder runs bytecode, so the thread that finds
# `owner` naming the other one has just taken the GIL from it. The count is exact, with no tracer
# involved, which makes it the truth a profiler's count of holder changes is measured against.
# Prints "spun S changes N". Usage: cpu_pair.py SECONDS
import sys
import threading
import time

seconds = float(sys.argv[1])
barrier = threading.Barrier(2)
owner = None
changes = 0
spans = []


def spin(me):
    global owner, changes
    barrier.wait()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if owner != me:
            if owner is not None:
                changes += 1
            owner = me
    spans.append((start, time.monotonic()))


threads = [threading.Thread(target=spin, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("spun %.3f changes %d" % (min(e for _, e in spans) - max(s for s, _ in spans), changes))
