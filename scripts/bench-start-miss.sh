#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What `gilstat -a` misses of a CPython started after it: the GIL cycles between the process's
# exec and the attach its exec event leads to. The same short CPython (N os.write/os.read pairs on
# a pipe, each call a release and a reacquire) is counted first from its first cycle, under
# `gilstat --python -- CMD`, then RUNS times under one `gilstat -a`, one after another; the miss
# of each start is the difference, in acquisitions, and the time from exec to attach is what
# gilstat -a -v logs. A libgil program needs no such table: its file's probes serve every later
# process from its first cycle (tests/fleet.sh checks 200 of them exactly).
# Usage: scripts/bench-start-miss.sh [--runs N] [PYTHON]
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
GILSTAT=${GILSTAT:-$OUTPUT/gilstat}
runs=20
if [ "${1:-}" = --runs ]; then
	runs=$2
	shift 2
fi
case $runs in '' | *[!0-9]* | 0) echo "bench-start-miss.sh: --runs wants a count" >&2; exit 2 ;; esac
py=${1:-/usr/bin/python3.11}
[ -x "$GILSTAT" ] || { echo "bench-start-miss.sh: $GILSTAT not built (make)" >&2; exit 1; }
[ -x "$py" ] || { echo "bench-start-miss.sh: no $py" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
prog='import os
r, w = os.pipe()
for _ in range(1000):
    os.write(w, b"x")
    os.read(r, 1)'

"$GILSTAT" --python -j -o "$tmp/whole.json" -- "$py" -c "$prog" >/dev/null 2>&1 ||
	{ echo "bench-start-miss.sh: gilstat --python -- $py failed" >&2; exit 1; }
whole=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["acquisitions"])' \
	"$tmp/whole.json")

"$GILSTAT" -a -v -j -o "$tmp/all.json" >/dev/null 2>"$tmp/all.err" &
g=$!
for _ in $(seq 100); do
	grep -q "Hit Ctrl-C" "$tmp/all.err" && break
	sleep 0.1
done
: >"$tmp/pids"
for _ in $(seq "$runs"); do
	"$py" -c "$prog" &
	echo $! >>"$tmp/pids"
	wait $!
done
kill -INT $g
wait $g
python3 - "$tmp/all.json" "$tmp/all.err" "$tmp/pids" "$whole" "$py" <<'EOF'
import json, re, statistics, sys
report, log, pids, whole, py = sys.argv[1:]
whole = int(whole)
pids = [int(p) for p in open(pids).read().split()]
got = dict.fromkeys(pids, 0)
for g in json.loads(open(report).read().splitlines()[-1])["groups"]:
    if g["pid"] in got:
        got[g["pid"]] += g["acquisitions"]
after = {}
for line in open(log):
    m = re.match(r"gilstat: PID (\d+) .* traced: .*, ([0-9.]+) ms after it was seen", line)
    if m:
        after[int(m.group(1))] = float(m.group(2))
missed = sorted(whole - got[p] for p in pids)
untraced = [i for i, p in enumerate(pids) if p not in after]
traced = [p for p in pids if p in after]
print("%s, %d starts after gilstat -a; %d acquisitions each from its first cycle "
      "(gilstat --python -- CMD)" % (py, len(pids), whole))
print("traced: %d of %d; missed acquisitions per start: median %d, min %d, max %d "
      "(%.1f%% of the median start)" % (len(traced), len(pids), statistics.median(missed),
                                        missed[0], missed[-1],
                                        100.0 * statistics.median(missed) / whole))
if untraced:
    print("not traced: start number %s (counting from 0)" % ", ".join(map(str, untraced)))
if traced:
    print("attached after the exec event: median %.1f ms" % statistics.median(after[p] for p in traced))
EOF
