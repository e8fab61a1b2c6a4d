# SPDX-License-Identifier: GPL-2.0
"""Checks a gilstat --timeline file (Chrome's Trace Event Format) against what else is known.

Usage:
  timelinecheck.py sums TIMELINE REPORT [TRUTH]
      per thread, the holds' and waits' sums equal the report's -L totals within 1%; every
      cycle is in the file (none lost or dropped); one thread's spans
      never overlap, nor do two threads' holds of the one GIL; with TRUTH (libgil's ground
      truth, one JSON line), the file's sums and cycles are libgil's own
  marks TIMELINE REPORT
      the forced-switch marks are the report's forced switches, the released-on-request marks its
      releases that a drop request asked for
  python TIMELINE REPORT FUNCTION PLACE
      most waits of the thread that --stacks saw wait in FUNCTION carry the Python place PLACE
  speedscope TIMELINE DOM
      speedscope's page (its DOM as headless Chromium dumped it) has a track for every thread of
      the file, with the time of that thread's spans on it
"""
import collections
import json
import re
import sys


def last_json(path):
    return json.loads(open(path).read().strip().splitlines()[-1])


def events(path):
    t = json.load(open(path))
    return t["traceEvents"], t["otherData"]


def near(a, b):
    return abs(a - b) <= 0.01 * max(a, b, 1)


def pairs(evs):
    """Each span's begin and end events (which has the arguments): a thread's spans follow one
    another."""
    begun = {}
    for e in evs:
        if e["ph"] == "B":
            assert e["tid"] not in begun, "span begun inside another: %s" % e
            begun[e["tid"]] = e
        elif e["ph"] == "E":
            b = begun.pop(e["tid"])
            assert b["name"] == e["name"] and e["ts"] >= b["ts"], "%s ends %s" % (e, b)
            yield b, e
    assert not begun, "spans never ended: %s" % begun


def sums(path, report, truth=None):
    evs, meta = events(path)
    r = last_json(report)
    hold = collections.Counter()
    wait = collections.Counter()
    holds = 0
    spans = collections.defaultdict(list)
    gil_holds = []
    for b, e in pairs(evs):
        start, end = round(b["ts"] * 1000), round(e["ts"] * 1000)
        spans[e["tid"]].append((start, end))
        if e["name"] == "holds GIL":
            hold[e["tid"]] += e["args"]["held_ns"]
            wait[e["tid"]] += e["args"]["wait_ns"]
            holds += e["args"]["holds"]
            gil_holds.append((start, end, e["tid"]))
        elif e["name"] == "waits for GIL":
            wait[e["tid"]] += e["args"]["wait_ns"]
    bad = []
    for g in r["groups"]:
        tid = g["tid"]
        h, w = g["hold_ns"]["total"], g["wait_ns"]["total"]
        print("# tid %d %s: hold %d ns (report %d), wait %d ns (report %d)"
              % (tid, g["comm"], hold[tid], h, wait[tid], w))
        if not near(hold[tid], h) or not near(wait[tid], w):
            bad.append("tid %d's sums" % tid)
    if set(hold) - {g["tid"] for g in r["groups"]}:
        bad.append("threads the report does not have")
    print("# %d cycles, %d holds in spans; report: %d releases; %s"
          % (meta["cycles"], holds, r["releases"], meta))
    # a hold whose acquisition the probes did not see (a thread's first, in CPython's view) is
    # counted apart, as the report's hold histogram leaves it out too: at most one a thread
    unseen = meta["holds_unseen_acquisition"]
    if (holds + unseen != r["releases"] or meta["cycles"] != r["releases"] or
            unseen > len(r["groups"])):
        bad.append("cycles")
    for k in ("lost_ring_full", "dropped_over_limit"):
        if meta[k]:
            bad.append(k)
    # the JSON report's final line carries the same counts, and names the file
    counts = dict(meta, file=path)
    del counts["producer"]
    if r.get("timeline") != counts:
        bad.append("the report's timeline %s, not %s" % (r.get("timeline"), counts))
    for tid, s in spans.items():
        s.sort()
        if any(b[0] < a[1] for a, b in zip(s, s[1:])):
            bad.append("tid %d's spans overlap" % tid)
    gil_holds.sort()
    overlaps = sum(b[0] < a[1] for a, b in zip(gil_holds, gil_holds[1:]))
    if overlaps:
        bad.append("%d holds overlap another thread's" % overlaps)
    if truth:
        t = last_json(truth)
        print("# libgil: %d acquisitions, hold %d ns, wait %d ns; file: hold %d, wait %d"
              % (t["acquisitions"], t["hold_ns"]["total"], t["wait_ns"]["total"],
                 sum(hold.values()), sum(wait.values())))
        if (meta["cycles"] != t["acquisitions"] or
                not near(sum(hold.values()), t["hold_ns"]["total"]) or
                not near(sum(wait.values()), t["wait_ns"]["total"])):
            bad.append("libgil's truth")
    if bad:
        print("# wrong: " + ", ".join(bad))
    return not bad


def marks(path, report):
    evs, _ = events(path)
    r = last_json(report)
    n = collections.Counter(e["name"] for e in evs)
    requested = r["releases"] - r["voluntary_releases"]
    print("# forced switch marks %d (report %d), released on request %d (report %d)"
          % (n["forced switch"], r["forced_switches"], n["released on request"], requested))
    return n["forced switch"] == r["forced_switches"] and n["released on request"] == requested


def python(path, report, function, place):
    evs, _ = events(path)
    rows = [w for w in last_json(report)["stacks"]["waiters"] if w["function"] == function]
    if not rows:
        print("# --stacks saw no thread wait in %s" % function)
        return False
    tid = rows[0]["tid"]
    places = collections.Counter(e["args"].get("python") for e in evs
                                 if e["ph"] == "E" and e["name"] == "waits for GIL"
                                 and e["tid"] == tid)
    print("# tid %d's waits: %s" % (tid, places.most_common(4)))
    total = sum(places.values())
    return total > 0 and places[place] * 2 > total


def speedscope(path, dom):
    """Every thread is a track, and the time speedscope puts on it is the spans' time."""
    evs, _ = events(path)
    names = {e["tid"]: e["args"]["name"] for e in evs if e["name"] == "thread_name"}
    covered = collections.Counter()
    for b, e in pairs(evs):
        covered[e["tid"]] += round(e["ts"] * 1000) - round(b["ts"] * 1000)
    page = open(dom).read()
    units = {"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}
    bad = []
    for tid, name in names.items():
        m = re.search(r'title="[^"]*, %s \(tid %d\)"[^>]*>.*?<td[^>]*>([0-9.]+)(ns|µs|us|ms|s)</td>'
                      % (re.escape(name), tid), page)
        if not m:
            bad.append("no track for %s (tid %d)" % (name, tid))
            continue
        shown = float(m.group(1)) * units[m.group(2)]
        # the page rounds to two decimals of its unit
        ok = abs(shown - covered[tid]) <= 0.01 * covered[tid] + 0.005 * units[m.group(2)]
        print("# %s (tid %d): speedscope shows %s%s, the file's spans cover %.3f ms"
              % (name, tid, m.group(1), m.group(2), covered[tid] / 1e6))
        if not ok:
            bad.append("tid %d's time" % tid)
    if bad:
        print("# wrong: " + ", ".join(bad))
    return bool(names) and not bad


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    sys.exit(not {"sums": sums, "marks": marks, "python": python,
                  "speedscope": speedscope}[what](*args))
