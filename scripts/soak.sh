#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make soak: gilstat under load for long, too long for CI (17 to 21 minutes on 2 CPUs).
#  1. 64 threads x 1,000,000 GIL cycles under gilstat, a report every 10 s: no deadlock, every
#     report consistent, their sum exact against libgil's ground truth. (make test runs it
#     scaled down to 64 x 20,000 in tests/load.sh.)
#  2. A soak of SOAK_SECONDS (600): 8 threads spinning on one GIL, traced with -L, a report every
#     10 s; every report consistent, their sum exact, gilstat's memory flat, and nothing left
#     attached once it exits.
# SOAK_SECONDS and SOAK_CYCLES shorten it for a trial run. Prints TAP, like the tests.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CYCLES=${SOAK_CYCLES:-1000000}
CHECK="python3 tests/jsoncheck.py"
INTERVALS="python3 tests/intervalcheck.py"
export GIL_STATS=1
make_tmp
need_root "soak"

start=$SECONDS
timeout 3600 $GILSTAT -j -o "$tmp/cycles.json" 10 -- $OUTPUT/tests/gilcycle 64 "$SOAK_CYCLES" \
	>"$tmp/cycles.truth" 2>/dev/null
check "64 threads x $SOAK_CYCLES cycles: done in $((SECONDS - start)) s, exit 0" [ $? -eq 0 ]
check "64 x $SOAK_CYCLES: counts exact, times within 1%" \
	$CHECK truth "$tmp/cycles.truth" "$tmp/cycles.json"
check "64 x $SOAK_CYCLES: every 10 s report consistent" $INTERVALS "$tmp/cycles.json" 64 10

# rss_kb PID: resident memory now.
rss_kb() { awk '/^VmRSS:/ { print $2 }' /proc/$1/status; }

$GILSTAT -j -L -o "$tmp/soak.json" 10 -- $OUTPUT/tests/gilspin 8 $((SOAK_SECONDS * 1000)) \
	>"$tmp/soak.truth" 2>"$tmp/soak.err" &
g=$!
sleep 25
rss_early=$(rss_kb $g)
rss_late=$rss_early
held=$(bpf_objects_of $g)
while kill -0 $g 2>/dev/null; do
	rss=$(rss_kb $g 2>/dev/null) && rss_late=$rss
	sleep 5
done
wait $g
check "soak ${SOAK_SECONDS} s: gilstat exits 0 with its command" [ $? -eq 0 ]
check "soak: every 10 s report consistent" $INTERVALS "$tmp/soak.json" 8 10
check "soak: the reports add up to the ground truth exactly" \
	$CHECK truth "$tmp/soak.truth" "$tmp/soak.json"
check "soak: gilstat's memory stays flat (${rss_early} kB after 25 s, ${rss_late} kB at the end)" \
	[ "$rss_late" -le $((rss_early + rss_early / 10 + 512)) ]
check "soak: none of gilstat's programs, links or maps is left" bpf_objects_gone "$held"

done_testing
