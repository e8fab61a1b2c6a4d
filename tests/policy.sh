#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# libgil's io-priority policy, the convoy fix (runtime/gil.c), end to end through gilwork:
#  - `gilwork convoy --policy io-priority` runs the contended phase under CPython's policy and
#    under io-priority in turns, in one run. The round trips are printed, not asserted: beside
#    `stress-ng --cpu 2` the CPU thread is often off the CPUs, the convoy under CPython's policy
#    falls apart by itself, and io-priority's spins cost more than they save (106 against 183 us
#    in one run; 1.5x to 5.4x the other way in others). `make bench` measures them (docs/gilwork.md);
#  - GIL_POLICY in the environment chooses the policy of every GIL;
#  - the ground truth: the I/O thread waits far less than an interval per forced switch;
#  - gilstat, with the policy on, counts exactly what libgil's ground truth counted (root).
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$GILWORK" convoy --seconds 2 --policy io-priority --json >"$tmp/ratios.json" 2>"$tmp/err" ||
	sed 's/^/# /' "$tmp/err"
# us_per_round_trip MODE: the round trip of one phase, in microseconds.
us_per_round_trip() {
	python3 -c 'import json, sys
r = {row["mode"]: row for row in json.load(open(sys.argv[1]))["results"]}
print(r[sys.argv[2]]["us_per_round_trip"])' "$tmp/ratios.json" "$1"
}
alone=$(us_per_round_trip alone) cpython=$(us_per_round_trip contended)
io=$(us_per_round_trip io-priority)
echo "# round trip: alone $alone us, beside a CPU thread $cpython us (CPython's policy)," \
	"$io us (io-priority)"
check "io-priority: the convoy with the policy runs its phases and reports each" \
	[ -n "$alone" -a -n "$cpython" -a -n "$io" ]

GIL_POLICY=io-priority "$GILWORK" convoy --seconds 0.2 --json >"$tmp/env.json" 2>&1
check "GIL_POLICY=io-priority: every phase runs under the policy" python3 -c '
import json, sys
rows = json.load(open(sys.argv[1]))["results"]
sys.exit(not all(r["policy"] == "io-priority" for r in rows))' "$tmp/env.json"

GIL_STATS=1 "$GILWORK" convoy --seconds 1 --policy io-priority --json >"$tmp/truth.json" 2>&1
# Under CPython's policy a forced switch costs the I/O thread a whole interval of waiting, by
# construction; under io-priority a slice and the holder's way to its next poll. On a loaded
# machine the scheduler adds its delay to both, so io-priority's is compared with CPython's from
# the same run (the phases take turns): at most half of it.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = {row["mode"]: row for row in d["results"]}
for mode in "contended", "io-priority":
    io = r[mode]["io_thread"]
    print("%s %d %d" % (mode, io["forced_switches"], io["wait_ns"]["total"]))' \
	"$tmp/truth.json" >"$tmp/truth.waits"
read -r _ cpy_forced cpy_wait_ns < <(grep '^contended ' "$tmp/truth.waits")
read -r _ io_forced io_wait_ns < <(grep '^io-priority ' "$tmp/truth.waits")
interval_ns=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["interval_us"] * 1000)' \
	"$tmp/truth.json")
echo "# I/O thread's wait per forced switch: $((cpy_wait_ns / (cpy_forced ? cpy_forced : 1))) ns" \
	"(CPython's policy), $((io_wait_ns / (io_forced ? io_forced : 1))) ns (io-priority)"
check "ground truth: under CPython's policy, an interval of waiting per forced switch" \
	[ "${cpy_forced:-0}" -gt 0 -a "$((cpy_wait_ns * 10))" -ge "$((cpy_forced * interval_ns * 8))" ]
check "ground truth: under io-priority, at most half of that per forced switch" \
	[ "${io_forced:-0}" -gt 0 -a "$((io_wait_ns * cpy_forced * 2))" -le "$((cpy_wait_ns * io_forced))" ]

if [ "$(id -u)" -ne 0 ]; then
	skip "gilstat with the policy on" "needs root to load BPF programs"
	done_testing
fi
GIL_STATS=1 $GILSTAT -j -o "$tmp/gilstat.json" -- $GILWORK convoy --seconds 1 \
	--policy io-priority --json >"$tmp/gilstat.truth" 2>"$tmp/gilstat.err"
check "gilstat, policy on: exits 0" [ $? -eq 0 ]
check "gilstat, policy on: counts exact, times within 1%, per-CPU sums = totals" \
	python3 tests/jsoncheck.py truth "$tmp/gilstat.truth" "$tmp/gilstat.json"

done_testing
