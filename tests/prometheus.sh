#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# gilstat as an exporter, scraped by Debian's real Prometheus (1 s interval) and node_exporter:
# after gilwork and a CPython workload have ended, Prometheus holds libgil's ground truth
# (GIL_STATS=1) and gilstat's own count, its histogram_quantile(0.99) falls in the log2 bucket of
# gilstat's own p99, promtool finds /metrics clean; the textfile reaches node_exporter; bad
# addresses, a port in use, scrapers that never read, 100 at once, and SIGTERM. Everything listens
# on 127.0.0.1, every wait is bounded, everything started here is stopped at the end.
set -u
. "$(dirname "$0")/lib.sh"
PROGS=$(dirname "$0")/python
CHECK="python3 tests/jsoncheck.py"
export GIL_STATS=1
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	skip "gilstat --prometheus" "needs root to load BPF programs"
	done_testing
fi
need_tools "gilstat --prometheus" prometheus promtool prometheus-node-exporter curl

# truth FILE: the acquisitions libgil counted, from gilwork's --json output.
truth() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gil_stats"]["acquisitions"])' \
		"$1" 2>/dev/null
}
# query PROMQL: the value of the first result of an instant query to our Prometheus.
query() { prom_query "$prom_port" "$1"; }
gone() { [ "$(metric "$1" gilstat_targets)" = 0 ]; }
# synced JOB PORT: Prometheus's latest acquisitions of JOB are those the exporter serves now.
synced() {
	local want
	want=$(metric "$2" 'gilstat_gil_acquisitions_total\{.*\}')
	[ -n "$want" ] && [ "$(query "gilstat_gil_acquisitions_total{job=\"$1\"}")" = "$want" ]
}

gw_port=$(free_port)
py_port=$(free_port)
prom_port=$(free_port)
node_port=$(free_port)

# --- bad input: one line, exit 2, before anything is loaded -------------------------------------
for spec in "127.0.0.1:0" "127.0.0.1:70000" "999.1.1.1:$gw_port" "no-such-host.invalid:$gw_port" \
	"127.0.0.1:" "port"; do
	$GILSTAT --prometheus "$spec" -- $GILWORK cpu --work 1000 >/dev/null 2>"$tmp/bad.err"
	rc=$?
	check "bad address '$spec': exit 2 with one line" \
		[ $rc -eq 2 -a "$(wc -l <"$tmp/bad.err")" -eq 1 ]
done
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' \
	"$gw_port" &
busy=$!
wait_for 5 python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])))' "$gw_port"
$GILSTAT --prometheus "127.0.0.1:$gw_port" -- $GILWORK cpu --work 1000 >/dev/null 2>"$tmp/busy.err"
rc=$?
check "port in use: exit 2 with one line ($(cat "$tmp/busy.err"))" \
	[ $rc -eq 2 -a "$(wc -l <"$tmp/busy.err")" -eq 1 -a "$(grep -c "in use" "$tmp/busy.err")" = 1 ]
kill $busy
wait $busy 2>/dev/null
$GILSTAT --textfile "$tmp/missing" -- $GILWORK cpu --work 1000 >/dev/null 2>"$tmp/tf.err"
check "--textfile into a missing directory: exit 2 with one line" \
	[ $? -eq 2 -a "$(wc -l <"$tmp/tf.err")" -eq 1 ]

# --- the exporters, scraped by Prometheus --------------------------------------------------------
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: gilwork
    static_configs: [{targets: ["127.0.0.1:$gw_port"]}]
  - job_name: cpython
    static_configs: [{targets: ["127.0.0.1:$py_port"]}]
EOF
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
prom=$!
if ! wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready" -o /dev/null; then
	not_ok "prometheus starts on 127.0.0.1:$prom_port"
	tail -5 "$tmp/prometheus.log" | sed 's/^/# /'
	done_testing
fi

# gilwork runs long enough (8 s) to be alive through the checks below on a loaded machine, where
# gilstat's own start takes seconds.
$GILSTAT --prometheus "127.0.0.1:$gw_port" --grace 600 -j -o "$tmp/gw.json" \
	-- $GILWORK convoy --seconds 8 --json >"$tmp/gw.truth" 2>"$tmp/gw.err" &
gw=$!
py=""
for v in /root/.pyenv/versions/3.12.* /root/.pyenv/versions/3.11.*; do
	[ -x "$v/bin/python3" ] && py=$v/bin/python3 && break
