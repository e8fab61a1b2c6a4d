#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks gilstat's JSON reports for the integration tests.

  jsoncheck.py truth TRUTH REPORT...   the reports (summed, for interval reports) against the
                                       runtime's ground truth: counts exactly, times within 1%,
                                       and the per-CPU entries sum to the totals; a key missing
                                       on either side, or no event in the ground truth, fails
  jsoncheck.py get FILE PATH           prints a value of the last report, PATH like wait_ns.count
"""
import json
import sys

from intervalcheck import report_problems

EXACT = ["acquisitions", "switches", "forced_switches", "drop_requests", "releases",
         "voluntary_releases"]
TIMES = ["wait_ns", "hold_ns"]
# Every traced run acquires and releases a GIL, and each of those takes time.
NONZERO = ["acquisitions", "releases", "wait_ns", "hold_ns"]


def load_all(paths):
    """Every JSON object in the files: one per line (gilstat) or one per file (gilwork)."""
    objs = []
    for path in paths:
        text = open(path).read().strip()
        try:
            objs.append(json.loads(text))
        except json.JSONDecodeError:
            objs.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return objs


def truth_of(obj):
    return obj.get("gil_stats", obj)


def check_truth(truth_path, report_paths):
    truths = load_all([truth_path])
    if not truths:
        print(f"# no ground truth in {truth_path}")
        return 1
    truth = truth_of(truths[-1])
    reports = load_all(report_paths)
    failures = []
    if not reports:
        failures.append("no gilstat report in " + " ".join(report_paths))
    # A key missing on either side, or a ground truth of zero where every run has events, would
    # make the comparison below pass without comparing anything.
    for key in EXACT + TIMES:
        if key not in truth:
            failures.append(f"{key}: not in the runtime's ground truth")
        for i, r in enumerate(reports):
            if key not in r:
                failures.append(f"{key}: not in gilstat's report {i + 1}")
    for key in NONZERO:
        want = truth.get(key)
        want = want.get("total") if isinstance(want, dict) else want
        if not want:
            failures.append(f"{key}: the runtime's ground truth is {want!r}, expected > 0")
    if failures:
        return report(failures, truth)
    for key in EXACT:
        got = sum(r[key] for r in reports)
        if got != truth[key]:
            failures.append(f"{key}: gilstat {got} != runtime {truth[key]}")
    for key in TIMES:
        got = sum(r[key]["total"] for r in reports)
        want = truth[key]["total"]
        if abs(got - want) > want / 100:
            failures.append(f"{key}.total: gilstat {got} vs runtime {want} (> 1% apart)")
    for i, r in enumerate(reports):
        failures += report_problems(r, f"report {i + 1}/{len(reports)}")
    return report(failures, truth)


def report(failures, truth):
    for f in failures:
        print("# " + f)
    print(f"# runtime: {json.dumps({k: truth.get(k) for k in EXACT})}")
    return 1 if failures else 0


def get(path, dotted):
    value = load_all([path])[-1]
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    print(value)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "truth":
        sys.exit(check_truth(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 4 and sys.argv[1] == "get":
        sys.exit(get(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
