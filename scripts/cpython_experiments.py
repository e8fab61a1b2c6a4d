#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The tutorial's GIL experiments on a real CPython, for comparison with build/gilwork.

Usage: PYTHON scripts/cpython_experiments.py SCENARIO [--threads N] [--work N] [--seconds S]
                                             [--interval-us U[,U...]] [--json]

Scenarios and options mean what they mean for gilwork (see `gilwork --help`), and --json prints
the same shape: {"scenario": ..., "python": ..., "results": [{"mode": ..., "seconds": ...}, ...]}.
  cpu        cpu_work(n) twice, then on 2 threads
  io         time.sleep(S) twice, then on 2 threads
  procs      cpu_work in a multiprocessing Pool (fork), as the tutorial does
  cext       C work that releases the GIL: hashlib.sha256 over 4 MiB buffers (no NumPy here)
  convoy     socketpair echo round trips alone, then with CPU threads spinning; the echo peer
             is a forked process, outside the interpreter
  interval   convoy under sys.setswitchinterval() from 10 ms to 1 us
  subinterp  cpu_work in isolated sub-interpreters, one per thread (3.12+, own GIL)
  nogil      cpu_work on threads of a free-threaded build (3.13t); refuses on a GIL build
"""
import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time


def cpu_work(n):
    total = 0
    for i in range(n):
        total += i
    return total


def io_work(seconds):
    time.sleep(seconds)


CEXT_BUF = b"\x5a" * (4 << 20)


def cext_work(n):
    # The tutorial's NumPy call: C code that releases the GIL for the whole of its loop. sha256
    # releases it for any buffer over 2 KiB; one 4 MiB pass stands for 2**17 "additions", so the
    # default work takes about as long as cpu_work().
    for _ in range(max(1, n >> 17)):
        hashlib.sha256(CEXT_BUF).digest()


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sequential(fn, arg, calls):
    return timed(lambda: [fn(arg) for _ in range(calls)])


def on_threads(fn, arg, nthreads):
    def run():
        ts = [threading.Thread(target=fn, args=(arg,)) for _ in range(nthreads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    return timed(run)


def row(mode, threads, seconds, base, reason, **extra):
    r = {"mode": mode, "threads": threads, "seconds": round(seconds, 4)}
    if base:
        r["speedup"] = round(base / seconds, 3)
    r.update(extra)
    r["reason"] = reason
    return r


def sequential_then_threads(fn, arg, a, seq_reason, par_reason):
    """fn(arg) called a.threads times in a row, then on a.threads threads at once."""
    seq = sequential(fn, arg, a.threads)
    par = on_threads(fn, arg, a.threads)
    return [row("sequential", 1, seq, seq, seq_reason, calls=a.threads),
            row("threads", a.threads, par, seq, par_reason, calls=a.threads)]


def scenario_cpu(a):
    return sequential_then_threads(cpu_work, a.work, a, "baseline",
                                   "one GIL: the threads take turns")


def scenario_io(a):
    return sequential_then_threads(io_work, a.seconds, a, "one sleep after the other",
                                   "the GIL is released while sleeping")


def scenario_procs(a):
    import multiprocessing

    seq = sequential(cpu_work, a.work, a.threads)
    ctx = multiprocessing.get_context("fork")

    def run():
        with ctx.Pool(a.threads) as pool:
            pool.map(cpu_work, [a.work] * a.threads)

    par = timed(run)
    return [row("sequential", 1, seq, seq, "baseline", calls=a.threads),
            row("processes", a.threads, par, seq, "each process has its own GIL",
                calls=a.threads)]


def scenario_cext(a):
    return sequential_then_threads(cext_work, a.work, a, "baseline",
                                   "the C loop runs with the GIL released")


def scenario_subinterp(a):
    try:
        import _interpreters as interpreters  # 3.13
    except ImportError:
        try:
            import _xxsubinterpreters as interpreters  # 3.12: isolated, with its own GIL
        except ImportError:
            sys.exit("cpython_experiments: subinterp needs CPython 3.12 or later")
    if sys.version_info < (3, 12):
        sys.exit("cpython_experiments: subinterp needs CPython 3.12 or later (own GIL)")
    code = ("def cpu_work(n):\n    total = 0\n    for i in range(n):\n        total += i\n"
            "    return total\ncpu_work(%d)\n" % a.work)
    ids = [interpreters.create() for _ in range(a.threads)]
    seq = timed(lambda: [interpreters.run_string(ids[0], code) for _ in range(a.threads)])

    def run():
        ts = [threading.Thread(target=interpreters.run_string, args=(i, code)) for i in ids]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    par = timed(run)
    for i in ids:
        interpreters.destroy(i)
    return [row("sequential", 1, seq, seq, "baseline", calls=a.threads),
            row("interpreters", a.threads, par, seq, "each interpreter has its own GIL",
                calls=a.threads)]


def scenario_nogil(a):
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        sys.exit("cpython_experiments: nogil needs a free-threaded build (python3.13t) "
                 "running with the GIL disabled")
    seq = sequential(cpu_work, a.work, a.threads)
    par = on_threads(cpu_work, a.work, a.threads)
    return [row("sequential", 1, seq, seq, "baseline", calls=a.threads),
            row("threads", a.threads, par, seq, "no GIL to take turns on", calls=a.threads)]


stop_spinning = False


def spin():
    x = 0
    while not stop_spinning:
        x += 1


def echo_peer():
    """A forked process echoing bytes: the server is outside this interpreter and its GIL."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        while True:
            b = theirs.recv(1)
            if not b:
                os._exit(0)
            theirs.send(b)
    theirs.close()
    return ours, pid


