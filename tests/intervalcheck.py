#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that gilstat's interval reports are consistent, each one and all together.

  intervalcheck.py REPORT THREADS [INTERVAL_S]

REPORT holds gilstat -j's reports, one per line. In every report: nothing dropped; the per-CPU
entries sum to the totals; forced switches <= switches <= acquisitions; voluntary releases <=
releases; a wait measured per acquisition and a hold per release at most (give or take one
event per CPU in flight while a report is read; exactly over all the reports). Over the reports so
far, acquisitions - releases stays within 0..THREADS (a hold may straddle a report). Every report
but the last is not final and, with INTERVAL_S, covers INTERVAL_S seconds give or take 0.5 s.
Prints one line per problem and exits 1 if there is any.
"""
import json
import sys

COUNTS = ["acquisitions", "switches", "forced_switches", "releases", "voluntary_releases"]
TIMES = ["wait_ns", "hold_ns"]


def report_problems(r, where):
    """What is wrong with one report on its own: events dropped, per-CPU entries that do not add
    up to the totals. jsoncheck.py asks the same of every report."""
    problems = []
    if r["dropped_total"]:
        problems.append(f"{where}: dropped {r['dropped']}")
    for key in COUNTS:
        per_cpu = sum(c[key] for c in r["per_cpu"])
        if per_cpu != r[key]:
            problems.append(f"{where}: per-CPU {key} {per_cpu} != {r[key]}")
    for key in TIMES:
        per_cpu = sum(c[key]["total"] for c in r["per_cpu"])
        if per_cpu != r[key]["total"]:
            problems.append(f"{where}: per-CPU {key}.total {per_cpu} != {r[key]['total']}")
    return problems


def check(reports, threads, interval_s):
    problems = []
    held = 0
    for i, r in enumerate(reports):
        where = f"report {i + 1}/{len(reports)}"
        problems += report_problems(r, where)
        if not r["forced_switches"] <= r["switches"] <= r["acquisitions"]:
            problems.append(f"{where}: forced {r['forced_switches']} <= switches "
                            f"{r['switches']} <= acquisitions {r['acquisitions']} fails")
        if r["voluntary_releases"] > r["releases"]:
            problems.append(f"{where}: voluntary releases > releases")
        # The kernel copies a per-CPU entry field by field, counters before histograms, while
        # the programs go on: a snapshot may hold an event's histogram sample and not yet its
        # count, one event per CPU at most. The sums over all reports must agree exactly.
        in_flight = len(r["per_cpu"])
        if (r["wait_ns"]["count"] > r["acquisitions"] + in_flight or
                r["hold_ns"]["count"] > r["releases"] + in_flight):
            problems.append(f"{where}: more waits or holds than acquisitions or releases")
        held += r["acquisitions"] - r["releases"]
        if not 0 <= held <= threads:
            problems.append(f"{where}: acquisitions - releases so far is {held}, "
                            f"not within 0..{threads}")
        last = i == len(reports) - 1
        if r["final"] != last:
            problems.append(f"{where}: final is {r['final']}")
        if interval_s and not last and abs(r["duration_ns"] / 1e9 - interval_s) > 0.5:
            problems.append(f"{where}: covers {r['duration_ns'] / 1e9:.3f} s, "
                            f"not {interval_s} s")
    waits = sum(r["wait_ns"]["count"] for r in reports)
    holds = sum(r["hold_ns"]["count"] for r in reports)
    acquisitions = sum(r["acquisitions"] for r in reports)
    releases = sum(r["releases"] for r in reports)
    if reports and (waits > acquisitions or holds > releases):
        problems.append(f"all reports: {waits} waits for {acquisitions} acquisitions, "
                        f"{holds} holds for {releases} releases")
    return problems


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        reports = [json.loads(line) for line in f if line.strip()]
    interval_s = float(sys.argv[3]) if len(sys.argv) == 4 else None
    if not reports:
        print(f"# {sys.argv[1]}: no report")
        return 1
    problems = check(reports, int(sys.argv[2]), interval_s)
    for p in problems:
        print("# " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
