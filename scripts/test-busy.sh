#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make test-busy: the whole suite, RUNS times in a row (3), while stress-ng keeps every core busy
# with other work, as on a shared machine. A test that passes only on a quiet machine fails here.
# Usage: scripts/test-busy.sh   (as root; OUTPUT as for make; RUNS; STRESS_CPUS, nproc by default)
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
runs=${RUNS:-3}
cpus=${STRESS_CPUS:-$(nproc)}

if ! command -v stress-ng >/dev/null; then
	echo "test-busy.sh: stress-ng is missing (scripts/deps.sh --busy installs it)" >&2
	exit 1
fi
stress-ng --cpu "$cpus" --timeout 0 --quiet &
stress=$!
trap 'kill $stress 2>/dev/null; wait $stress 2>/dev/null' EXIT
trap 'exit 130' INT TERM

failed=0
for run in $(seq "$runs"); do
	log=$OUTPUT/test-busy.$run.log
	start=$SECONDS
	OUTPUT=$OUTPUT tests/run.sh >"$log" 2>&1
	rc=$?
	echo "run $run of $runs, beside stress-ng --cpu $cpus: exit $rc in $((SECONDS - start)) s:" \
		"$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)"
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		grep -E '^FAIL|^ *not ok' "$log" | sed 's/^/    /'
	fi
done
echo "$((runs - failed)) of $runs runs passed under load (logs: $OUTPUT/test-busy.N.log)"
[ "$failed" -eq 0 ]
