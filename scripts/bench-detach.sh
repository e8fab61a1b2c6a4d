#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What gilstat's attaching and detaching add to the wall time of what it traces:
#   command: a short command alone and under `gilstat -- CMD`, in turns, RUNS times each; the
#            medians and what gilstat adds (its start, the command's own time, its detaching);
#   stop:    gilstat -a tracing NR_PY sleeping CPythons and a libgil program, then SIGTERM: the
#            time from the signal to gilstat's exit, which is its links' detaching. With --busy,
#            beside `stress-ng --cpu NPROC`.
# Wall times, on whatever else this machine runs: read them beside each other, in one run.
# Usage: scripts/bench-detach.sh [--runs N] [--busy]
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
GILSTAT=${GILSTAT:-$OUTPUT/gilstat}
NR_PY=${NR_PY:-5}
runs=7
busy=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--busy) busy=1; shift ;;
	*) echo "bench-detach.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
case $runs in '' | *[!0-9]* | 0) echo "bench-detach.sh: --runs wants a count" >&2; exit 2 ;; esac
[ -x "$GILSTAT" ] || { echo "bench-detach.sh: $GILSTAT not built (make)" >&2; exit 1; }
py=/usr/bin/python3.11
[ -x $py ] || py=$(command -v python3)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
if [ -n "$busy" ]; then
	stress-ng --cpu "$(nproc)" --timeout 3600 >/dev/null 2>&1 &
	sleep 1
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wall_ms CMD...: CMD's wall time in ms, its output discarded
wall_ms() {
	local t0
	t0=$(now_ms)
	"$@" >/dev/null 2>&1
	echo $(($(now_ms) - t0))
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-44s %9s %9s %9s\n' "command ($runs runs each, in turns; medians)" "alone ms" "traced ms" "added ms"
command_row() {
	local name=$1 i
	shift
	: >"$tmp/alone"
	: >"$tmp/traced"
	for i in $(seq "$runs"); do
		wall_ms "${@:2}" >>"$tmp/alone"
		wall_ms "$GILSTAT" $1 -- "${@:2}" >>"$tmp/traced"
	done
	local a t
	a=$(median <"$tmp/alone")
	t=$(median <"$tmp/traced")
	printf '%-44s %9s %9s %9s\n' "$name" "$a" "$t" "$((t - a))"
}
command_row "gilwork cpu --seconds 0.01 (libgil)" "" $OUTPUT/gilwork cpu --seconds 0.01
command_row "--python $py -c pass" "--python" $py -c pass

# stop_ms: gilstat -a over NR_PY CPythons and a gilwork, SIGTERM once all are traced
stop_ms() {
	local g pids=() t0 i
	for i in $(seq "$NR_PY"); do
		$py -c 'import threading, time
threading.Thread(target=time.sleep, args=(60,)).start()
time.sleep(60)' &
		pids+=($!)
	done
	$OUTPUT/gilwork convoy --seconds 60 >/dev/null 2>&1 &
	pids+=($!)
	"$GILSTAT" -a -v >/dev/null 2>"$tmp/a.err" &
	g=$!
	for i in $(seq 200); do
		[ "$(grep -c ' traced: ' "$tmp/a.err")" -ge "$NR_PY" ] &&
			grep -q "libgil's probes in .* attached" "$tmp/a.err" && break
		sleep 0.05
	done
	t0=$(now_ms)
	kill -TERM $g
	wait $g 2>/dev/null
	echo $(($(now_ms) - t0))
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
}
: >"$tmp/stop"
for i in $(seq "$runs"); do
	stop_ms >>"$tmp/stop"
done
printf '%-44s %9s   (each: %s)\n' "gilstat -a, $NR_PY CPythons + gilwork: SIGTERM->exit" \
	"$(median <"$tmp/stop")" "$(tr '\n' ' ' <"$tmp/stop")"
[ -z "$busy" ] || echo "(beside stress-ng --cpu $(nproc))"
