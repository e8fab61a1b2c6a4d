#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench, beside CPython 3.15's own sampling profiler (python3.15 -m profiling.sampling,
# "Tachyon"), on Debian sid's 3.15 as scripts/sid-python.sh provides it. Both tools run on the
# same workloads in one run, their sides alternated round by round:
# - culprit.py: does each name the function that holds the GIL against the I/O thread, and what
#   share of the GIL does it charge to it (Tachyon --mode gil's top leaf, gilstat --stacks' top
#   holder row; gilstat -L's exact hold time of the culprit's thread beside them);
# - cpu_pair.py (two CPU-bound threads): the share of time the GIL is held and its holder changes
#   per second, Tachyon's sampled timeline (Gecko "Has GIL" markers) and gilstat's count against
#   the hand-overs the two threads count themselves;
# - the cost to the target: a fixed amount of work (cpu_work.py, os_read.py) untraced, under
#   Tachyon at 1 kHz (its default) and 10 kHz, under gilstat --python with and without --stacks,
#   and with --timeline when this gilstat has it;
# - each profiler's own CPU time (utime + stime of its process tree, from wait4) and peak RSS,
#   attached for a fixed time to a running target.
# Writes $OUTPUT/bench-tachyon.json and the generated part of docs/benchmarks.md's section on
# Tachyon, each figure with its command. A profiler that fails gives a line in the table, not an
# exit; every run is bounded by timeout(1); nothing leaves the machine.
#
# Usage: scripts/bench-tachyon.sh   (as root; OUTPUT as for make; BENCH_REPS rounds, 5)
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
. scripts/lib.sh
reps=${BENCH_REPS:-5}
out=$OUTPUT
doc=docs/benchmarks.md
me=bench-tachyon.sh
# A run that takes longer than this (s) is killed and reported as failed.
run_limit_s=120

