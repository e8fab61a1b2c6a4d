# Two threads named by threading.Thread(name=...), which CPython 3.14 and later give the kernel
# (comm), each spinning a short while, both ended before gilstat reports.
import threading
import time


def spin():
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        pass


threads = [threading.Thread(target=spin, name=f"worker-{i}") for i in (1, 2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