def round_trips(sock, seconds, cpu_threads):
    """Echo round trips for `seconds` while cpu_threads threads spin; (count, elapsed, max)."""
    global stop_spinning
    stop_spinning = False
    spinners = [threading.Thread(target=spin) for _ in range(cpu_threads)]
    for t in spinners:
        t.start()
    result = []

    def io_thread():
        for _ in range(3):
            sock.send(b"x")
            sock.recv(1)
        n = 0
        worst = 0.0
        start = time.perf_counter()
        end = start + seconds
        now = start
        while now < end:
            t0 = now
            sock.send(b"x")
            sock.recv(1)
            n += 1
            now = time.perf_counter()
            worst = max(worst, now - t0)
        result.extend((n, now - start, worst))

    t = threading.Thread(target=io_thread)
    t.start()
    t.join()
    stop_spinning = True
    for s in spinners:
        s.join()
    return result


def convoy_row(mode, cpu_threads, rt, interval_us, reason):
    n, elapsed, worst = rt
    return {"mode": mode, "threads": cpu_threads + 1, "cpu_threads": cpu_threads,
            "interval_us": interval_us, "seconds": round(elapsed, 4), "round_trips": n,
            "round_trips_per_sec": round(n / elapsed, 1),
            "us_per_round_trip": round(elapsed / n * 1e6, 1),
            "max_us": round(worst * 1e6, 1), "reason": reason}


def scenario_convoy(a):
    sock, pid = echo_peer()
    interval_us = a.intervals[0] if a.intervals else 5000
    sys.setswitchinterval(interval_us / 1e6)
    alone = round_trips(sock, min(a.seconds, 0.5), 0)
    busy = round_trips(sock, a.seconds, a.threads)
    sock.close()
    os.waitpid(pid, 0)
    return [convoy_row("alone", 0, alone, interval_us, "nobody else wants the GIL"),
            convoy_row("contended", a.threads, busy, interval_us,
                       "each reacquire waits out a CPU thread's interval")]


def scenario_interval(a):
    sock, pid = echo_peer()
    intervals = a.intervals or [10000, 5000, 1000, 500, 100, 10, 1]
    rows = [convoy_row("alone", 0, round_trips(sock, a.seconds, 0), intervals[0],
                       "nobody else wants the GIL")]
    for cpu_threads in range(1, a.threads + 1):
        for us in intervals:
            sys.setswitchinterval(us / 1e6)
            rows.append(convoy_row("contended", cpu_threads,
                                   round_trips(sock, a.seconds, cpu_threads), us,
                                   "a shorter interval ends the wait sooner"))
    sock.close()
    os.waitpid(pid, 0)
    return rows


SCENARIOS = {
    "cpu": (scenario_cpu, 2.0),
    "io": (scenario_io, 1.0),
    "procs": (scenario_procs, 2.0),
    "cext": (scenario_cext, 2.0),
    "convoy": (scenario_convoy, 2.0),
    "interval": (scenario_interval, 0.2),
    "subinterp": (scenario_subinterp, 2.0),
    "nogil": (scenario_nogil, 2.0),
}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--work", type=int, default=10_000_000)
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--interval-us", default=None)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    fn, default_seconds = SCENARIOS[a.scenario]
    if a.threads is None:
        a.threads = 1 if a.scenario == "convoy" else 2
    if a.seconds is None:
        a.seconds = default_seconds
    a.intervals = [float(u) for u in a.interval_us.split(",")] if a.interval_us else None
    if a.intervals and a.scenario != "interval":
        sys.setswitchinterval(a.intervals[0] / 1e6)
    rows = fn(a)
    out = {"scenario": a.scenario, "python": sys.version.split()[0],
           "executable": sys.executable, "work": a.work,
           "interval_us": round(sys.getswitchinterval() * 1e6), "results": rows}
    if a.json:
        print(json.dumps(out))
        return
    print("%s on CPython %s" % (a.scenario, out["python"]))
    for r in rows:
        extra = ""
        if "us_per_round_trip" in r:
            extra = "  %9.1f us/round trip  %8.1f/s  interval %g us" % (
                r["us_per_round_trip"], r["round_trips_per_sec"], r["interval_us"])
        speedup = "  %5.2fx" % r["speedup"] if "speedup" in r else ""
        print("  %-12s %3d  %7.3f s%s%s  %s" % (r["mode"], r["threads"], r["seconds"], speedup,
                                               extra, r["reason"]))


if __name__ == "__main__":
    main()
