#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The fleet under churn, for long: `gilstat -a --prometheus` (its series kept --grace 2 s after a
# process ends) while RATE short-lived processes a minute start and end, for SECONDS (a libgil
# program three times in four, a CPython the fourth). Every 10 s it samples gilstat's resident
# memory, heap in use (gilstat_heap_inuse_bytes), descriptors, BPF links and the series it serves;
# at the end, the last third of the run must hold no more of them than the first third once warm
# (memory within 5% or 1 MB, series and links within what the grace period holds), and nothing of
# gilstat's may be left once it exits. Prints TAP and a table for docs/benchmarks.md.
#
# Usage: scripts/fleet-soak.sh [SECONDS] [RATE]   (as root; 600 and 1000 by default)
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
. tests/lib.sh
seconds=${1:-600}
rate=${2:-1000}
py=/usr/bin/python3.11
[ -x "$py" ] || py=$(command -v python3)
need_root "fleet soak"
make_tmp

port=$(free_port)
"$GILSTAT" -a --prometheus "127.0.0.1:$port" --grace 2 2>"$tmp/gilstat.err" &
g=$!
if ! wait_attached "$tmp/gilstat.err"; then
	not_ok "gilstat -a starts"
	done_testing
fi

# sample: "SECONDS RSS_KB HEAP_BYTES FDS LINKS SERIES TARGETS" of gilstat now
sample() {
	local m rss fds links
	m=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics")
	rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$g/status)
	fds=$(ls /proc/$g/fd | wc -l)
	links=$(bpf_objects_of $g | grep -c '^link')
	echo "$1 $rss $(awk '/^gilstat_heap_inuse_bytes / { print $2 }' <<<"$m") $fds $links" \
		"$(grep -c '^gilstat_gil_acquisitions_total{' <<<"$m")" \
		"$(awk '/^gilstat_targets / { print $2 }' <<<"$m")"
}

# churn: RATE starts a minute, each a short libgil program or CPython, until the end; the starts
# keep to a schedule, so that the time a start takes does not lower the rate
churn() {
	local i=0 t0 now due gap_ns=$((60000000000 / rate)) end=$(($(date +%s) + seconds))
	t0=$(date +%s%N)
	while [ "$(date +%s)" -lt "$end" ]; do
		if ((i % 4 == 3)); then
			"$py" -c 'import os
r, w = os.pipe()
for _ in range(200):
    os.write(w, b"x"); os.read(r, 1)' &
		else
			"$GILWORK" cpu --seconds 0.01 >/dev/null &
		fi
		i=$((i + 1))
		now=$(date +%s%N)
		due=$((t0 + i * gap_ns))
		[ "$due" -gt "$now" ] && sleep "$(printf '0.%09d' $((due - now)))"
		# at most 16 at once: on a loaded machine the starts slow down rather than pile up
		while [ "$(jobs -pr | wc -l)" -ge 16 ]; do wait -n; done
	done
	wait
	echo "$i" >"$tmp/started"
}
start=$(date +%s)
churn &
churner=$!
while kill -0 $churner 2>/dev/null; do
	sample $(($(date +%s) - start)) >>"$tmp/samples"
	sleep 10
done
wait $churner
sleep 3
sample $(($(date +%s) - start)) >>"$tmp/samples"
held=$(bpf_objects_of $g)
kill -TERM $g
wait $g
rc=$?

started=$(cat "$tmp/started")
echo "# $started processes started in $seconds s; samples (s, RSS kB, heap B, fds, links, series, targets):"
sed 's/^/#   /' "$tmp/samples"
# the first third once warm (after the first minute) against the last third
read -r rss_a rss_b heap_a heap_b fds_a fds_b links_max series_max <<<"$(python3 - "$tmp/samples" "$seconds" <<'EOF'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 7]
total = int(sys.argv[2])
first = [r for r in rows if 60 <= r[0] <= 60 + total / 3] or rows[:1]
last = [r for r in rows if r[0] >= total * 2 / 3] or rows[-1:]
print(max(r[1] for r in first), max(r[1] for r in last), max(r[2] for r in first),
      max(r[2] for r in last), max(r[3] for r in first), max(r[3] for r in last),
      max(r[4] for r in rows), max(r[5] for r in rows))
EOF
)"
flat() { [ "$2" -le $(($1 + $1 / 20)) ] || [ "$2" -le $(($1 + $3)) ]; }
check "$started starts in $seconds s (about $rate a minute)" \
	[ "$started" -ge $((rate * seconds / 60 * 8 / 10)) ]
check "RSS flat: $rss_a kB once warm, $rss_b kB in the last third" flat "$rss_a" "$rss_b" 1024
check "heap in use flat: $heap_a B once warm, $heap_b B in the last third" \
	flat "$heap_a" "$heap_b" 1048576
check "descriptors flat: $fds_a once warm, $fds_b in the last third" flat "$fds_a" "$fds_b" 16
# what the grace period holds: the processes of its 2 s and of a look's lag, 5 s in all
bound=$((rate * 5 / 60 + 20))
check "series bounded: at most $series_max at once (bound $bound)" [ "$series_max" -le "$bound" ]
check "links bounded: at most $links_max at once (bound $((2 * bound)))" \
	[ "$links_max" -le $((2 * bound)) ]
check "SIGTERM: gilstat exits 0" [ $rc -eq 0 ]
check "nothing of gilstat's left attached" bpf_objects_gone "$held"
done_testing
