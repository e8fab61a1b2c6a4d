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
passed=0 failed=0 skipped=0
log=$(mktemp)
skips=$(mktemp)
trap 'rm -f "$log" "$skips"' EXIT

# skipped_of NAME: the skipped tests of a log, "CLASS<tab>NAME: WHAT: WHY" a line. The shell
# scripts say "ok N - WHAT # SKIP WHY"; cmocka says "not ok N # SKIP TEST", after the test's own
# "# SKIP WHY" line.
skipped_of() {
	awk -v name="$1" '
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
		}' "$log"
}

run_one() {
	local name=$1; shift
	local rc p f s
	"$@" >"$log" 2>&1
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
		echo "FAIL $name ($p passed, $f failed, $s skipped)"
		sed 's/^/    /' "$log"
	else
		echo "PASS $name ($p passed, $s skipped)"
	fi
	skipped_of "$name" >>"$skips"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

for t in "$OUTPUT"/tests/test_*; do
	[ -x "$t" ] || continue
	case $(basename "$t") in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" "$t"
done
for t in tests/*.sh; do
	[ -f "$t" ] || continue
	case $(basename "$t") in lib.sh|run.sh) continue ;; esac
	case $(basename "$t") in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" bash "$t"
done

# Every skip, one a line: "SKIP (cannot here) NAME: WHAT: WHY".
sort -s -t "$(printf '\t')" -k1,1 "$skips" | awk -F'\t' '{ printf "SKIP (%s) %s\n", $1, $2 }'
missed=$(grep -c '^should have run' "$skips")
echo "$passed passed, $failed failed, $skipped skipped ($missed of them should have run)"
if [ "$missed" -ne 0 ]; then
	echo "FAIL: $missed tests this machine can run were skipped (the lines" \
		"'SKIP (should have run)' say why)"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$missed" -eq 0 ]