done
[ -z "$py" ] && [ -x /usr/bin/python3.11 ] && py=/usr/bin/python3.11
$GILSTAT --python --prometheus "$py_port" --grace 600 -j -o "$tmp/py.json" \
	-- "$py" $PROGS/cpu_work.py 3000000 >/dev/null 2>"$tmp/py.err" &
pyg=$!

# A function, so that each try scrapes again: "$(metric ...)" on wait_for's own line would be
# one scrape, taken before gilstat may be serving (seconds on a loaded machine).
serving() { [ "$(metric "$1" gilstat_targets)" = 1 ]; }
check "gilwork: the exporter serves while tracing (gilstat_targets 1)" wait_for 30 serving $gw_port
curl -s --max-time 5 "http://127.0.0.1:$gw_port/metrics" >"$tmp/metrics.txt"
promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1
check "promtool check metrics: clean on /metrics ($(head -c 200 "$tmp/promtool.out"))" \
	[ $? -eq 0 -a ! -s "$tmp/promtool.out" ]
curl -s --max-time 5 -D "$tmp/om.headers" -H 'Accept: application/openmetrics-text; version=1.0.0' \
	"http://127.0.0.1:$gw_port/metrics" >"$tmp/metrics.om"
om_type=$(grep -ci "^content-type: application/openmetrics-text; version=1.0.0" "$tmp/om.headers")
check "OpenMetrics: asked for, served, ending in # EOF" \
	[ "$om_type" = 1 -a "$(tail -1 "$tmp/metrics.om")" = "# EOF" ]
check "text format 0.0.4 by default" \
	grep -q "^# TYPE gilstat_gil_acquisitions_total counter" "$tmp/metrics.txt"
check "histograms: +Inf bucket, _sum and _count in seconds" \
	grep -q '^gilstat_gil_wait_seconds_bucket{pid="[0-9]*",comm="gilwork",[^}]*le="+Inf"} ' \
	"$tmp/metrics.txt"
cg=$(sed -n 's/^0:://p' /proc/self/cgroup)
check "a process's series name its executable and its cgroup (exe=\"gilwork\", cgroup=\"$cg\")" \
	grep -qF "comm=\"gilwork\",exe=\"gilwork\",cgroup=\"$cg\"" "$tmp/metrics.txt"
check "landing page at /" grep -q "/metrics" <(curl -s --max-time 5 "http://127.0.0.1:$gw_port/")
check "unknown path: 404" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$gw_port/nope")" = 404 ]

# Scrapers that connect and never read, or never send: tracing and other scrapes go on.
python3 - "$gw_port" <<-'EOF' &
	import socket, sys, time
	port = int(sys.argv[1])
	socks = []
	for i in range(20):
	    s = socket.create_connection(("127.0.0.1", port))
	    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
	    if i % 2:
	        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
	    socks.append(s)
	time.sleep(8)
EOF
stuck=$!
sleep 1
a1=$(metric $gw_port 'gilstat_gil_acquisitions_total\{pid="[0-9]*",comm="gilwork"[^}]*\}')
sleep 1
a2=$(metric $gw_port 'gilstat_gil_acquisitions_total\{pid="[0-9]*",comm="gilwork"[^}]*\}')
check "stuck scrapers: other scrapes answered and tracing goes on ($a1 -> $a2)" \
	[ "${a2:-0}" -gt "${a1:-0}" -a "${a1:-0}" -gt 0 ]
python3 - "$gw_port" >"$tmp/parallel.out" <<-'EOF'
	import sys, urllib.request
	from concurrent.futures import ThreadPoolExecutor
	url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
	def scrape(_):
	    with urllib.request.urlopen(url, timeout=10) as r:
	        body = r.read().decode()
	        return r.status == 200 and "gilstat_gil_wait_seconds_count" in body
	with ThreadPoolExecutor(100) as pool:
	    print(sum(pool.map(scrape, range(100))))
EOF
check "100 concurrent scrapes: all answered in full ($(cat "$tmp/parallel.out"))" \
	[ "$(cat "$tmp/parallel.out")" = 100 ]
kill $stuck 2>/dev/null
wait $stuck 2>/dev/null

# Both workloads end; their series stay (the grace period), and Prometheus scrapes them again.
check "gilwork ended: gilstat_targets 0, gilstat still serving" wait_for 30 gone $gw_port
check "CPython ended: gilstat_targets 0, gilstat still serving" wait_for 60 gone $py_port
check "Prometheus has scraped gilwork's final figures" wait_for 15 synced gilwork $gw_port
check "Prometheus has scraped CPython's final figures" wait_for 15 synced cpython $py_port

