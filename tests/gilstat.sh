#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: long
# gilstat end to end: the real BPF object loaded and attached to real workloads, its numbers
# compared with libgil's own ground-truth counters; attach to a running process; decoys; nothing
# left attached however gilstat exits.
set -u
. "$(dirname "$0")/lib.sh"
SPIN=$OUTPUT/tests/gilspin
# Every libgil program here keeps its ground truth, except where a test says otherwise.
export GIL_STATS=1
CHECK="python3 tests/jsoncheck.py"
make_tmp
need_root "gilstat integration"

# Ground truth against gilstat, for a workload run as a command: every event is seen.
$GILSTAT -j -o "$tmp/spin.json" -- $SPIN 2 1500 >"$tmp/spin.truth" 2>"$tmp/spin.err"
check "spin: gilstat runs a command and exits 0" [ $? -eq 0 ]
check "spin: counts exact, times within 1%, per-CPU sums = totals" \
	$CHECK truth "$tmp/spin.truth" "$tmp/spin.json"
forced=$($CHECK get "$tmp/spin.json" forced_switches)
switches=$($CHECK get "$tmp/spin.json" switches)
check "spin: dozens of switches, nearly all forced (two CPU-bound threads)" \
	[ "$forced" -gt 20 -a $((forced * 10)) -ge $((switches * 9)) ]
check "spin: waits of two CPU threads are in the milliseconds (p50 > 1 ms)" \
	[ "$($CHECK get "$tmp/spin.json" wait_ns.p50)" -gt 1000000 ]
check "spin: a handoff for every switch but the first ones" \
	[ "$($CHECK get "$tmp/spin.json" handoff_ns.count)" -ge $((switches - 2)) ]
check "spin: the scheduler delay of waiters was measured" \
	[ "$($CHECK get "$tmp/spin.json" sched_delay_ns.count)" -gt 0 ]

# The schema can refuse a report: one without its version, one whose bucket bounds are not in ns.
if py=$(schema_python); then
	sed 's/"version":1,//' "$tmp/spin.json" >"$tmp/noversion.bad"
	sed -E 's/"low":([0-9]+)000,/"low":\1,/g' "$tmp/spin.json" >"$tmp/us.bad"
	for bad in noversion us; do
		check "docs/gilstat.schema.json refuses a report: $bad" eval \
			'! $py tests/schemacheck.py docs/gilstat.schema.json "$tmp/$bad.bad" >/dev/null'
	done
else
	skip "docs/gilstat.schema.json refuses a report" \
		"no python3 with the jsonschema module (python3-jsonschema)"
fi

# Without GIL_STATS only the probes' semaphores make libgil read its clocks: every wait measured
# proves that attaching raised them.
env -u GIL_STATS $GILSTAT -j -o "$tmp/sema.json" -- $SPIN 2 500 >/dev/null 2>&1
check "semaphores: no GIL_STATS, yet every acquisition has its wait" \
	[ "$($CHECK get "$tmp/sema.json" wait_ns.count)" = "$($CHECK get "$tmp/sema.json" acquisitions)" \
	  -a "$($CHECK get "$tmp/sema.json" dropped_total)" = 0 ]

# gilwork's scenarios, each with its ground truth (GIL_STATS=1) in its own JSON.
for scenario in "cpu --work 2000000" "convoy --seconds 1" "io --seconds 0.2"; do
	name=${scenario%% *}
	$GILSTAT -j -o "$tmp/$name.json" -- $GILWORK $scenario --json \
		>"$tmp/$name.truth" 2>"$tmp/$name.err"
	check "gilwork $name: gilstat exits 0" [ $? -eq 0 ]
	check "gilwork $name: counts exact, times within 1%, per-CPU sums = totals" \
		$CHECK truth "$tmp/$name.truth" "$tmp/$name.json"
done

# Interval reports are deltas: together they add up to the ground truth exactly.
$GILSTAT -j -o "$tmp/intervals.json" 1 -- $SPIN 2 2500 1 >"$tmp/intervals.truth" 2>/dev/null
check "intervals: the command's exit code becomes gilstat's" [ $? -eq 1 ]
# The command runs 2.5 s once started, which a loaded machine may start late: two interval
# reports at least, then the final one, and only the last is final.
check "intervals: 1 s reports over a 2.5 s run: 2 or more, then one final" \
	python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
print("# %d reports, final: %s" % (len(r), [x["final"] for x in r]))
sys.exit(not (len(r) >= 3 and r[-1]["final"] and not any(x["final"] for x in r[:-1])))' \
	"$tmp/intervals.json"
check "intervals: the reports add up to the ground truth" \
	$CHECK truth "$tmp/intervals.truth" "$tmp/intervals.json"

