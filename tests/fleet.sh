#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: alone
# gilstat -a's report: libgil's ground truth and a CPython's exact count in the sections of
# processes that ended before it. gilstat -a --prometheus, scraped by Debian's real Prometheus
# (1 s interval): a libgil program and
# CPythons started after gilstat are found and attached; each one's series equals its ground truth
# (GIL_STATS=1 for libgil; for CPython, N os.read calls make exactly N - 1 more acquisitions than
# one); 200 short-lived libgil programs after the first of their file, each counted exactly from
# its first cycle; a killed process's series end after the grace period; 100 short-lived CPythons
# leave no links, map entries or memory behind. Everything listens on 127.0.0.1, every wait is bounded.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../scripts/lib.sh"
export GIL_STATS=1
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
GRACE=4

if [ "$(id -u)" -ne 0 ]; then
	skip "gilstat -a" "needs root to load BPF programs"
	done_testing
fi
need_tools "gilstat -a" prometheus curl bpftool
py=""
for v in /root/.pyenv/versions/3.12.*; do
	[ -x "$v/bin/python3" ] && py=$v/bin/python3 && break
done
if [ -z "$py" ]; then
	skip_pyenv "gilstat -a" "no pyenv CPython 3.12 under /root/.pyenv/versions"
	done_testing
fi