[ "$(id -u)" -eq 0 ] || { echo "$me: needs root (BPF)" >&2; exit 1; }
[ -x "$out/gilstat" ] || { echo "$me: $out/gilstat not built (make bench)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "$me: no /usr/bin/time (apt-get install time)" >&2; exit 1; }

tmp=$(mktemp -d)
bg_pids=()
cleanup() {
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The interpreter: sid's 3.15, fetched when it is not in the cache yet. Without it there is
# nothing to compare: one line, and make bench goes on.
scripts/sid-python.sh >/dev/null 2>"$tmp/sid.err" || true
py=$(scripts/sid-python.sh --print | awk '$1 ~ /^3\.15\./ { print $2 }')
if [ -z "$py" ]; then
	echo "$me: skipped: no CPython 3.15 (scripts/sid-python.sh: $(tail -1 "$tmp/sid.err"))" >&2
	exit 0
fi
home=$(dirname "$(dirname "$py")")/usr
if ! PYTHONHOME=$home "$py" -m profiling.sampling --help >/dev/null 2>"$tmp/tachyon.err"; then
	echo "$me: skipped: $py has no profiling.sampling: $(tail -1 "$tmp/tachyon.err")" >&2
	exit 0
fi
version=$(PYTHONHOME=$home "$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
timeline=
if "$out/gilstat" --help | grep -q -- '--timeline'; then
	timeline=1
else
	echo "no --timeline in this gilstat's --help" >"$tmp/timeline.absent"
fi
# gilstat asks debuginfod servers for a stripped build's symbols when DEBUGINFOD_URLS names
# some: none here, so that nothing leaves the machine and both tools read only what is local.
export DEBUGINFOD_URLS=

cat >"$tmp/meta" <<EOF
python $py
version $version
home $home
reps $reps
gilstat $out/gilstat
loadavg $(cut -d' ' -f1-3 /proc/loadavg)
kernel $(uname -r)
cpus $(nproc)
date $(date -u '+%Y-%m-%d %H:%M UTC')
EOF
[ -z "$timeline" ] || echo "timeline 1" >>"$tmp/meta"

# measure TAG -- CMD...: runs CMD (with the interpreter's PYTHONHOME) bounded by run_limit_s,
# under /usr/bin/time: TAG.time gets "wall utime stime maxrss_kb" of CMD's whole process tree
# (wait4's), TAG.rc its exit status, TAG.out and TAG.err its output. Never fails.
measure() {
	local tag=$1 rc=0
	shift 2
	PYTHONHOME=$home timeout -k 5 $run_limit_s /usr/bin/time -f '%e %U %S %M' \
		-o "$tmp/$tag.time" "$@" >"$tmp/$tag.out" 2>"$tmp/$tag.err" || rc=$?
	echo "$rc" >"$tmp/$tag.rc"
}
# cmd NAME TEXT: the command behind a figure, as the report prints it.
cmd() { printf '%s\t%s\n' "$1" "$2" >>"$tmp/commands"; }
: >"$tmp/commands"
# rotate N WORDS...: the words from the Nth on, then the first ones: each round starts its sides
# at another one, so that no side always runs first after a quiet spell or a busy one.
rotate() {
	local n=$1
	shift
	local -a w=("$@")
	n=$((n % ${#w[@]}))
	echo "${w[@]:n}" "${w[@]:0:n}"
}

P=tests/python
# the two profilers
T=("$py" -m profiling.sampling)
G=("$out/gilstat" --python)

wait_quiet 10

# 1. The culprit: culprit() holds the GIL in one C call against an I/O thread. Tachyon keeps the
# samples in which a thread holds the GIL; gilstat charges each long wait to the holder's stack.
cmd culprit.tachyon "${T[*]} run --mode gil -a --collapsed -o F $P/culprit.py 3"
cmd culprit.gilstat "${G[*]} --stacks -L -j -o F -- $py $P/culprit.py 3"
echo "  BENCH   culprit.py: Tachyon --mode gil vs gilstat --stacks, $reps rounds" >&2
for i in $(seq "$reps"); do
	for side in $(rotate "$i" tachyon gilstat); do
		case $side in
		tachyon) measure "culprit.tachyon.$i" -- "${T[@]}" run --mode gil -a --collapsed \
			-o "$tmp/culprit.tachyon.$i.txt" $P/culprit.py 3 ;;
		gilstat) measure "culprit.gilstat.$i" -- "${G[@]}" --stacks -L -j \
			-o "$tmp/culprit.gilstat.$i.json" -- "$py" $P/culprit.py 3 ;;
		esac
	done
done

# 2. Two CPU-bound threads: the GIL is held all the time and changes hands about once per switch
# interval. Tachyon's view is its sampled timeline (Gecko "Has GIL" markers, which --gecko
# writes in its default mode); gilstat counts every hand-over; the threads count theirs.
B=scripts/bench
cmd pair.tachyon1k "${T[*]} run -a --gecko -o F $B/cpu_pair.py 2"
cmd pair.tachyon10k "${T[*]} run -r 10khz -a --gecko -o F $B/cpu_pair.py 2"
cmd pair.gilstat "${G[*]} -j -o F -- $py $B/cpu_pair.py 2"
cmd pair.truth "$py -c 'import sys; print(sys.getswitchinterval())'"
PYTHONHOME=$home "$py" -c 'import sys; print(sys.getswitchinterval())' >"$tmp/switchinterval"
echo "  BENCH   cpu_pair.py: Tachyon's timeline at 1 and 10 kHz vs gilstat, $reps rounds" >&2
for i in $(seq "$reps"); do
	for side in $(rotate "$i" tachyon1k tachyon10k gilstat); do
		case $side in
		tachyon1k) measure "pair.tachyon1k.$i" -- "${T[@]}" run -a --gecko \
			-o "$tmp/pair.tachyon1k.$i.gecko" $B/cpu_pair.py 2 ;;
		tachyon10k) measure "pair.tachyon10k.$i" -- "${T[@]}" run -r 10khz -a --gecko \
			-o "$tmp/pair.tachyon10k.$i.gecko" $B/cpu_pair.py 2 ;;
		gilstat) measure "pair.gilstat.$i" -- "${G[@]}" -j -o "$tmp/pair.gilstat.$i.json" -- \
			"$py" $B/cpu_pair.py 2 ;;
		esac
	done
done

# 3. The cost to the target: the same work untraced and under each profiler, as the target
# itself times it (cpu_work.py's "elapsed", os_read.py's "loop_ns"), as the target's own CPU time
# (timed.py's "cpu_s": the probes' handlers run in the target's threads; it moves less than a
# wall time with the machine's other work) and as the command's wall time, which adds the
# profiler's start and exit. Each round waits for a quieter moment first.
sides="bare tachyon1k tachyon10k gilstat stacks"
[ -z "$timeline" ] || sides+=" timeline"
declare -A work=([cpu]="$B/timed.py $P/cpu_work.py 10000000"
	[io]="$B/timed.py $P/os_read.py 200000")
for w in cpu io; do
	cmd "cost.$w.bare" "$py ${work[$w]}"
	cmd "cost.$w.tachyon1k" "${T[*]} run --mode gil -a --collapsed -o F ${work[$w]}"
	cmd "cost.$w.tachyon10k" "${T[*]} run -r 10khz --mode gil -a --collapsed -o F ${work[$w]}"
	cmd "cost.$w.gilstat" "${G[*]} -j -o F -- $py ${work[$w]}"
	cmd "cost.$w.stacks" "${G[*]} --stacks -j -o F -- $py ${work[$w]}"
	cmd "cost.$w.timeline" "${G[*]} --timeline F -j -o F -- $py ${work[$w]}"
	echo "  BENCH   cost to the target, ${work[$w]}: $sides, $reps rounds" >&2
	for i in $(seq "$reps"); do
		wait_quiet 5
		# shellcheck disable=SC2086 # a list of words
		for side in $(rotate "$i" $sides); do
			tag=cost.$w.$side.$i
			# shellcheck disable=SC2086 # the workload's words
			case $side in
			bare) measure "$tag" -- "$py" ${work[$w]} ;;
			tachyon1k) measure "$tag" -- "${T[@]}" run --mode gil -a --collapsed \
				-o "$tmp/$tag.txt" ${work[$w]} ;;
			tachyon10k) measure "$tag" -- "${T[@]}" run -r 10khz --mode gil -a --collapsed \
				-o "$tmp/$tag.txt" ${work[$w]} ;;
			gilstat) measure "$tag" -- "${G[@]}" -j -o "$tmp/$tag.json" -- "$py" ${work[$w]} ;;
			stacks) measure "$tag" -- "${G[@]}" --stacks -j -o "$tmp/$tag.json" -- "$py" \
				${work[$w]} ;;
			timeline) measure "$tag" -- "${G[@]}" --timeline "$tmp/$tag.trace.json" -j \
				-o "$tmp/$tag.json" -- "$py" ${work[$w]} ;;
			esac
		done
	done
