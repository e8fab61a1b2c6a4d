#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run counts and run times of the BPF programs one process holds.

Usage: bpfstats.py PID
Prints one JSON object, {"NAME": {"run_cnt": N, "run_time_ns": T, "ns_per_run": T / N}, ...}, for
the programs whose file descriptors PID holds, so that another tracer's programs of the same name
do not mix in. The kernel counts only while kernel.bpf_stats_enabled is 1.
"""
import json
import os
import subprocess
import sys


def held_prog_ids(pid):
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    try:
        fds = os.listdir(fdinfo)
    except OSError:
        sys.exit("bpfstats.py: process %d has ended: the programs it held are gone" % pid)
    for fd in fds:
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ids = held_prog_ids(int(sys.argv[1]))
    progs = json.loads(subprocess.run(["bpftool", "-j", "prog", "show"], check=True,
                                      capture_output=True, text=True).stdout)
    out = {}
    for p in progs:
        if p["id"] not in ids:
            continue
        cnt, ns = p.get("run_cnt", 0), p.get("run_time_ns", 0)
        out[p["name"]] = {"run_cnt": cnt, "run_time_ns": ns,
                          "ns_per_run": round(ns / cnt, 1) if cnt else None}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
