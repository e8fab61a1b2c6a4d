#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What libgil's probes cost when nobody traces: the uncontended acquire+release cycle of
# cyclebench (probes compiled in, detached) against cyclebench-noprobes (compiled out). Runs the
# two alternately, in ABBA order so that drifts of the machine hit both alike, and prints each
# pair, then one JSON line: the medians over the runs, the median of the per-run ratios, and the
# fastest repetition of each (the least disturbed by other work on the machine); the same median
# and ratio in CPU time, which leaves out the time other tasks (and other VMs) took the CPU.
# Usage: scripts/bench-cycle.sh [RUNS [ITERATIONS [REPETITIONS]]]   (OUTPUT as for make)
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
runs=${1:-9}
iterations=${2:-200000}
repetitions=${3:-31}

make -s --no-print-directory OUTPUT="$OUTPUT" "$OUTPUT/cyclebench" "$OUTPUT/cyclebench-noprobes"

# "MEDIAN MIN CPU_MEDIAN" of one run.
num='\([0-9.]*\)'
cycle_ns() {
	"$OUTPUT/$1" "$iterations" "$repetitions" |
		sed -n "s/.*\"cycle_ns\": $num, \"cycle_ns_min\": $num,.*\"cpu_cycle_ns\": $num,.*/\1 \2 \3/p"
}

untraced=() probes_out=() untraced_min=() probes_out_min=() untraced_cpu=() probes_out_cpu=()
for ((i = 0; i < runs; i++)); do
	if ((i % 2 == 0)); then
		read -r u umin ucpu < <(cycle_ns cyclebench)
		read -r o omin ocpu < <(cycle_ns cyclebench-noprobes)
	else
		read -r o omin ocpu < <(cycle_ns cyclebench-noprobes)
		read -r u umin ucpu < <(cycle_ns cyclebench)
	fi
	echo "# run $((i + 1)): untraced $u ns (min $umin, CPU $ucpu)," \
		"probes out $o ns (min $omin, CPU $ocpu)"
	untraced+=("$u") probes_out+=("$o") untraced_min+=("$umin") probes_out_min+=("$omin")
	untraced_cpu+=("$ucpu") probes_out_cpu+=("$ocpu")
done

python3 - "${untraced[*]}" "${probes_out[*]}" "${untraced_min[*]}" "${probes_out_min[*]}" \
	"${untraced_cpu[*]}" "${probes_out_cpu[*]}" <<'EOF'
import json, statistics, sys
u, o, umin, omin, ucpu, ocpu = ([float(x) for x in arg.split()] for arg in sys.argv[1:7])
print(json.dumps({
    "cycle_ns_untraced": round(statistics.median(u), 2),
    "cycle_ns_probes_out": round(statistics.median(o), 2),
    "ratio": round(statistics.median(a / b for a, b in zip(u, o)), 3),
    "cycle_ns_untraced_min": min(umin),
    "cycle_ns_probes_out_min": min(omin),
    "cpu_cycle_ns_untraced": round(statistics.median(ucpu), 2),
    "cpu_cycle_ns_probes_out": round(statistics.median(ocpu), 2),
    "cpu_ratio": round(statistics.median(a / b for a, b in zip(ucpu, ocpu)), 3),
    "runs": len(u),
}))
EOF
