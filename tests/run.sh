#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs every test: the cmocka programs $OUTPUT/tests/test_* and the integration scripts tests/*.sh.
# All speak TAP ("ok N - what", "not ok N - what", "# SKIP why"); this tallies them and ends with
# the line "N passed, N failed, N skipped". A program that dies without saying why counts as failed.
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
trap 'rm -f "$log"' EXIT

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
		grep -E '# *(SKIP|skip)' "$log" | sed 's/^/    /'
	fi
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

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
