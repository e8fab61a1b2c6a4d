#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: alone
# gilstat -a in containers, as a real Prometheus sees it: two cgroups named as docker names its
# containers', made here, with libgil programs of known counts in them. Every process's series
# carries its exe, cgroup and container_id; Prometheus's sum by (container_id) is libgil's count
# per container; --by container keeps one series per container, which holds the count after the
# processes' own series have gone. Alone: an -a attaches to every other test's processes.
set -u
. "$(dirname "$0")/lib.sh"
export GIL_STATS=1
need_root "gilstat -a in containers"
make_tmp
need_tools "gilstat -a in containers" prometheus promtool curl
prom_port=$(free_port)
query() { prom_query "$prom_port" "$1"; }

$GILSTAT --by container -- $GILWORK cpu --work 1000 >/dev/null 2>"$tmp/by.err"
rc=$?
check "--by without -a: exit 2 with one line ($(cat "$tmp/by.err"))" \
	[ $rc -eq 2 -a "$(wc -l <"$tmp/by.err")" -eq 1 ]
$GILSTAT -a --prometheus 127.0.0.1:0 --by pod >/dev/null 2>"$tmp/by.err"
rc=$?
check "--by pod: exit 2 with one line ($(cat "$tmp/by.err"))" \
	[ $rc -eq 2 -a "$(wc -l <"$tmp/by.err")" -eq 1 ]
# the cgroup v2 hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host
cgroot=$(findmnt -t cgroup2 -no TARGET 2>/dev/null | head -1)
cgtop=$cgroot/gilstat-test.$$
if [ -z "$cgroot" ] || ! mkdir "$cgtop" 2>"$tmp/cg.err"; then
	skip_cannot "-a in two containers" "no cgroup v2 hierarchy to make cgroups in ($(cat "$tmp/cg.err"))"
	done_testing
fi
CYCLE=$OUTPUT/tests/gilcycle
declare -A cid cgdir want
for c in a b; do
	cid[$c]=$(echo "gilstat test container $c $$" | sha256sum | cut -c1-64)
	cgdir[$c]=$cgtop/docker-${cid[$c]}.scope
	mkdir "${cgdir[$c]}"
done
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rmdir "${cgdir[@]}" "$cgtop" 2>/dev/null
	rm -rf "$tmp"' EXIT
fleet_port=$(free_port)
by_port=$(free_port)
$GILSTAT -a --prometheus "127.0.0.1:$fleet_port" --grace 600 2>"$tmp/fleet.err" &
fleet=$!
$GILSTAT -a --prometheus "127.0.0.1:$by_port" --by container --grace 1 2>"$tmp/byc.err" &
byc=$!
printf '%s\n' 'global:' '  scrape_interval: 1s' '  scrape_timeout: 1s' 'scrape_configs:' \
	'  - job_name: fleet' "    static_configs: [{targets: [\"127.0.0.1:$fleet_port\"]}]" \
	'  - job_name: by' "    static_configs: [{targets: [\"127.0.0.1:$by_port\"]}]" \
	>"$tmp/prometheus-fleet.yml"
prometheus --config.file="$tmp/prometheus-fleet.yml" --storage.tsdb.path="$tmp/tsdb-fleet" \
	--web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus-fleet.log" 2>&1 &
prom=$!
if ! wait_attached "$tmp/fleet.err" || ! wait_attached "$tmp/byc.err" ||
	! wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready" -o /dev/null; then
	not_ok "-a twice and Prometheus start"
	tail -n 3 "$tmp/fleet.err" "$tmp/byc.err" "$tmp/prometheus-fleet.log" | sed 's/^/# /'
	done_testing
fi
# a program of libgil.so that both have found: the later ones are then counted from their first
# cycle, through the probes of the file (a new file's first process is attached as it is found)
$GILWORK convoy --seconds 60 >/dev/null &
warm=$!
traced_by_both() {
	[ -n "$(metric $fleet_port "gilstat_gil_acquisitions_total\{pid=\"$warm\",[^}]*\}")" ] &&
		[ "$(metric $by_port gilstat_targets)" -ge 1 ]
}
wait_for 30 traced_by_both
# in_cgroup C: libgil's counts of a gilcycle run in container C's cgroup, one JSON line
in_cgroup() {
	sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 2 20000' sh "${cgdir[$1]}" "$CYCLE"
}
in_cgroup a >"$tmp/cg.a.1" &
in_cgroup a >"$tmp/cg.a.2" &
in_cgroup b >"$tmp/cg.b.1" &
all_counted() { [ "$(cat "$tmp"/cg.?.? | wc -l)" = 3 ]; }
wait_for 60 all_counted
kill $warm
wait $warm 2>/dev/null
for c in a b; do
	want[$c]=$(cat "$tmp"/cg.$c.? | python3 -c 'import json, sys
print(sum(json.loads(l)["acquisitions"] for l in sys.stdin))')
done
curl -s --max-time 5 "http://127.0.0.1:$fleet_port/metrics" >"$tmp/fleet.txt"
check "-a: a process's series carry its exe, cgroup and container_id" \
	grep -qF "exe=\"gilcycle\",cgroup=\"${cgdir[a]#"$cgroot"}\",container_id=\"${cid[a]}\"" \
	"$tmp/fleet.txt"
# summed C JOB: Prometheus's sum by (container_id) of JOB's series, for container C
summed() {
	query "sum by (container_id) (gilstat_gil_acquisitions_total{job=\"$2\",container_id=\"${cid[$1]}\"})"
}
is_summed() { [ "$(summed "$1" "$2")" = "${want[$1]}" ]; }
for c in a b; do
	check "Prometheus: sum by (container_id) of container $c's processes is libgil's count (${want[$c]})" \
		wait_for 20 is_summed $c fleet
done
# the processes' own figures go after --grace 1, at the next expiry (every second); their
# container's series must hold their count before that and after it alike
sleep 3
curl -s --max-time 5 "http://127.0.0.1:$by_port/metrics" >"$tmp/by.txt"
for c in a b; do
	got=$(grep -F "gilstat_gil_acquisitions_total{container_id=\"${cid[$c]}\"}" "$tmp/by.txt" |
		cut -d' ' -f2)
	check "--by container: container $c's series keeps its ended processes' count ($got = ${want[$c]})" \
		[ "$got" = "${want[$c]}" ]
	check "Prometheus: the --by series of container $c is libgil's count too" \
		wait_for 20 is_summed $c by
done
check "--by container: no series by pid" eval '! grep -q "pid=" "$tmp/by.txt"'
promtool check metrics <"$tmp/by.txt" >"$tmp/promtool-by.out" 2>&1
check "promtool check metrics: clean on --by's /metrics ($(head -c 200 "$tmp/promtool-by.out"))" \
	[ $? -eq 0 -a ! -s "$tmp/promtool-by.out" ]
kill -TERM $fleet $byc
wait $fleet
check "-a: SIGTERM, exit 0" [ $? -eq 0 ]
wait $byc
check "-a --by container: SIGTERM, exit 0" [ $? -eq 0 ]
kill $prom
wait $prom 2>/dev/null
rmdir "${cgdir[@]}" "$cgtop"
check "the test's cgroups are removed" [ ! -d "$cgtop" ]

done_testing
