#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# gilstat --heatmap: an unwritable file or a missing interval is refused before anything is
# traced; on gilwork's convoy the SVG parses, has a column per interval report whose cells are
# that report's histogram buckets, and a headless Chromium draws it.
set -u
. "$(dirname "$0")/lib.sh"
CHECK="python3 tests/heatmapcheck.py"
quiet() { "$@" >/dev/null 2>&1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$(id -u)" -ne 0 ]; then
	skip "gilstat --heatmap" "needs root to load BPF programs"
	done_testing
fi

# expect WHAT MESSAGE COMMAND...: exit status 2, MESSAGE the only line on stderr, nothing traced.
expect() {
	local what=$1 message=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ $rc -eq 2 ] && [ "$(cat "$tmp/err")" = "$message" ]; then
		ok "$what: exit 2, '$message'"
	else
		not_ok "$what: exit 2, '$message'"
		echo "# got exit $rc, stderr:"
		sed 's/^/#   /' "$tmp/err"
	fi
}
expect "an unwritable heatmap" \
	"gilstat: cannot write $tmp/no/h.svg: No such file or directory" \
	$GILSTAT --heatmap "$tmp/no/h.svg" 0.2 -- $GILWORK cpu --work 1000
expect "a heatmap without an interval" \
	"gilstat: --heatmap needs an INTERVAL: each of its columns is one interval" \
	$GILSTAT --heatmap "$tmp/h.svg" -- $GILWORK cpu --work 1000
expect "a heatmap of an exporter" \
	"gilstat: --heatmap draws the interval reports, which --prometheus and --textfile do not make" \
	$GILSTAT --heatmap "$tmp/h.svg" --textfile "$tmp" 1 -- $GILWORK cpu --work 1000
expect "an unknown --heatmap-of" \
	"gilstat: invalid --heatmap-of 'latency': expected wait, hold, handoff or sched-delay" \
	$GILSTAT --heatmap "$tmp/h.svg" --heatmap-of latency 0.2 -- $GILWORK cpu --work 1000
expect "--heatmap-of sched-delay without the scheduler" \
	"gilstat: --heatmap-of sched-delay needs the scheduler, which --no-sched turns off" \
	$GILSTAT --no-sched --heatmap "$tmp/h.svg" --heatmap-of sched-delay 0.2 -- $GILWORK cpu

# The convoy: 0.5 s of round trips alone, then 2 s beside a CPU thread, in reports of 0.2 s.
$GILSTAT -j -o "$tmp/report.json" --heatmap "$tmp/wait.svg" 0.2 -- $GILWORK convoy \
	>/dev/null 2>"$tmp/wait.err"
check "gilstat -j -o --heatmap 0.2 -- gilwork convoy exits 0" [ $? -eq 0 ]
check "a dozen interval reports or more" [ "$(wc -l <"$tmp/report.json")" -ge 12 ]
if command -v xmllint >/dev/null; then
	check "xmllint parses the heatmap" xmllint --noout "$tmp/wait.svg"
else
	skip "xmllint parses the heatmap" "no xmllint (scripts/deps.sh installs libxml2-utils)"
fi
check "each column's cells are its report's wait buckets: $($CHECK cells "$tmp/wait.svg" \
	"$tmp/report.json" wait_ns 2>&1 | head -3)" \
	quiet $CHECK cells "$tmp/wait.svg" "$tmp/report.json" wait_ns
check "self-contained: no script, no link to anything outside the file" \
	eval '! grep -qiE "<script|href=|@import|url\((https?|file):" "$tmp/wait.svg"'
check "axes with units, a legend and a title" \
	eval 'grep -q "time since tracing began (s)" "$tmp/wait.svg" &&
	      grep -q "GIL wait time (log2 buckets)" "$tmp/wait.svg" &&
	      grep -q "[0-9] ms</text>" "$tmp/wait.svg" &&
	      grep -q "count per cell" "$tmp/wait.svg" && grep -q "<title>GIL wait" "$tmp/wait.svg"'
# The convoy's I/O thread waits a switch interval (5 ms) for each round trip beside the CPU
# thread: those waits must be on the map, in the 4-8 ms row.
check "the convoy's waits of a switch interval are on the map" \
	grep -q 'data-low="4096000"' "$tmp/wait.svg"

# The hold histogram, in milliseconds.
$GILSTAT -m -j -o "$tmp/hold.json" --heatmap "$tmp/hold.svg" --heatmap-of hold 0.1 -- \
	$GILWORK convoy --seconds 0.3 >/dev/null 2>&1
check "--heatmap-of hold -m: each column's cells are its report's hold buckets: $($CHECK cells \
	"$tmp/hold.svg" "$tmp/hold.json" hold_ns 2>&1 | head -3)" \
	quiet $CHECK cells "$tmp/hold.svg" "$tmp/hold.json" hold_ns

# What a user sees: Debian's chromium, headless, draws it.
if ! command -v chromium >/dev/null; then
	skip "chromium draws the heatmap" "no chromium (scripts/deps.sh installs it)"
else
	timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$tmp/chromium" --screenshot="$tmp/wait.png" --window-size=1000,600 \
		"file://$tmp/wait.svg" >"$tmp/chromium.log" 2>&1
	check "chromium takes a screenshot of it" [ -s "$tmp/wait.png" ]
	# python3-pil is Debian's, so Debian's python3 reads the picture.
	if /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
		check "the screenshot shows the cells: $(/usr/bin/python3 tests/heatmapcheck.py png \
			"$tmp/wait.png" "$tmp/wait.svg" 2>&1)" \
			quiet /usr/bin/python3 tests/heatmapcheck.py png "$tmp/wait.png" "$tmp/wait.svg"
	else
		skip "the screenshot shows the cells" "no python3-pil (scripts/deps.sh installs it)"
	fi
fi
done_testing