done

# 4. The profiler's own cost: attached for 3 s to a culprit.py that runs 9 s, so that the
# profiler's process tree is the profiler alone (the target is this script's child). The target
# outlives the profiler's start (gilstat reads the interpreter's symbols first).
psides="tachyon1k tachyon10k gilstat stacks"
[ -z "$timeline" ] || psides+=" timeline"
cmd self.tachyon1k "${T[*]} attach -d 3 --mode gil -a --collapsed -o F PID"
cmd self.tachyon10k "${T[*]} attach -r 10khz -d 3 --mode gil -a --collapsed -o F PID"
cmd self.gilstat "${G[*]} -p PID -d 3 -j -o F"
cmd self.stacks "${G[*]} --stacks -p PID -d 3 -j -o F"
cmd self.timeline "${G[*]} --timeline F -p PID -d 3 -j -o F"
cmd self.target "$py $P/culprit.py 9"
echo "  BENCH   the profilers' own CPU and RSS, attached 3 s: $psides, $reps rounds" >&2
for i in $(seq "$reps"); do
	# shellcheck disable=SC2086 # a list of words
	for side in $(rotate "$i" $psides); do
		tag=self.$side.$i
		# not under timeout(1): the profilers attach to this pid; it ends by itself
		PYTHONHOME=$home "$py" $P/culprit.py 9 >/dev/null &
		target=$!
		bg_pids+=("$target")
		sleep 1
		case $side in
		tachyon1k) measure "$tag" -- "${T[@]}" attach -d 3 --mode gil -a --collapsed \
			-o "$tmp/$tag.txt" "$target" ;;
		tachyon10k) measure "$tag" -- "${T[@]}" attach -r 10khz -d 3 --mode gil -a --collapsed \
			-o "$tmp/$tag.txt" "$target" ;;
		gilstat) measure "$tag" -- "${G[@]}" -p "$target" -d 3 -j -o "$tmp/$tag.json" ;;
		stacks) measure "$tag" -- "${G[@]}" --stacks -p "$target" -d 3 -j -o "$tmp/$tag.json" ;;
		timeline) measure "$tag" -- "${G[@]}" --timeline "$tmp/$tag.trace.json" -p "$target" -d 3 \
			-j -o "$tmp/$tag.json" ;;
		esac
		wait "$target" || true
		bg_pids=()
	done
done

echo "  BENCH   writing $out/bench-tachyon.json and $doc" >&2
python3 scripts/bench/tachyon_report.py "$tmp" "$out/bench-tachyon.json" "$doc"
