#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: long
# The runtime under race detectors:
#  - ThreadSanitizer: libgil's unit tests and its randomised test, built with -fsanitize=thread
#    into $OUTPUT/san-thread by make test;
#  - valgrind's drd and helgrind: the randomised test (fewer seeds: valgrind runs one thread at a
#    time, 20-50 times slower).
# Both must report nothing. libgil marks its lock-free atomic fields for drd and helgrind, which
# do not know C11 atomics (GIL_UNCHECKED() in runtime/gil_probes.h); tests/valgrind.supp holds the
# one report that is glibc's own. The other test_gil_* programs are not run under valgrind: they
# join their threads with pthread_timedjoin_np(), which drd and helgrind do not intercept, so they
# see no ordering between a worker's results and the main thread's reads of them, and the
# cancellation test needs a cancellable wait that valgrind's serialised threads do not give in time.
set -u
. "$(dirname "$0")/lib.sh"
SAN=$OUTPUT/san-thread/tests
FUZZ=$OUTPUT/tests/test_gil_fuzz
make_tmp

case $OUTPUT in
*/san-*)
	skip_cannot "race detectors" "this run is itself sanitized ($OUTPUT)"
	done_testing
	;;
esac

# run_quiet LOG COMMAND...: COMMAND's output to LOG, shown only if it fails.
run_quiet() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 && return 0
	sed 's/^/# /' "$log" | tail -40
	return 1
}

# reports_race LOG COMMAND...: COMMAND, a race detector, fails with its error status and names a
# race.
reports_race() {
	local log=$1
	shift
	"$@" >"$log" 2>&1
	[ $? -eq 9 ] && grep -qE "(data race|Conflicting (load|store))" "$log" && return 0
	sed 's/^/# /' "$log" | tail -20
	return 1
}

# Every libgil unit test: tests/test_gil*.c, as the Makefile's RACE_TESTS builds them.
for src in tests/test_gil*.c; do
	t=$(basename "$src" .c)
	if [ -x "$SAN/$t" ]; then
		check "ThreadSanitizer: $t passes, no report" \
			run_quiet "$tmp/tsan-$t" env TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
			GIL_FUZZ_SECONDS=6 "$SAN/$t"
	else
		skip "ThreadSanitizer: $t" "not built (make test builds it; make SANITIZE=thread tests)"
	fi
done

if ! command -v valgrind >/dev/null; then
	skip "drd and helgrind" "valgrind is not installed"
	done_testing
fi
# glibc keeps the stacks (and their thread-local storage) of threads that ended for the next
# pthread_create(); the detectors see the new thread's first writes to that memory as a race with
# the old thread's last ones. Valgrind's --sim-hints=no-nptl-pthread-stackcache cannot turn the
# cache off in glibc 2.34 and later (it says so and goes on); glibc's own tunable does: a report
# is then a real one.
export GLIBC_TUNABLES=glibc.pthread.stack_cache_size=0
vg=(valgrind --error-exitcode=9 --suppressions=tests/valgrind.supp)
for tool in drd helgrind; do
	check "valgrind --tool=$tool: test_gil_fuzz passes, no error" \
		run_quiet "$tmp/$tool" env GIL_FUZZ_SEEDS=8 GIL_FUZZ_SECONDS=20 \
		"${vg[@]}" --tool=$tool "$FUZZ"
	# The same options on a program with a deliberate race: a clean run above means something.
	check "valgrind --tool=$tool: reports the deliberate race of tests/helpers/racy.c" \
		reports_race "$tmp/racy.$tool" "${vg[@]}" --tool=$tool "$OUTPUT/tests/racy"
done

done_testing
