# SPDX-License-Identifier: GPL-2.0
# Two sub-interpreters, each with its own GIL (PEP 684), busy SECONDS at once in two threads:
# concurrent.interpreters' InterpreterPoolExecutor from 3.14, the private modules before. They
# spin, or with "io" call os.read in a loop, which releases and takes their GILs. Prints "ready"
# once they run. Given a STOP file, they run until it exists (at most SECONDS), so that a tracer
# attached late under load still finds them busy.
import sys
import threading

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
io = len(sys.argv) > 2 and sys.argv[2] == "io"
stop = sys.argv[3] if len(sys.argv) > 3 else ""


def busy(seconds, io, stop):
    import os
    import time
    fd = os.open("/dev/zero", os.O_RDONLY)
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        if io:
            os.read(fd, 1)
        n += 1
        if stop and n % 1024 == 0 and os.path.exists(stop):
            break


print("ready", flush=True)
if sys.version_info >= (3, 14):
    from concurrent.futures import InterpreterPoolExecutor
    with InterpreterPoolExecutor(max_workers=2) as pool:
        list(pool.map(busy, [seconds] * 2, [io] * 2, [stop] * 2))
    sys.exit(0)
if sys.version_info >= (3, 13):
    import _interpreters as interpreters
    ids = [interpreters.create("isolated") for _ in range(2)]
else:
    import _xxsubinterpreters as interpreters
    ids = [interpreters.create(isolated=True) for _ in range(2)]
code = "import os, time\n%s\nbusy(%r, %r, %r)\n" % (
    "def busy(seconds, io, stop):\n" + "".join(
        "    " + line + "\n" for line in [
            "fd = os.open('/dev/zero', os.O_RDONLY)",
            "end = time.monotonic() + seconds",
            "n = 0",
            "while time.monotonic() < end:",
            "    if io:",
            "        os.read(fd, 1)",
            "    n += 1",
            "    if stop and n % 1024 == 0 and os.path.exists(stop):",
            "        break"]), seconds, io, stop)
threads = [threading.Thread(target=interpreters.run_string, args=(i, code)) for i in ids]
for t in threads:
    t.start()
for t in threads:
    t.join()
