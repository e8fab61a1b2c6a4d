#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs every test: the cmocka programs $OUTPUT/tests/test_* and the integration scripts tests/*.sh.
# All speak TAP ("ok N - what", "not ok N - what", "# SKIP why"); this tallies them and ends with
# every skipped test, one a line, then "N passed, N failed, N skipped". A program that dies without
# saying why counts as failed.
# A skip's reason starts with its class: "cannot here:" (this machine cannot run the test: no
# free-threaded CPython exists here) or "should have run:" (root, or something the deps step
# installs, is missing). A skip of the second class, or one without a class, fails the run.
# Usage: tests/run.sh [NAME-FILTER]
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
export OUTPUT CMOCKA_MESSAGE_OUTPUT=TAP
# A stripped build's symbols are never asked of a debuginfod server off this machine.
unset DEBUGINFOD_URLS
filter=${1:-}
# Independent tests run side by side: most of their time is spent waiting (for a workload, a
# grace period, a scrape), not on a CPU. A script that says "# run.sh: alone" in its first lines
# runs with no other test: it traces every process on the host (gilstat -a), so it would attach
# to the other tests' targets.
jobs_max=${TEST_JOBS:-$(($(nproc) + 2))}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

# skipped_of LOG NAME: the skipped tests of a log, "CLASS<tab>NAME: WHAT: WHY" a line. The shell
# scripts say "ok N - WHAT # SKIP WHY"; cmocka says "not ok N # SKIP TEST", after the test's own
# "# SKIP WHY" line.
skipped_of() {
	awk -v name="$2" '
		/^# *SKIP/ { why = $0; sub(/^# *SKIP:? */, "", why); next }
		/^(not )?ok [0-9]+.*# *(SKIP|skip)/ {
			what = $0
			sub(/ *# *(SKIP|skip).*/, "", what)
			sub(/^(not )?ok [0-9]+ *(- *)?/, "", what)
			r = $0; sub(/.*# *(SKIP|skip) */, "", r)
			if (what == "") { what = r; r = why }
			why = ""
			class = "should have run"
			if (sub(/^cannot here: */, "", r)) class = "cannot here"
			else sub(/^should have run: */, "", r)
			if (r == "") r = "no reason given"
			printf "%s\t%s: %s: %s\n", class, name, what, r
		}' "$1"
}

# run_one NAME COMMAND...: runs one test program into $work/NAME.*: its log, "PASSED FAILED
# SKIPPED" in .counts, its skips in .skips, the line to print (and the log, if it failed) in .out.
run_one() {
	local name=$1; shift
	local log=$work/$name.log rc p f s t0=$SECONDS
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	# cmocka marks a skipped test "not ok N # SKIP", the shell scripts "ok N - ... # SKIP".
	s=$(grep -cE '^(not )?ok [0-9]+.*# *(SKIP|skip)' "$log")
	p=$(grep -E '^ok [0-9]+' "$log" | grep -cvE '# *(SKIP|skip)')
	f=$(grep -E '^not ok [0-9]+' "$log" | grep -cvE '# *(SKIP|skip)')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name ($p passed, $f failed, $s skipped, $((SECONDS - t0)) s)"
		sed 's/^/    /' "$log"
	else
		echo "PASS $name ($p passed, $s skipped, $((SECONDS - t0)) s)"
	fi >"$work/$name.out"
	skipped_of "$log" "$name" >"$work/$name.skips"
	echo "$p $f $s" >"$work/$name.counts"
}

# flush: prints, once each, the results of the tests that have ended.
flush() {
	local out
	for out in "$work"/*.out; do
		[ -f "$out" ] && [ -f "${out%.out}.counts" ] || continue
		cat "$out"
		mv "$out" "$out.shown"
	done
}

# start NAME COMMAND...: runs a test in the background once fewer than jobs_max run.
start() {
	while [ "$(jobs -pr | wc -l)" -ge "$jobs_max" ]; do
		wait -n
		flush
	done
	run_one "$@" &
}

# "# run.sh: long" marks the scripts of a minute or more: they start first, so that the short
# ones fill the gaps beside them instead of the long ones running on alone at the end.
alone=() long=() together=()
for t in "$OUTPUT"/tests/test_* tests/*.sh; do
	name=$(basename "$t")
	case $name in lib.sh|run.sh) continue ;; esac
	case $name in *"$filter"*) ;; *) continue ;; esac
	case $t in
	*.sh)
		[ -f "$t" ] || continue
		marks=$(head -20 "$t" | grep '^# run.sh: ')
		case $marks in
		*alone*) alone+=("$t") ;;
		*long*) long+=("$t") ;;
		*) together+=("$t") ;;
		esac
		;;
	*) [ -x "$t" ] && together+=("$t") ;;
	esac
done
together=("${long[@]}" "${together[@]}")
for t in "${alone[@]}"; do
	run_one "$(basename "$t")" bash "$t"
	flush
done
for t in "${together[@]}"; do
	case $t in
	*.sh) start "$(basename "$t")" bash "$t" ;;
	*) start "$(basename "$t")" "$t" ;;
	esac
done
wait
flush

passed=0 failed=0 skipped=0
for c in "$work"/*.counts; do
	[ -f "$c" ] || continue
	read -r p f s <"$c"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
cat "$work"/*.skips 2>/dev/null >"$work/all-skips"

# Every skip, one a line: "SKIP (cannot here) NAME: WHAT: WHY".
sort -s -t "$(printf '\t')" -k1,1 "$work/all-skips" | awk -F'\t' '{ printf "SKIP (%s) %s\n", $1, $2 }'
missed=$(grep -c '^should have run' "$work/all-skips")
echo "$passed passed, $failed failed, $skipped skipped ($missed of them should have run)"
if [ "$missed" -ne 0 ]; then
	echo "FAIL: $missed tests this machine can run were skipped (the lines" \
		"'SKIP (should have run)' say why)"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$missed" -eq 0 ]
