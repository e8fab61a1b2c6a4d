#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: what tracing the GIL costs and how right its numbers are, beside bpftrace. Writes
# $OUTPUT/bench.json and the generated part of docs/benchmarks.md, each figure with the command
# that produced it. These machines are noisy, so every comparison runs its two sides alternately
# in one run, several times, and reports medians; absolute times do not compare across runs.
#
# Usage: scripts/bench.sh   (as root; OUTPUT as for make; BENCH_REPS pairs per comparison, 5;
#                            BENCH_PYTHON, BENCH_PYTHON312: the CPythons fidelity.sh compares with)
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
. scripts/lib.sh
. tests/lib.sh
reps=${BENCH_REPS:-5}
out=$OUTPUT
doc=docs/benchmarks.md

[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root (BPF)" >&2; exit 1; }
for f in gilstat gilwork cyclebench cyclebench-noprobes bench/usdtrun bench/uprobe_floor; do
	[ -x "$out/$f" ] || { echo "bench.sh: $out/$f not built (make bench)" >&2; exit 1; }
done
if ! command -v bpftrace >/dev/null; then
	echo "bench.sh: no bpftrace (scripts/deps.sh --bench)" >&2
	exit 1
fi

tmp=$(mktemp -d)
bg_pids=()
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	sysctl -q -w kernel.bpf_stats_enabled="$stats_was" || true
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step_us=${EPOCHREALTIME/./}
# Says what runs next, and how long the previous step took.
step() {
	local now_us=${EPOCHREALTIME/./}

	printf '  BENCH   %-60s (previous step: %d s)\n' "$*" $(((now_us - step_us) / 1000000)) >&2
	# The comparisons alternate their two sides anyway: a quiet start only spares them the
	# worst bursts, so bench waits less than fidelity.sh, to end in minutes.
	wait_quiet "${QUIET_WAIT_SEC:-10}"
	step_us=$now_us
}

# The command behind a figure, as the table shows it.
note_cmd() {
	local key=$1

	shift
	printf '%s\n' "$*" >"$tmp/cmd.$key"
}

# A gilwork that runs long enough for tracers to attach to it with -p.
start_target() {
	"$out/gilwork" convoy --seconds 120 >/dev/null &
	target=$!
	bg_pids+=("$target")
	sleep 0.5
}

stop_target() {
	kill "$target" 2>/dev/null || true
	wait "$target" 2>/dev/null || true
}

# Starts "$@" (a tracer given -p) in the background; returns once it printed that it is ready.
start_tracer() {
	rm -f "$tmp/tracer.err"
	"$@" >/dev/null 2>"$tmp/tracer.err" &
	tracer=$!
	wait_attached "$tmp/tracer.err" && return 0
	echo "bench.sh: $1 did not start:" >&2
	cat "$tmp/tracer.err" >&2
	exit 1
}

# 1. The uncontended cycle, probes detached vs compiled out, in bench-cycle.sh's ABBA runs.
step "cycle: probes detached vs compiled out"
note_cmd cycle "OUTPUT=$out scripts/bench-cycle.sh"
OUTPUT=$out scripts/bench-cycle.sh | tail -1 >"$tmp/cycle.json"

# 2. The same cycle traced, alternating with the untraced run: by gilstat, and, to tell the
# uprobes' part from gilstat's, by an empty BPF program and by one that only fetches the probes'
# arguments, on the same three probes.
cyc_args="20000 5"
probes=gil:acquire,gil:release,gil:wait__start
step "cycle: untraced, empty BPF, argument fetch only, gilstat; $reps rounds"
note_cmd traced "$out/gilstat -j -o REPORT -- $out/cyclebench $cyc_args" \
	" vs  $out/cyclebench $cyc_args"
note_cmd empty "$out/bench/usdtrun $probes -- $out/cyclebench $cyc_args"
note_cmd args "$out/bench/usdtrun -a $probes -- $out/cyclebench $cyc_args"
for i in $(seq "$reps"); do
	# shellcheck disable=SC2086
	"$out/cyclebench" $cyc_args >"$tmp/traced.$i.untraced"
	# shellcheck disable=SC2086
	"$out/bench/usdtrun" "$probes" -- "$out/cyclebench" $cyc_args >"$tmp/traced.$i.empty"
	# shellcheck disable=SC2086
	"$out/bench/usdtrun" -a "$probes" -- "$out/cyclebench" $cyc_args >"$tmp/traced.$i.args"
	# shellcheck disable=SC2086
	"$out/gilstat" -j -o "$tmp/traced.$i.report" -- "$out/cyclebench" $cyc_args \
		>"$tmp/traced.$i.traced" 2>/dev/null
done

# 3. Probe hits per cycle, counted by a BPF program on every gil:* probe. Two runs that differ by
# five repetitions of the loop only: the difference holds exactly 5 x 20000 cycles.
step "cycle: probe hits per cycle"
note_cmd hits "$out/bench/usdtrun -c $probes -- $out/cyclebench 20000 {1,6}"
"$out/bench/usdtrun" -c "$probes" -- "$out/cyclebench" 20000 1 >"$tmp/hits.1"
"$out/bench/usdtrun" -c "$probes" -- "$out/cyclebench" 20000 6 >"$tmp/hits.6"

# 4. The floor: one USDT site in a loop, an empty BPF program on it, minus the same loop bare.
n5=200000 n1=50000
step "uprobe floor: nop5 and nop1 sites, $reps rounds"
note_cmd floor "$out/bench/usdtrun floor:nopN -- $out/bench/uprobe_floor nopN ITER" \
	" vs  $out/bench/uprobe_floor nopN ITER"
for i in $(seq "$reps"); do
	"$out/bench/uprobe_floor" nop5 $n5 >"$tmp/floor.$i.bare5"
	"$out/bench/usdtrun" floor:nop5 -- "$out/bench/uprobe_floor" nop5 $n5 >"$tmp/floor.$i.nop5"
	"$out/bench/uprobe_floor" nop1 $n1 >"$tmp/floor.$i.bare1"
	"$out/bench/usdtrun" floor:nop1 -- "$out/bench/uprobe_floor" nop1 $n1 >"$tmp/floor.$i.nop1"
done

# 5. Launch -> probes attached, and peak RSS: gilstat and bpftrace in turn on the same target,
# each tracing it for a moment, then stopped with SIGINT as a user would.
lib=$(realpath "$out/libgil.so")
sed "s|LIBGIL|$lib|" >"$tmp/gil.bt" <<'EOF'
BEGIN { printf("Tracing the GIL (bpftrace)\n"); }
usdt:LIBGIL:gil:wait__start { @waiting[tid] = arg1; }
usdt:LIBGIL:gil:acquire {
	@acquisitions = count();
	@switches = sum(arg3 & 1);
	@forced_switches = sum((arg3 >> 1) & 1);
	@drop_requests = sum(arg4);
	@wait_us[cpu] = hist((arg2 - arg1) / 1000);
	if ((arg3 & 5) == 5 && @release_tid != tid) {
		@handoff_us = hist((arg2 - @release_ns) / 1000);
	}
	delete(@waiting[tid]);
}
usdt:LIBGIL:gil:release {
	@releases = count();
	@hold_us[cpu] = hist((arg2 - arg1) / 1000);
	@release_ns = arg2;
	@release_tid = tid;
}
EOF
step "startup and peak RSS: gilstat vs bpftrace, $reps pairs"
note_cmd startup_gilstat "scripts/bench/launch.py 'Tracing the GIL' 0.5 -- $out/gilstat -p PID"
note_cmd startup_bpftrace "scripts/bench/launch.py 'Tracing the GIL' 0.5 -- bpftrace -p PID gil.bt"
start_target
for i in $(seq "$reps"); do
	scripts/bench/launch.py "Tracing the GIL" 0.5 -- "$out/gilstat" -p "$target" \
		>"$tmp/startup.$i.gilstat"
	scripts/bench/launch.py "Tracing the GIL" 0.5 -- bpftrace -p "$target" "$tmp/gil.bt" \
		>"$tmp/startup.$i.bpftrace"
done

# 6. Time in the BPF programs per run, from the kernel's own accounting: gilstat's on convoy
# (every program runs there) and on the uncontended cycle, the empty and the argument-fetching
# programs on the same cycle. Each is read while its loader still holds it.
step "BPF run time per event (kernel.bpf_stats_enabled=1)"
note_cmd bpf_ns "sysctl kernel.bpf_stats_enabled=1; $out/gilstat -p PID (gilwork convoy);" \
	"scripts/bench/bpfstats.py GILSTAT_PID"
note_cmd bpf_ns_cycle "sysctl kernel.bpf_stats_enabled=1; $out/gilstat -p PID ($out/cyclebench);" \
	"scripts/bench/bpfstats.py GILSTAT_PID"
note_cmd bpf_ns_floor "sysctl kernel.bpf_stats_enabled=1;" \
	"$out/bench/usdtrun -s [-a] $probes -- $out/cyclebench 600000 1"
sysctl -q -w kernel.bpf_stats_enabled=1
start_tracer "$out/gilstat" -p "$target"
sleep 2
scripts/bench/bpfstats.py "$tracer" >"$tmp/bpf_ns.json"
kill -INT "$tracer"
wait "$tracer" || true
stop_target
"$out/cyclebench" 1000000000 1 >/dev/null &
target=$!
bg_pids+=("$target")
start_tracer "$out/gilstat" -p "$target"
sleep 1.5
scripts/bench/bpfstats.py "$tracer" >"$tmp/bpf_ns_cycle.json"
kill -INT "$tracer"
wait "$tracer" || true
stop_target
for kind in empty args; do
	flag=
	[ $kind = args ] && flag=-a
	# usdtrun reads its program's stats itself once the command ended, while it still holds it:
	# nothing reads /proc of a process that may have exited.
	# shellcheck disable=SC2086
	"$out/bench/usdtrun" -s $flag "$probes" -- "$out/cyclebench" 600000 1 |
		tail -1 >"$tmp/bpf_ns_$kind.json"
done
sysctl -q -w kernel.bpf_stats_enabled="$stats_was"

# 7. The hardest rates gilwork makes, traced, against the runtime's ground truth; convoy's waits
# are also the accuracy figure.
loads=("convoy" "convoy --interval-us 1 --seconds 1" "interval --interval-us 10,1 --threads 2")
for i in "${!loads[@]}"; do
	step "events and ground truth: gilwork ${loads[$i]}"
	note_cmd "load.$i" "GIL_STATS=1 $out/gilstat -j -o REPORT -- $out/gilwork ${loads[$i]} --json"
	# shellcheck disable=SC2086
	GIL_STATS=1 "$out/gilstat" -j -o "$tmp/load.$i.report" -- "$out/gilwork" ${loads[$i]} \
		--json >"$tmp/load.$i.truth" 2>/dev/null
done

# 8. gilwork against the tutorial's targets and a real CPython, by the colleague script.
py=${BENCH_PYTHON:-python3}
py312=${BENCH_PYTHON312:-}
if [ -z "$py312" ]; then
	for c in "$py" python3.12 python3.13 "$(pyenv root 2>/dev/null)"/versions/3.1[23]*/bin/python3; do
		if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
			py312=$c
			break
		fi
	done
fi
fid_args=(--cpython "$py")
[ -n "$py312" ] && fid_args+=(--cpython312 "$py312")
step "fidelity: gilwork vs targets and CPython"
note_cmd fidelity "OUTPUT=$out scripts/fidelity.sh ${fid_args[*]}"
fid_rc=0
# fidelity.sh waits for a quiet machine before each run; bench waits less, to end in minutes.
QUIET_WAIT_SEC=${QUIET_WAIT_SEC:-10} OUTPUT=$out scripts/fidelity.sh "${fid_args[@]}" \
	>"$tmp/fidelity.txt" 2>"$tmp/fidelity.err" || fid_rc=$?
echo "$fid_rc" >"$tmp/fidelity.rc"

step "writing $out/bench.json and $doc"
python3 scripts/bench/report.py "$tmp" "$out/bench.json" "$doc"