# acq PID: the acquisitions the exporter serves for PID, empty when it has no series.
acq() {
	curl -s --max-time 5 "http://127.0.0.1:$port/metrics" |
		grep -E "^gilstat_gil_acquisitions_total\{pid=\"$1\"," | cut -d' ' -f2
}
has_series() { [ -n "$(acq "$1")" ]; }
no_series() { [ -z "$(acq "$1")" ]; }
query() { prom_query "$prom_port" "$1"; }
synced() { [ "$(query "gilstat_gil_acquisitions_total{pid=\"$1\"}")" = "$2" ]; }
# links_of_pids PID PIDS...: the uprobe_multi links PID holds on any of PIDS.
links_of_pids() {
	local gs=$1
	shift
	cat /proc/$gs/fdinfo/* 2>/dev/null | awk -v pids=" $* " '
		/^link_type:/ { multi = ($2 ~ /uprobe_multi/) }
		/^pid:/ && multi && index(pids, " " $2 " ") { n++ }
		END { print n + 0 }'
}
# other_fds PID: PID's descriptors other than those each traced process adds (links, perf events,
# the pidfd that tells of its end).
other_fds() {
	find /proc/$1/fd -mindepth 1 -printf '%l\n' 2>/dev/null |
		grep -cvE '^anon_inode:(bpf[-_]link|\[perf_event\]|\[pidfd\])$'
}
# entries_of_pids PID MAP PIDS...: MAP's entries whose key's tgid is one of PIDS.
entries_of_pids() {
	local gs=$1 map=$2 id
	shift 2
	for id in $(grep -h '^map_id:' /proc/$gs/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u); do
		bpftool map show id "$id" 2>/dev/null | grep -q " name $map " || continue
		bpftool -j map dump id "$id" 2>/dev/null | python3 -c '
import json, sys
pids = set(int(p) for p in sys.argv[1:])
print(sum(1 for e in json.load(sys.stdin)
          if e.get("formatted", {}).get("key", {}).get("tgid") in pids))' "$@"
		return
	done
	echo 0
}
# heap_inuse: gilstat_heap_inuse_bytes, the smallest of three reads (a scrape of Prometheus's may
# be in flight).
heap_inuse() {
	for _ in 1 2 3; do
		curl -s --max-time 5 "http://127.0.0.1:$port/metrics" |
			awk '/^gilstat_heap_inuse_bytes / {print $2}'
	done | sort -n | head -1
}
# with_series: the processes with series, traced or in their grace period
with_series() {
	curl -s --max-time 5 "http://127.0.0.1:$port/metrics" |
		grep -o '^gilstat_gil_acquisitions_total{pid="[0-9]*"' | sort -u | wc -l
}
targets() {
	curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | awk '/^gilstat_targets / {print $2}'
}

# Deployment: the systemd unit and the DaemonSet manifest parse.
sed "s|/usr/local/bin/gilstat|$(realpath "$GILSTAT")|" examples/gilstat.service >"$tmp/gilstat.service"
if command -v systemd-analyze >/dev/null; then
	check "examples/gilstat.service: systemd-analyze verify is clean" \
		[ -z "$(systemd-analyze verify "$tmp/gilstat.service" 2>&1)" ]
else
	skip "examples/gilstat.service" "systemd-analyze is not installed"
fi
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
	check "examples/kubernetes/gilstat-daemonset.yaml: a DaemonSet with hostPID" \
		/usr/bin/python3 -c 'import yaml, sys
d = yaml.safe_load(open(sys.argv[1]))
assert d["kind"] == "DaemonSet" and d["spec"]["template"]["spec"]["hostPID"]' \
		examples/kubernetes/gilstat-daemonset.yaml
else
	skip "examples/kubernetes/gilstat-daemonset.yaml" "python3-yaml is not installed"
fi

port=$(free_port)
prom_port=$(free_port)
$GILSTAT -a -L >/dev/null 2>"$tmp/threads.err"
check "-a -L: exit 2 with one line (-a reports by process and GIL)" \
	[ $? -eq 2 -a "$(wc -l <"$tmp/threads.err")" -eq 1 ]

# -a without an exporter: a report on Ctrl-C, a section for each GIL of each process, those that
# ended included. Ground truth: libgil's own counts of a gilwork started after gilstat (the second
# of its file: the first one's probes serve every later one), and two CPythons started before it,
# waiting on a fifo until gilstat has found them: 1001 os.read calls make exactly 1000 more
# acquisitions than 1 does.
# reader FIFO N: a CPython in the background that waits until FIFO is opened, then reads N times.
reader() {
	mkfifo "$1"
	"$py" -c 'import os, sys
os.close(os.open(sys.argv[1], os.O_RDONLY))
fd = os.open("/dev/zero", os.O_RDONLY)
for _ in range(int(sys.argv[2])):
    os.read(fd, 1)' "$1" "$2" &
}
reader "$tmp/rgate.1" 1
r1=$!
reader "$tmp/rgate.1001" 1001
rn=$!
traced() { grep -q "PID $1 (.*) traced" "$tmp/all.err"; }
# A CPython started after gilstat forks two children, as a server forks its workers: found from
# the fork, each gated until gilstat has found it.
mkfifo "$tmp/parent" "$tmp/child.1" "$tmp/child.1001"
forker() {
	exec "$py" -c 'import os, sys
os.close(os.open(sys.argv[1], os.O_RDONLY))
kids = []
for n in (1, 1001):
    pid = os.fork()
    if pid == 0:
        os.close(os.open(sys.argv[2] + "." + str(n), os.O_RDONLY))
        fd = os.open("/dev/zero", os.O_RDONLY)
        for _ in range(n):
            os.read(fd, 1)
        os._exit(0)
    kids.append(pid)
print(*kids, flush=True)
for pid in kids:
    os.waitpid(pid, 0)' "$tmp/parent" "$tmp/child" >"$tmp/kids"
}
have_kids() { [ -s "$tmp/kids" ]; }
# churn: NR_CHURN short-lived libgil programs, four at a time, each cycling its GIL from its first
# instruction to its exit; libgil's counts of each, one JSON line a process, in $tmp/churn.truth.
NR_CHURN=200
churn() {
	local i j pids
	for ((i = 0; i < NR_CHURN; i += 4)); do
		pids=()
		for j in 1 2 3 4; do
			$GILWORK cpu --seconds 0.01 --interval-us 10 --json >"$tmp/churn.$j" &
			pids+=($!)
		done
		wait "${pids[@]}"
		for j in 1 2 3 4; do
			tr -d '\n' <"$tmp/churn.$j" >>"$tmp/churn.truth"
			echo >>"$tmp/churn.truth"
		done
	done
}
$GILSTAT -a -j -v >"$tmp/all.json" 2>"$tmp/all.err" &
all=$!
if wait_attached "$tmp/all.err" && wait_for 5 traced $r1 && wait_for 5 traced $rn; then
	: >"$tmp/rgate.1"
	: >"$tmp/rgate.1001"
	$GILWORK convoy --seconds 0.2 >/dev/null
	$GILWORK convoy --seconds 1 --json >"$tmp/all.truth" &
	gw=$!
	wait $gw
	churn
	forker &
	fk=$!
	if wait_for 5 traced $fk; then
		: >"$tmp/parent"
		wait_for 5 have_kids
		read -r kid1 kidn <"$tmp/kids"
		if wait_for 5 traced ${kid1:-0} && wait_for 5 traced ${kidn:-0}; then
			: >"$tmp/child.1"
			: >"$tmp/child.1001"
		fi
	fi
	wait $fk
fi
wait $r1 $rn
kill -INT $all
wait $all
check "-a -j, Ctrl-C: exits 0 with one final report" \
	[ $? -eq 0 -a "$(wc -l <"$tmp/all.json")" -eq 1 ]
# acq_of PID: the acquisitions of PID's sections in the report
acq_of() {
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(sum(g["acquisitions"] for g in r["groups"] if g["pid"] == int(sys.argv[2])))' "$tmp/all.json" "$1"
}
truth=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gil_stats"]["acquisitions"])' \
	"$tmp/all.truth" 2>/dev/null)
got=$(acq_of ${gw:-0} 2>/dev/null)
check "-a report: gilwork's sections equal libgil's ground truth ($got = $truth)" \
	[ -n "$truth" -a "$got" = "$truth" ]
# Every process of a libgil file gilstat has attached to is counted from its first cycle: the
# file's probes serve every process, gated in the kernel by nothing but the file.
read -r nr_churn churn_truth churn_got churn_missed <<<"$(python3 -c 'import json, sys
truth = {}
for line in open(sys.argv[2]):
    if line.strip():
        d = json.loads(line)
        truth[d["pid"]] = d["gil_stats"]["acquisitions"]
got = dict.fromkeys(truth, 0)
for g in json.load(open(sys.argv[1]))["groups"]:
    if g["pid"] in got:
        got[g["pid"]] += g["acquisitions"]
print(len(truth), sum(truth.values()), sum(got.values()),
      sum(1 for p in truth if got[p] != truth[p]))' "$tmp/all.json" "$tmp/churn.truth" 2>/dev/null)"
echo "# churn: $nr_churn processes, $churn_truth acquisitions, $churn_got counted," \
	"${churn_missed:-?} processes with a miss"
check "-a report: $NR_CHURN short-lived libgil programs, each counted from its first cycle ($churn_got = $churn_truth)" \
	[ "${nr_churn:-0}" = $NR_CHURN -a "${churn_missed:-1}" = 0 -a -n "$churn_truth" -a "$churn_got" = "$churn_truth" ]
a1=$(acq_of $r1 2>/dev/null) an=$(acq_of $rn 2>/dev/null)
check "-a report: CPython's 1001 reads make exactly 1000 more acquisitions than 1 ($an - $a1)" \
	[ -n "$a1" -a -n "$an" -a "$((an - a1))" = 1000 ]
a1=$(acq_of ${kid1:-0} 2>/dev/null) an=$(acq_of ${kidn:-0} 2>/dev/null)
check "-a report: forked children found; 1001 reads make exactly 1000 more acquisitions than 1 ($an - $a1)" \
	[ -n "$a1" -a -n "$an" -a "$((an - a1))" = 1000 ]
check "-a report: each process is named, also once it has ended" \
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
names = {g["pid"]: g["comm"] for g in r["groups"]}
assert names[int(sys.argv[2])] == "gilwork" and names[int(sys.argv[3])] == "python3", names' \
	"$tmp/all.json" ${gw:-0} $rn
check "-a report: no utilisation summed over processes, one for each GIL" \
	python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
assert "utilisation_pct" not in r and r["utilisation_unavailable"]
assert all("utilisation_pct" in g for g in r["groups"])' "$tmp/all.json"
check_schema "$tmp/all.json"
$GILSTAT -a --heatmap "$tmp/all.svg" 0.3 2 >"$tmp/all.txt" 2>/dev/null
check "-a 0.3 2 --heatmap: two interval reports, and an SVG of two columns" \
	python3 -c 'import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
assert text.count("every CPython and libgil process (") == 2, text
svg = ET.parse(sys.argv[2]).getroot()
assert svg.get("data-intervals") == "2", svg.attrib' "$tmp/all.txt" "$tmp/all.svg"

cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fleet
    static_configs: [{targets: ["127.0.0.1:$port"]}]
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
if ! wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready" -o /dev/null; then
	not_ok "prometheus starts on 127.0.0.1:$prom_port"
	done_testing
fi

$GILSTAT -a --prometheus "127.0.0.1:$port" --grace $GRACE -d 300 >/dev/null 2>"$tmp/gs.err" &
gs=$!
served() { [ -n "$(targets)" ]; }
check "gilstat -a serves /metrics" wait_for 20 served

# libgil: the first process of a file has its probes attached for every later one, which is then
# counted from its exec on.
$GILWORK convoy --seconds 1 >/dev/null &
first=$!
check "libgil: a program started after gilstat is found (PID $first)" wait_for 5 has_series $first
wait $first
$GILWORK convoy --seconds 1 --json >"$tmp/gw.truth" &
gw=$!
wait $gw
truth=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gil_stats"]["acquisitions"])' \
	"$tmp/gw.truth")
got=$(acq $gw)
check "libgil: the per-pid series equals libgil's ground truth ($got = $truth)" \
	[ -n "$truth" -a "$got" = "$truth" ]
check "libgil: Prometheus holds the same ($truth)" wait_for 10 synced $gw "$truth"

# CPython: gated on a fifo, so that the counting starts once gilstat has found it; N os.read
# calls after the gate make exactly N - 1 more acquisitions than one.
gated() {
	local fifo=$tmp/gate.$1 pid a b
	reader "$fifo" "$1"
	pid=$!
	wait_for 5 has_series $pid || { echo "none"; return; }
	sleep 0.5
	a=$(acq $pid)
	: >"$fifo"
	wait $pid
	b=$(acq $pid)
	echo "$pid $((b - a))"
}
read -r p1 d1 < <(gated 1)
read -r pn dn < <(gated 1001)
check "CPython: started after gilstat, found and counted (PIDs $p1 $pn: $d1, $dn after the gate)" \
	[ -n "$d1" -a -n "$dn" -a "${d1:-0}" -gt 0 ]
check "CPython: 1001 reads make exactly 1000 more acquisitions than 1 ($dn - $d1)" \
	[ "$((dn - d1))" = 1000 ]
check "CPython: Prometheus holds the per-pid series" \
	wait_for 10 synced $pn "$(acq $pn)"

# A killed process: its series stay for the grace period, then end.
"$py" -c 'import time; time.sleep(60)' &
victim=$!
wait_for 5 has_series $victim
n=$(links_of_pids $gs $victim)
check "live CPython: gilstat holds links on it, as its descriptors' fdinfo tells ($n)" [ "$n" -gt 0 ]
kill -9 $victim
wait $victim 2>/dev/null
check "killed CPython: its series stays within the grace period" has_series $victim
check "killed CPython: its series ends after the grace period ($GRACE s)" \
	wait_for $((GRACE + 5)) no_series $victim

# 100 short-lived CPythons, after 100 others: links, map entries and memory come back to where
# they were (the first ones grow the allocator's arenas and gilstat's tables to their size).
# Counts, not RSS, so that neither a busy machine nor other processes on the host move them: the
# links and BPF entries of these very processes, and gilstat's heap in use, which the allocator's
# cache and fragmentation do not move (RSS does: a load that keeps more processes alive at once
# leaves more of the heap cached).
for i in $(seq 100); do "$py" -c pass; done
sleep $((GRACE + 3))
t0=$(targets) f0=$(other_fds $gs) r0=$(anon_rss_kb $gs) h0=$(heap_inuse)
churned=()
for i in $(seq 100); do
	"$py" -c pass &
	churned+=($!)
	wait $!
done
sleep $((GRACE + 3))
t1=$(targets) f1=$(other_fds $gs) r1=$(anon_rss_kb $gs) h1=$(heap_inuse)
ls -l /proc/$gs/fd | awk '{print $NF}' | sort | uniq -c | sort -rn | head -5 | sed 's/^/# /'
echo "# targets $t0 -> $t1, descriptors but links $f0 -> $f1, heap in use $h0 -> $h1 B," \
	"anonymous RSS $r0 -> $r1 kB (not checked: the allocator's cache moves it)"
n=$(links_of_pids $gs "${churned[@]}")
check "100 short-lived CPythons: none of their links left ($n)" [ "$n" = 0 ]
check "100 short-lived CPythons: no growth in descriptors other than links ($f0 -> $f1)" \
	[ "$f1" -le "$f0" ]
for map in py_conds key_stats; do
	n=$(entries_of_pids $gs $map "${churned[@]}")
	check "100 short-lived CPythons: none of them has a $map entry left ($n)" [ "$n" = 0 ]
done
# 64 kB, so that a leak of 640 bytes a process fails: between two states of the same size the
# heap in use moved by 6 to 52 kB in this test (a scrape's buffers, the allocator's free lists;
# 600 processes in batches of 100 grew it by 2 to 3 kB a batch). 64 kB more for each other
# CPython of the host traced now and not before.
dt=$((t1 - t0))
check "100 short-lived CPythons: gilstat's heap in use back to before ($h0 -> $h1 B)" \
	[ "$((${h1:-1 << 40} - ${h0:-0}))" -le "$((65536 + 65536 * (dt > 0 ? dt : 0)))" ]

# The stop signals reach the thread that sleeps in ppoll(): every other thread (the exporter's,
# the reapers of the ended processes' links) blocks them, else one of those could take a signal
# and the loop would sleep on.
others_block_stops() {
	local t mask n=0
	for t in /proc/$1/task/*; do
		[ "${t##*/}" = "$1" ] && continue
		mask=$(awk '/^SigBlk:/ { print $2 }' "$t/status")
		(((16#$mask & 0x4002) == 0x4002)) || return 1 # SIGINT, SIGTERM
		n=$((n + 1))
	done
	echo "# $n threads besides the main one, all blocking SIGINT and SIGTERM"
	[ $n -ge 2 ]
}
check "every thread but the one that waits for signals blocks SIGINT and SIGTERM" \
	others_block_stops $gs
kill -TERM $gs
check "SIGTERM: gilstat -a exits 0" wait $gs
done_testing
