# A known culprit: culprit() holds the GIL about 20 ms per call in one C call (sum over a range
# does not check the eval breaker), beside an I/O thread (os.write and os.read on a pipe it feeds
# to itself, with a short sleep) and an idle thread. Usage:
# culprit.py SECONDS
import os
import sys
import threading
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
N = int(os.environ.get("CULPRIT_N", "600000"))
stop = threading.Event()


def culprit():
    return sum(range(N))


def cpu():
    while not stop.is_set():
        culprit()


def io():
    r, w = os.pipe()
    while not stop.is_set():
        os.write(w, b"x")
        os.read(r, 1)
        time.sleep(0.0005)


def idle():
    stop.wait()


threads = [threading.Thread(target=f, name=f.__name__) for f in (cpu, io, idle)]
for t in threads:
    t.start()
time.sleep(SECONDS)
stop.set()
for t in threads:
    t.join()