# Prometheus is asked while the exporters still serve: a target that goes away makes its series
# stale at the next scrape. gilstat's own report comes at SIGTERM.
got_gw=$(query 'gilstat_gil_acquisitions_total{job="gilwork"}')
got_py=$(query 'gilstat_gil_acquisitions_total{job="cpython"}')
version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
got_version=$(query "gilstat_gil_acquisitions_total{job=\"cpython\",python=\"$version\"}")
declare -A p99
for job in gilwork cpython; do
	for h in wait hold; do
		p99[$job.$h]=$(query "histogram_quantile(0.99, gilstat_gil_${h}_seconds_bucket{job=\"$job\"})")
	done
done

held=$(bpf_objects_of $gw)
kill -TERM $gw $pyg
wait $gw
check "SIGTERM: gilstat exits 0" [ $? -eq 0 ]
wait $pyg
# A link is detached when gilstat's last descriptor of it closes; the kernel frees the programs
# and maps a grace period later.
alive=$(bpf_objects_alive "$(grep '^link' <<<"$held")")
check "SIGTERM: it held links, none is left at its exit ($alive)" \
	[ "$(grep -c '^link' <<<"$held")" -ge 3 -a -z "$alive" ]
check "SIGTERM: nor any of its programs and maps a moment later" bpf_objects_gone "$held"

truth=$(truth "$tmp/gw.truth")
got=$got_gw
check "gilwork: Prometheus holds libgil's ground truth ($got = $truth)" \
	[ -n "$truth" -a "$got" = "$truth" ]
own=$($CHECK get "$tmp/gw.json" acquisitions)
check "gilwork: and gilstat's own final report ($own)" [ "$got" = "$own" ]
got=$got_py
own=$($CHECK get "$tmp/py.json" acquisitions 2>/dev/null)
check "CPython ($py): Prometheus holds gilstat's count ($got = $own)" \
	[ "${own:-0}" -gt 100 -a "$got" = "$own" ]
check "CPython: the python label says $version" [ -n "$got_version" ]

# histogram_quantile interpolates inside a bucket, as gilstat does inside a slot: both p99 lie in
# the same log2 slot, (2^i, 2^(i+1)] us as a bucket's le counts it (a rank that ends a slot puts
# both at its upper bound).
for job in gilwork cpython; do
	file=$tmp/gw.json
	[ $job = cpython ] && file=$tmp/py.json
	for h in wait hold; do
		q=${p99[$job.$h]}
		own=$($CHECK get "$file" ${h}_ns.p99)
		read -r slot_q slot_own <<<"$(python3 -c 'import math, sys
q, own = float(sys.argv[1]) * 1e6, float(sys.argv[2]) / 1e3
slot = lambda us: max(0, math.ceil(math.log2(us)) - 1) if us > 0 else -1
print(slot(q), slot(own))' \
			"${q:-0}" "${own:-0}")"
		check "$job: histogram_quantile(0.99) of $h ($q s) in gilstat's p99 slot ($own ns)" \
			[ -n "$q" -a "$slot_q" = "$slot_own" ]
	done
done
kill $prom
wait $prom 2>/dev/null

# --- the textfile, read by node_exporter ---------------------------------------------------------
mkdir "$tmp/textfile"
prometheus-node-exporter --collector.disable-defaults --collector.textfile \
	--collector.textfile.directory="$tmp/textfile" --web.listen-address="127.0.0.1:$node_port" \
	>"$tmp/node.log" 2>&1 &
node=$!
$GILSTAT --textfile "$tmp/textfile" 1 -d 3 -- $GILWORK convoy --seconds 1 --json \
	>"$tmp/tf.truth" 2>"$tmp/tf.err"
check "--textfile: gilstat exits 0 after -d" [ $? -eq 0 ]
check "--textfile: only gilstat.prom is left in the directory" \
	[ "$(ls -A "$tmp/textfile")" = gilstat.prom ]
truth=$(truth "$tmp/tf.truth")
wait_for 10 curl -sf "http://127.0.0.1:$node_port/metrics" -o /dev/null
got=$(metric $node_port 'gilstat_gil_acquisitions_total\{[^}]*comm="gilwork"[^}]*\}')
check "node_exporter serves the textfile: acquisitions = ground truth ($got = $truth)" \
	[ -n "$truth" -a "$got" = "$truth" ]
check "node_exporter read it without error" \
	[ "$(metric $node_port node_textfile_scrape_error)" = 0 ]
kill $node
wait $node 2>/dev/null

done_testing
