# SPDX-License-Identifier: GPL-2.0
# Two threads spinning for SECONDS together: the GIL changes hands once per switch interval, each
# time by a forced switch. Prints "spun S" with the seconds both threads actually ran together.
import sys
import threading
import time

seconds = float(sys.argv[1])
barrier = threading.Barrier(2)
spans = []


def spin():
    barrier.wait()
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        pass
    spans.append((start, time.monotonic()))


threads = [threading.Thread(target=spin) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("spun %.3f" % (min(e for _, e in spans) - max(s for s, _ in spans)))
