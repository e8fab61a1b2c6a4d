#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# gilstat -a --prometheus against its targets (docs/prometheus.md):
#   idle: no CPython or libgil program of ours: zero uprobe and USDT hits, and the exporter's own
#         CPU (utime + stime from /proc/PID/stat) over IDLE_SEC seconds, scraped every 15 s;
#   busy: NR_EXECS (1000) runs of a program that is not Python and ends before gilstat can tell
#         (perl -e 1): the exporter's CPU per exec, spent looking at each one;
#   100 traced CPythons (sleeping): the time a scrape takes, and gilstat's RSS;
#   NR_SHORT (1000) short-lived CPythons started and ended, after 200 others: links, map entries
#         and memory before and after, each time once the grace period is over.
# Other people's CPythons on a shared host are traced too: the lines say how many there were.
set -u
OUTPUT=${OUTPUT:-build}
GILSTAT=${GILSTAT:-$OUTPUT/gilstat}
IDLE_SEC=${IDLE_SEC:-60}
NR_PROCS=${NR_PROCS:-100}
NR_SHORT=${NR_SHORT:-1000}
NR_EXECS=${NR_EXECS:-1000}
GRACE=5
PORT=${PORT:-19499}
tmp=$(mktemp -d)
. scripts/lib.sh
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; sysctl -qw kernel.bpf_stats_enabled=$stats_was; rm -rf "$tmp"' EXIT

py=""
for v in /root/.pyenv/versions/3.12.* /usr/bin/python3.11; do
	[ -x "$v/bin/python3" ] && py=$v/bin/python3 && break
	[ -x "$v" ] && [ -f "$v" ] && py=$v && break
done
ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
metrics() { curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics"; }
targets() { metrics | awk '/^gilstat_targets / {print $2}'; }

# run_counts: "NAME RUNS" of each program gilstat holds. Read with bpftool alone: a Python
# helper here would be a CPython, traced while it reads.
run_counts() {
	local id
	for id in $(grep -h '^prog_id:' /proc/$gs/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u); do
		bpftool prog show id "$id" 2>/dev/null |
			awk '/ name / {for (i = 1; i < NF; i++) { if ($i == "name") n = $(i + 1); if ($i == "run_cnt") c = $(i + 1) } } END {print n, c + 0}'
	done
}

sysctl -qw kernel.bpf_stats_enabled=1
$GILSTAT -a --prometheus "127.0.0.1:$PORT" --grace $GRACE 2>"$tmp/gs.err" >/dev/null &
gs=$!
for i in $(seq 100); do [ -n "$(targets)" ] && break; sleep 0.1; done
sleep 2
run_counts >"$tmp/runs0"
c0=$(cpu_ticks $gs)
t0=$(date +%s.%N)
for ((s = 0; s < IDLE_SEC; s += 15)); do
	metrics >/dev/null
	sleep $((IDLE_SEC - s < 15 ? IDLE_SEC - s : 15))
done
c1=$(cpu_ticks $gs)
t1=$(date +%s.%N)
run_counts >"$tmp/runs1"
python3 - "$tmp/runs0" "$tmp/runs1" "$c0" "$c1" "$t0" "$t1" "$ticks" <<'PY'
import sys
def runs(path):
    return {n: int(c) for n, c in (line.split() for line in open(path))}
r0, r1 = runs(sys.argv[1]), runs(sys.argv[2])
c0, c1, t0, t1, ticks = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
d = {n: r1[n] - r0.get(n, 0) for n in r1}
probes = sum(v for k, v in d.items() if k.startswith(("gil_acquire", "gil_release", "gil_wait", "py_")))
sched = {k: v for k, v in d.items() if "sched" in k or k == "gil_exec"}
pct = 100.0 * (c1 - c0) / ticks / (t1 - t0)
print("idle, %.0f s: %d uprobe/USDT hits (the host's own CPythons, traced while they live); "
      "scheduler/exec program runs %s (each returns at once: no waiter)" % (t1 - t0, probes, sched))
print("idle: exporter CPU %.3f%% of one core at a 15 s scrape interval (target <= 0.1%%)" % pct)
PY

c0=$(cpu_ticks $gs)
for i in $(seq $NR_EXECS); do perl -e 1; done
sleep 1
c1=$(cpu_ticks $gs)
echo "busy: $NR_EXECS runs of perl -e 1: exporter CPU $(((c1 - c0) * 1000000 / ticks / NR_EXECS)) us per exec"

if [ -z "$py" ]; then
	echo "no CPython to start: the 100-process figures are skipped"
	exit 0
fi
pids=()
for i in $(seq $NR_PROCS); do
	"$py" -S -c 'import time; time.sleep(120)' &
	pids+=($!)
done
for i in $(seq 300); do [ "$(targets)" -ge "$NR_PROCS" ] 2>/dev/null && break; sleep 0.1; done
sleep 1
for i in $(seq 20); do
	curl -s -o /dev/null -w '%{time_total}\n' --max-time 5 "http://127.0.0.1:$PORT/metrics"
done | sort -n >"$tmp/scrape.times"
rss=$(awk '/^VmRSS/ {print $2}' /proc/$gs/status)
size=$(metrics | wc -c)
python3 - "$tmp/scrape.times" "$(targets)" "$rss" "$size" <<'PY'
import sys
t = [float(x) for x in open(sys.argv[1])]
print("%s traced processes: a scrape (%d bytes) takes %.2f ms median, %.2f ms max of %d "
      "(target <= 5 ms); RSS %.1f MB (target <= 20 MB)"
      % (sys.argv[2], int(sys.argv[4]), 1000 * t[len(t) // 2], 1000 * t[-1], len(t),
         int(sys.argv[3]) / 1024))
PY
kill "${pids[@]}" 2>/dev/null
wait "${pids[@]}" 2>/dev/null

# state: descriptors, the maps with per-process entries, anonymous RSS (kB), traced processes
# (the scrape first: one after the fleet has shrunk gives the memory of larger ones back)
state() {
	local t=$(targets)

	echo "$(ls /proc/$gs/fd | wc -l) $(bpf_map_entries $gs py_conds) $(bpf_map_entries $gs key_stats)" \
		"$(bpf_map_entries $gs py_threads) $(anon_rss_kb $gs) $t"
}
# the first ones grow the allocator's arenas and gilstat's tables to the size of such a burst
for i in $(seq 200); do "$py" -S -c pass; done
sleep $((GRACE + 2))
before=$(state)
start=$SECONDS
for i in $(seq $NR_SHORT); do "$py" -S -c pass; done
took=$((SECONDS - start))
sleep $((GRACE + 2))
after=$(state)
python3 - "$NR_SHORT" "$took" $before $after <<'PY'
import sys
n, took = int(sys.argv[1]), int(sys.argv[2])
names = ["descriptors", "py_conds entries", "key_stats entries", "py_threads entries",
         "anonymous RSS (kB)", "traced processes"]
b, a = sys.argv[3:9], sys.argv[9:15]
print("%d short-lived CPythons in %d s, then the grace period: %s (target: no growth)"
      % (n, took, ", ".join("%s %s -> %s" % x for x in zip(names, b, a))))
PY
kill -TERM $gs
wait $gs
