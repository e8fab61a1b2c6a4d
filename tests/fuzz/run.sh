#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make fuzz: runs each harness named (tests/fuzz/fuzz_NAME.c) for FUZZ_SECONDS under libFuzzer,
# FUZZ_JOBS of them at a time, from the seed corpus. New inputs go to $OUTPUT/fuzz/corpus/NAME,
# crashes, timeouts and out-of-memory inputs to $OUTPUT/fuzz/crashes/NAME/, the executions and
# coverage reached to $OUTPUT/fuzz/stats.txt. A finding does not end the run (fork mode): it goes
# on with the rest of the corpus. Keep a reproducer in tests/fuzz/crashes/NAME/, where make test
# replays it, and merge what widened the coverage into the seeds with
#   $OUTPUT/fuzz/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME $OUTPUT/fuzz/corpus/NAME
set -u
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
FUZZ_JOBS=${FUZZ_JOBS:-2}
stats=$OUTPUT/fuzz/stats.txt
# a harness may step past a finding every run would otherwise start with (fuzz_cmdline.c)
export FUZZ_SKIP_KNOWN=${FUZZ_SKIP_KNOWN-1}

run_one() {
	local name=$1 bin=$OUTPUT/fuzz/fuzz_$1 log=$OUTPUT/fuzz/$1.log last
	mkdir -p "$OUTPUT/fuzz/corpus/$name" "$OUTPUT/fuzz/crashes/$name"
	# -timeout: an input that runs for 10 s is a finding (an unbounded read, a walk with no end)
	"$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
		-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="$OUTPUT/fuzz/crashes/$name/" -print_final_stats=1 \
		"$OUTPUT/fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1
	last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1)
	echo "$name: $(date -u +%FT%TZ) ${FUZZ_SECONDS}s: ${last:-no status line, see $log}; findings:" \
		"$(find "$OUTPUT/fuzz/crashes/$name" -type f | wc -l)" >>"$stats"
}

for name in "$@"; do
	while [ "$(jobs -pr | wc -l)" -ge "$FUZZ_JOBS" ]; do
		wait -n
	done
	echo "fuzzing $name for ${FUZZ_SECONDS}s ($OUTPUT/fuzz/$name.log)"
	run_one "$name" &
done
wait
cat "$stats"
