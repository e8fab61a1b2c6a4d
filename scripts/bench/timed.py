# SPDX-License-Identifier: GPL-2.0
# Runs a Python script (runpy, as its own __main__) and then prints "cpu_s S": the CPU time the
# whole process spent running it, user and system, all threads (the interpreter's start, and what
# a profiler's launcher adds to it, left out). A uprobe's handler runs in the traced
# thread, in the kernel, so this counts what a tracer's probes cost the target whatever else the
# machine is doing, which its wall time does not. Usage: timed.py SCRIPT [ARGS...]
import resource
import runpy
import sys


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


sys.argv = sys.argv[1:]
start = cpu_s()
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    print("cpu_s %.4f" % (cpu_s() - start), flush=True)
