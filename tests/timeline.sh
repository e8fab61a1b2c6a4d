#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# gilstat --timeline: the Chrome trace of every GIL cycle. Its spans add up to the report's
# per-thread totals and to libgil's own ground truth, one GIL's holds never overlap, its marks are
# the report's forced switches and requested releases, --timeline-limit caps it and says so, a
# CPython's waits carry their Python function, and speedscope (from npm) opens it in headless
# Chromium with a track per thread.
set -u
. "$(dirname "$0")/lib.sh"
PROGS=$(dirname "$0")/python
CYCLE=$OUTPUT/tests/gilcycle
CHECK="python3 tests/timelinecheck.py"
need_root "gilstat --timeline"
make_tmp

# one_line WHAT COMMAND...: exit status 2 and one line on stderr, before anything is traced.
one_line() {
	local what=$1 rc
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	check "$what: exit 2, one line ($(head -1 "$tmp/err"))" \
		eval '[ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]'
}
one_line "--timeline to a file that cannot be written" \
	"$GILSTAT" --timeline /nonexistent/dir/t.json -- "$GILWORK" cpu --seconds 0.01
one_line "--timeline with -a" "$GILSTAT" -a --timeline "$tmp/a.json" -d 1
one_line "--timeline-limit 0" "$GILSTAT" --timeline "$tmp/z.json" --timeline-limit 0 -- "$GILWORK" cpu

# libgil, three threads of known cycles: libgil keeps its own sums (GIL_STATS=1).
GIL_STATS=1 "$GILSTAT" -L -j -o "$tmp/cycle.json" --timeline "$tmp/cycle.trace" -- \
	"$CYCLE" 3 20000 >"$tmp/cycle.truth" 2>"$tmp/cycle.err"
check "libgil: the timeline's sums are the report's per thread and libgil's own, every cycle in it" \
	$CHECK sums "$tmp/cycle.trace" "$tmp/cycle.json" "$tmp/cycle.truth"

# The convoy: forced switches and the releases a drop request asked for, each marked.
"$GILSTAT" -L -j -o "$tmp/convoy.json" --timeline "$tmp/convoy.trace" -- \
	"$GILWORK" convoy --seconds 0.5 >/dev/null 2>&1
check "gilwork convoy: the spans add up" $CHECK sums "$tmp/convoy.trace" "$tmp/convoy.json"
check "gilwork convoy: a mark for each forced switch and each requested release" \
	$CHECK marks "$tmp/convoy.trace" "$tmp/convoy.json"

# --timeline-limit: the events past it are counted, in the file and in the report.
"$GILSTAT" --timeline "$tmp/limit.trace" --timeline-limit 10 -- \
	"$GILWORK" convoy --seconds 0.2 >"$tmp/limit.out" 2>&1
check "--timeline-limit 10: 10 events, the rest counted as dropped in the file" \
	python3 -c 'import json, sys; t = json.load(open(sys.argv[1]))
sys.exit(not (len([e for e in t["traceEvents"] if e["ph"] in "Bi"]) == 10 and
              t["otherData"]["events"] == 10 and t["otherData"]["dropped_over_limit"] > 0))' \
	"$tmp/limit.trace"
check "--timeline-limit 10: the report's last line says how many were dropped" \
	grep -q "events dropped over --timeline-limit" "$tmp/limit.out"

# CPython: the culprit's timeline, with --stacks naming the Python function of each long wait.
py=$(ls -d "$PYENV_VERSIONS"/3.12.*/bin/python3 2>/dev/null | head -1)
[ -n "$py" ] || py=/usr/bin/python3.11
"$GILSTAT" --python --stacks -L -j -o "$tmp/py.json" --timeline "$tmp/py.trace" -- \
	"$py" "$PROGS/culprit.py" 1 </dev/null >/dev/null 2>"$tmp/py.err"
check "CPython ($py): the spans add up to the report's per-thread totals" \
	$CHECK sums "$tmp/py.trace" "$tmp/py.json"
check "CPython: the I/O thread's waits carry its function, io (culprit.py:24)" \
	$CHECK python "$tmp/py.trace" "$tmp/py.json" io "io (culprit.py:24)"
check_schema "$tmp/cycle.json" "$tmp/convoy.json" "$tmp/py.json"

# What a user opens: speedscope, in headless Chromium, offline.
if ! index=$(scripts/speedscope.sh 2>"$tmp/speedscope.err"); then
	skip_cannot "speedscope opens the timeline" "$(tail -1 "$tmp/speedscope.err")"
elif ! command -v chromium >/dev/null; then
	skip "speedscope opens the timeline" "no chromium (scripts/deps.sh installs it)"
else
	# speedscope's own way to open a file from the command line: a script that hands it over
	python3 -c 'import base64, json, sys
data = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
print("speedscope.loadFileFromBase64(%s, %s)" % (json.dumps("convoy.trace"), json.dumps(data)))' \
		"$tmp/convoy.trace" >"$tmp/load.js"
	url="file://$index#localProfilePath=$tmp/load.js"
	chrome=(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic
		--no-first-run --disable-background-networking --disable-component-update
		--disable-sync --allow-file-access-from-files --user-data-dir="$tmp/chromium"
		--virtual-time-budget=10000 --window-size=1400,900)
	"${chrome[@]}" --dump-dom "$url" >"$tmp/page.html" 2>"$tmp/chromium.log"
	check "speedscope: a track for every thread, holding the time of its spans" \
		$CHECK speedscope "$tmp/convoy.trace" "$tmp/page.html"
	"${chrome[@]}" --screenshot="$tmp/speedscope.png" "$url" >>"$tmp/chromium.log" 2>&1
	check "Chromium takes a screenshot of it" [ -s "$tmp/speedscope.png" ]
	[ -n "${GILSTAT_KEEP_SCREENSHOT:-}" ] && cp "$tmp/speedscope.png" "$GILSTAT_KEEP_SCREENSHOT"
fi
done_testing
