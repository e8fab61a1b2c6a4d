# SPDX-License-Identifier: GPL-2.0
# Two sub-interpreters, each with its own GIL (PEP 684), spinning SECONDS at once in two threads:
# concurrent.interpreters' InterpreterPoolExecutor from 3.14, the private modules before.
import sys
import threading

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
code = """
import time
end = time.monotonic() + %r
while time.monotonic() < end:
    pass
""" % seconds


def spin(seconds):
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


if sys.version_info >= (3, 14):
    from concurrent.futures import InterpreterPoolExecutor
    with InterpreterPoolExecutor(max_workers=2) as pool:
        list(pool.map(spin, [seconds, seconds]))
    sys.exit(0)
if sys.version_info >= (3, 13):
    import _interpreters as interpreters
    ids = [interpreters.create("isolated") for _ in range(2)]
else:
    import _xxsubinterpreters as interpreters
    ids = [interpreters.create(isolated=True) for _ in range(2)]
threads = [threading.Thread(target=interpreters.run_string, args=(i, code)) for i in ids]
for t in threads:
    t.start()
for t in threads:
    t.join()
