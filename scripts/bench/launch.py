#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""How long a tracer takes to get ready, and how much memory it uses at most.

Usage: launch.py READY SECONDS -- COMMAND [ARGS...]
Starts COMMAND, times launch -> the first output line (stdout or stderr) that contains READY,
lets it trace for SECONDS more, stops it with SIGINT, as a user would, and prints one JSON line:
{"startup_ms": ..., "rss_kb": ...}. Beside the wall time, the part of it the command spent on a
CPU and waiting for one (schedstat, all its threads): on a busy machine the run-queue wait is what
other tasks added.

rss_kb is the command's own peak RSS, VmHWM, read until it exits. Not wait4()'s ru_maxrss: exec
records there the RSS of the process it replaces, a copy of this interpreter, larger than a small
tracer.
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time


def sched_ms(pid):
    """(on-CPU ms, run-queue wait ms) of every thread of pid so far; None once pid has ended."""
    cpu = runq = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                on, wait = f.read().split()[:2]
        except OSError:
            continue
        cpu += int(on)
        runq += int(wait)
    return cpu / 1e6, runq / 1e6


def watch_peak_rss(pid, peak):
    """Keeps peak[0] at pid's VmHWM (it only grows) for as long as pid has memory."""
    path = "/proc/%d/status" % pid
    while True:
        try:
            with open(path) as f:
                hwm = [int(line.split()[1]) for line in f if line.startswith("VmHWM:")]
        except OSError:
            return
        if not hwm:
            return
        peak[0] = max(peak[0], hwm[0])
        time.sleep(0.002)


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    ready, seconds, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[4:]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    startup_ms = None
    seen = []
    for line in proc.stdout:
        if ready.encode() in line:
            startup_ms = (time.monotonic() - start) * 1000
            sched = sched_ms(proc.pid)
            break
        seen.append(line.decode(errors="replace"))
    if startup_ms is None:
        proc.wait()
        sys.exit("launch.py: %s exited (%d) before it printed '%s':\n%s"
                 % (cmd[0], proc.returncode, ready, "".join(seen[-5:])))
    if sched is None:
        proc.wait()
        sys.exit("launch.py: %s exited (%d) as soon as it was ready" % (cmd[0], proc.returncode))
    cpu_ms, runq_ms = sched
    # Keep the pipe drained, so that the report at the end cannot block on it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    peak = [0]
    watcher = threading.Thread(target=watch_peak_rss, args=(proc.pid, peak))
    watcher.start()
    time.sleep(seconds)
    # bpftrace now and then misses a SIGINT and runs on: ask again, then kill it, so that one
    # stuck run cannot hold up the others (its figures were read before).
    for sig, wait_sec in ((signal.SIGINT, 5), (signal.SIGINT, 5), (signal.SIGKILL, None)):
        proc.send_signal(sig)
        # The watcher stops once the exited process has no memory left, before it is reaped.
        watcher.join(wait_sec)
        if not watcher.is_alive():
            break
    proc.wait()
    print(json.dumps({"startup_ms": round(startup_ms, 1), "oncpu_ms": round(cpu_ms, 1),
                      "runq_ms": round(runq_ms, 1), "rss_kb": peak[0],
                      "exit": proc.returncode}))


if __name__ == "__main__":
    main()
