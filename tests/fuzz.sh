#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Replays the fuzz harnesses' seed corpus and every crash kept (tests/fuzz/corpus/NAME,
# tests/fuzz/crashes/NAME) through the harnesses built without libFuzzer, under ASan and UBSan
# ($OUTPUT/fuzz-replay/fuzz_NAME): one test per file, no new fuzzing. A crash, a sanitizer's report
# or an input running past the replay's time limit fails that file's test; the replay goes on with
# the next file. `make fuzz` does the long runs (tests/fuzz/run.sh).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
# max_allocation_size_mb: an allocation as large as an input claims fails at once, not after
# the time limit
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:max_allocation_size_mb=1024}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# replay NAME FILE...: runs the harness over the files; after a crash, again from the next file.
replay() {
	local name=$1 bin=$OUTPUT/fuzz-replay/fuzz_$1 done_nr rc file why
	shift
	local files=("$@")
	while [ ${#files[@]} -gt 0 ]; do
		"$bin" "${files[@]}" >"$log" 2>"$log.err"
		rc=$?
		done_nr=0
		while read -r _ file; do
			ok "$name: $file"
			done_nr=$((done_nr + 1))
		done < <(grep '^PASS ' "$log")
		files=("${files[@]:done_nr}")
		[ ${#files[@]} -eq 0 ] && break
		# the first file not passed is the one that ended the harness
		why=$(grep -m1 -E 'ERROR: |runtime error: |fuzz(_[a-z]+)?: ' "$log.err" | sed 's/^==[0-9]*==//')
		[ $rc -eq 142 ] && why="still running after the replay's time limit (SIGALRM)"
		not_ok "$name: ${files[0]}: exit status $rc: ${why:-no sanitizer report}"
		sed -n '1,30p' "$log.err" | sed 's/^/#   /'
		files=("${files[@]:1}")
	done
	rm -f "$log.err"
}

for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	if [ ! -x "$OUTPUT/fuzz-replay/fuzz_$name" ]; then
		not_ok "$name: the replay harness $OUTPUT/fuzz-replay/fuzz_$name was built (make tests)"
		continue
	fi
	# the stacks harness fills real BPF maps
	if [ "$name" = stacks ] && [ "$(id -u)" -ne 0 ]; then
		skip "$name: replay of its corpus" "needs root to create BPF maps"
		continue
	fi
	mapfile -t files < <(find "tests/fuzz/corpus/$name" "tests/fuzz/crashes/$name" -type f \
		2>/dev/null | sort)
	if [ ${#files[@]} -eq 0 ]; then
		not_ok "$name: has a seed corpus in tests/fuzz/corpus/$name"
		continue
	fi
	replay "$name" "${files[@]}"
done
done_testing