# Breakdowns: per thread and per GIL, each adding up to the totals.
sum_groups() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); g=r["groups"]
print(len(g), sum(x["acquisitions"] for x in g), r["acquisitions"])' "$1"
}
$GILSTAT -j -L -o "$tmp/threads.json" -- $SPIN 3 500 >/dev/null 2>&1
read -r n sum total <<<"$(sum_groups "$tmp/threads.json")"
check "-L: one group per thread (3 spinning + main)" [ "$n" -ge 3 -a "$n" -le 4 ]
check "-L: the threads' acquisitions add up to the total ($sum = $total)" [ "$sum" = "$total" ]
$GILSTAT -j -G -o "$tmp/gils.json" -- $GILWORK subinterp --work 300000 >/dev/null 2>&1
read -r n sum total <<<"$(sum_groups "$tmp/gils.json")"
check "-G: subinterp shows two GILs or more" [ "$n" -ge 2 ]
check "-G: the GILs' acquisitions add up to the total ($sum = $total)" [ "$sum" = "$total" ]
$GILSTAT -C -m -T -- $SPIN 2 300 >"$tmp/text.out" 2>/dev/null
check "-C: per-CPU histograms" grep -q "^==== CPU" "$tmp/text.out"
check "-m: histograms in msecs" grep -q "msecs  *: count    distribution" "$tmp/text.out"
check "-T: a timestamp" grep -qE "^[0-9]{2}:[0-9]{2}:[0-9]{2}" "$tmp/text.out"

# A decoy process using libgil at the same time contributes nothing.
$SPIN 2 3000 >/dev/null &
decoy=$!
$GILSTAT -j -o "$tmp/decoy.json" -- $SPIN 2 1000 >"$tmp/decoy.truth" 2>/dev/null
check "decoy: only the traced process is counted" \
	$CHECK truth "$tmp/decoy.truth" "$tmp/decoy.json"
wait $decoy

# A libgil whose notes place the arguments anywhere (sys/sdt.h's default): gilstat decodes them
# through bpf_usdt_arg() instead of reading the call registers, and counts the same.
sdt_lib=$OUTPUT/tests/sdt-args
LD_LIBRARY_PATH=$sdt_lib $GILSTAT -v -j -o "$tmp/sdt.json" -- $SPIN 2 1000 >"$tmp/sdt.truth" \
	2>"$tmp/sdt.err"
check "sdt.h argument placement: gilstat exits 0" [ $? -eq 0 ]
check "sdt.h argument placement: probes in $sdt_lib, decoded by bpf_usdt_arg()" \
	grep -q "probe arguments read through bpf_usdt_arg()" "$tmp/sdt.err"
check "sdt.h argument placement: counts exact, times within 1%, per-CPU sums = totals" \
	$CHECK truth "$tmp/sdt.truth" "$tmp/sdt.json"
check "call-register arguments: read from the registers" \
	grep -q "probe arguments read from the call registers" <($GILSTAT -v -- $SPIN 1 10 2>&1)

# The statically linked gilwork carries the probes in its executable.
$GILSTAT -j -o "$tmp/static.json" -- $OUTPUT/gilwork-static cpu --work 1000000 >/dev/null 2>&1
check "static: probes found in the executable itself" \
	[ "$($CHECK get "$tmp/static.json" acquisitions)" -gt 0 ]

# -p: attach to a process that is already running.
$SPIN 2 0 >"$tmp/p.truth" &
target=$!
wait_mapped $target libgil
$GILSTAT -j -d 1 -p $target >"$tmp/p.json" 2>"$tmp/p.err"
check "-p: exits 0 after -d" [ $? -eq 0 ]
# At most 200 in the second (one per 5 ms interval); a loaded machine makes fewer, by how long the
# holder waits for a CPU before it can drop.
check "-p: sees the running process's switches" \
	[ "$($CHECK get "$tmp/p.json" switches)" -gt 10 ]
check "-p: -d leaves the target running" kill -0 $target

# SIGINT, SIGTERM and SIGHUP: a final report, then nothing stays attached.
# Each run has files of its own: one left by the previous run would say "attached" at once.
for sig in INT TERM HUP; do
	$GILSTAT -j -p $target >"$tmp/sig.$sig.json" 2>"$tmp/sig.$sig.err" &
	g=$!
	wait_attached "$tmp/sig.$sig.err"
	held=$(bpf_objects_of $g)
	kill -$sig $g
	wait $g
	check "SIG$sig: gilstat exits 0" [ $? -eq 0 ]
	check "SIG$sig: the final report is printed" \
		[ "$($CHECK get "$tmp/sig.$sig.json" final)" = True ]
	check "SIG$sig: gilstat held programs and links while tracing" \
		[ "$(grep -c '^prog' <<<"$held")" -ge 5 -a "$(grep -c '^link' <<<"$held")" -ge 5 ]
	check "SIG$sig: none of its programs, links or maps is left" bpf_objects_gone "$held"
done

# kill -9: the links are owned by file descriptors, which die with gilstat.
$GILSTAT -p $target >/dev/null 2>"$tmp/kill.err" &
g=$!
wait_attached "$tmp/kill.err"
held=$(bpf_objects_of $g)
check "kill -9: the programs were loaded while running" [ "$(grep -c '^prog' <<<"$held")" -ge 5 ]
kill -9 $g
wait $g 2>/dev/null
check "kill -9: none of its programs, links or maps is left" bpf_objects_gone "$held"

# The target exiting ends gilstat with a report.
$GILSTAT -j -p $target >"$tmp/exit.json" 2>"$tmp/exit.err" &
g=$!
wait_attached "$tmp/exit.err"
kill -TERM $target
wait $target
wait $g
check "target exit: gilstat ends with status 0" [ $? -eq 0 ]
check "target exit: the final report is printed" [ "$($CHECK get "$tmp/exit.json" final)" = True ]

check_schema "$tmp"/*.json
done_testing
