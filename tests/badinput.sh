#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bad input: every mistake a user can make with gilstat or gilwork ends in one exact line on
# stderr, "gilstat: ..." or "gilwork: ...", and a non-zero exit status; the target keeps running.
# docs/troubleshooting.md lists the same messages with what to do about each.
set -u
. "$(dirname "$0")/lib.sh"
SPIN=$OUTPUT/tests/gilspin
make_tmp
need_root "gilstat bad input"

# expect WHAT STATUS MESSAGE COMMAND...: COMMAND exits with STATUS and prints MESSAGE as the only
# line on stderr.
expect() {
	local what=$1 status=$2 message=$3 rc
	shift 3
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ $rc -eq "$status" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
	   [ "$(cat "$tmp/err")" = "$message" ]; then
		ok "$what: exit $status, '$message'"
	else
		not_ok "$what: exit $status, '$message'"
		echo "# got exit $rc, stderr:"
		sed 's/^/#   /' "$tmp/err"
	fi
}

quiet() { "$@" >/dev/null 2>&1; }

# A running libgil process to point -p at, and one without any GIL.
$SPIN 1 0 >/dev/null &
spin=$!
sleep 30 &
sleeper=$!
wait_mapped $spin libgil

# Options and arguments: usage errors exit 2.
expect "unknown long option" 2 "gilstat: unrecognized option '--frobnicate'" \
	$GILSTAT --frobnicate -p $spin
expect "unknown short option" 2 "gilstat: invalid option -- 'z'" $GILSTAT -z -p $spin
expect "-p without its argument" 2 "gilstat: option requires an argument -- 'p'" $GILSTAT -p
expect "--duration without its argument" 2 "gilstat: option '--duration' requires an argument" \
	$GILSTAT -p $spin --duration
expect "-p with a non-number" 2 \
	"gilstat: invalid PID 'abc': expected a whole number from 1 to 2147483647" $GILSTAT -p abc
expect "-p 0" 2 "gilstat: invalid PID '0': expected a whole number from 1 to 2147483647" \
	$GILSTAT -p 0
expect "zero interval" 2 "gilstat: invalid interval '0': expected seconds from 0.01 to 86400" \
	$GILSTAT -p $spin 0
# getopt reads a negative number as options, as it does for every tool.
expect "negative interval" 2 "gilstat: invalid option -- '1'" $GILSTAT -p $spin -1
expect "huge interval" 2 \
	"gilstat: invalid interval '99999999999999999999': expected seconds from 0.01 to 86400" \
	$GILSTAT -p $spin 99999999999999999999
expect "interval not a number" 2 \
	"gilstat: invalid interval '5s': expected seconds from 0.01 to 86400" $GILSTAT -p $spin 5s
expect "zero count" 2 \
	"gilstat: invalid count '0': expected a whole number from 1 to 9223372036854775807" \
	$GILSTAT -p $spin 1 0
expect "huge count" 2 \
	"gilstat: invalid count '9223372036854775808': expected a whole number from 1 to 9223372036854775807" \
	$GILSTAT -p $spin 1 9223372036854775808
expect "negative count" 2 "gilstat: invalid option -- '5'" $GILSTAT -p $spin 1 -5
expect "a third positional argument" 2 "gilstat: unexpected argument '3' (a command goes after --)" \
	$GILSTAT -p $spin 1 2 3
expect "zero duration" 2 "gilstat: invalid duration '0': expected seconds, > 0" \
	$GILSTAT -d 0 -p $spin
expect "negative duration" 2 "gilstat: invalid duration '-1': expected seconds, > 0" \
	$GILSTAT -d -1 -p $spin
expect "--max-keys 0" 2 \
	"gilstat: invalid --max-keys '0': expected a whole number from 1 to 16777216" \
	$GILSTAT -L --max-keys 0 -p $spin
expect "-o into a missing directory" 2 \
	"gilstat: cannot write $tmp/none/out: No such file or directory" \
	$GILSTAT -o "$tmp/none/out" -p $spin
expect "both -p and a command" 2 "gilstat: give either -p PID or a command, not both" \
	$GILSTAT -p $spin -- $SPIN 1 10
expect "neither -p nor a command" 2 \
	"gilstat: nothing to trace: give -p PID or -- COMMAND (see gilstat --help)" $GILSTAT -j
expect "nothing after --" 2 "gilstat: no command after --" $GILSTAT --

# The target: -p.
no_pid=$(($(cat /proc/sys/kernel/pid_max) + 1))
expect "a PID that does not exist" 1 "gilstat: no process with PID $no_pid" $GILSTAT -p $no_pid
expect "a process without gil probes (sleep)" 1 \
	"gilstat: PID $sleeper has no gil probes (libgil is not loaded in $(readlink /proc/$sleeper/exe))" \
	$GILSTAT -p $sleeper
# A child of kthreadd (PID 2), when this PID namespace shows the kernel's threads.
kthread=$(children_of 2 | head -1)
if [ -n "$kthread" ] && ! readlink /proc/$kthread/exe >/dev/null 2>&1; then
	expect "a kernel thread" 1 \
		"gilstat: PID $kthread has no executable (a kernel thread, or exiting)" \
		$GILSTAT -p $kthread
else
	skip_cannot "a kernel thread" "no kernel thread visible in this PID namespace"
fi

# The target: a command. A shell says 127 and 126 for these two; so does gilstat.
expect "a command that does not exist" 127 "gilstat: gilstat-no-such-command: command not found" \
	$GILSTAT -- gilstat-no-such-command
echo data >"$tmp/data"
chmod 644 "$tmp/data"
expect "a command that is not executable" 126 \
	"gilstat: $tmp/data: permission denied (not executable)" $GILSTAT -- "$tmp/data"
printf '#!/bin/sh\nexit 0\n' >"$tmp/script.sh"
chmod 755 "$tmp/script.sh"
expect "a binary that is not ELF (a script)" 1 "gilstat: $tmp/script.sh is not an ELF executable" \
	$GILSTAT -- "$tmp/script.sh"
expect "a command without gil probes (sleep)" 1 \
	"gilstat: $(type -P sleep) has no gil probes (not linked with libgil)" $GILSTAT -- sleep 0

# --python on a process and a command that hold no CPython.
if $GILSTAT --help | grep -q -- '--python'; then
	expect "--python on a libgil process" 1 \
		"gilstat: no CPython interpreter found in PID $spin (no libpython in /proc/$spin/maps and the executable $(readlink /proc/$spin/exe) has no PyEval_SaveThread)" \
		$GILSTAT --python -p $spin
	expect "--python on a command that is no CPython" 1 \
		"gilstat: $(type -P sleep) holds no CPython interpreter (no PyEval_SaveThread, no libpython)" \
		$GILSTAT --python -- sleep 0
else
	skip "--python on a non-Python target" "this gilstat has no --python yet"
fi

# The environment. gilstat's programs read no kernel structure, so a kernel without BTF is no
# error: libbpf must never load the kernel's BTF (it says so in its debug output when it does).
$GILSTAT -v -d 0.2 -p $spin >/dev/null 2>"$tmp/verbose"
check "no kernel BTF is needed: gilstat -v runs without loading it" \
	[ $? -eq 0 -a "$(grep -c 'loading kernel BTF' "$tmp/verbose")" -eq 0 -a \
	  "$(grep -c 'libbpf:' "$tmp/verbose")" -gt 0 ]
# No privileges.
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
if ! command -v setpriv >/dev/null; then
	skip "not root" "setpriv (util-linux) is not installed"
elif ! "${nobody[@]}" test -x "$GILSTAT" -a -r "$OUTPUT/libgil.so"; then
	skip_cannot "not root" "uid 65534 cannot reach $GILSTAT (a checkout in a private directory)"
else
	msg="gilstat: needs root or CAP_SYS_ADMIN, which uprobes require (CAP_BPF and CAP_PERFMON are not enough)"
	expect "not root, no capabilities" 1 "$msg" "${nobody[@]}" $GILSTAT -- $SPIN 1 10
	caps=bpf,+perfmon
	expect "not root, CAP_BPF and CAP_PERFMON only" 1 "$msg" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+$caps \
		--ambient-caps=-all,+$caps --bounding-set=-all,+$caps $GILSTAT -- $SPIN 1 10
	expect "root without CAP_SYS_ADMIN" 1 "$msg" \
		setpriv --inh-caps=-all --bounding-set=-all,+bpf,+perfmon $GILSTAT -p $spin
	# The runtime and its workloads need nothing. They find libgil.so.1 by an absolute path
	# ($ORIGIN), which uid 65534 may not be allowed to walk (a checkout in a home directory of
	# mode 700, as Debian 12 makes them, or in /root): copies run from a directory it can walk.
	chmod 755 "$tmp"
	mkdir -p "$tmp/open/tests"
	cp -L "$GILWORK" "$OUTPUT/libgil.so.1" "$tmp/open/"
	cp -L "$SPIN" "$tmp/open/tests/"
	check "gilwork runs unprivileged" quiet "${nobody[@]}" "$tmp/open/gilwork" cpu --work 100000
	check "a libgil program runs unprivileged" \
		quiet "${nobody[@]}" env GIL_STATS=1 "$tmp/open/tests/gilspin" 2 50
fi

# Output and target going away while tracing.
$GILSTAT -p $spin 1 2>"$tmp/pipe.err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
check "stdout closed early (| head -1): exit 1, 'gilstat: cannot write the report: Broken pipe'" \
	[ $rc -eq 1 -a "$(tail -1 "$tmp/pipe.err")" = "gilstat: cannot write the report: Broken pipe" ]

$SPIN 1 0 >/dev/null &
short=$!
wait_mapped $short libgil
$GILSTAT -j -p $short >"$tmp/exit.json" 2>"$tmp/exit.err" &
g=$!
wait_attached "$tmp/exit.err"
kill $short
wait $g
rc=$?
# Not an error: the report covers the process's whole life from the attach on.
check "a PID that exits while traced: exit 0, 'gilstat: PID $short exited', the final report" \
	[ $rc -eq 0 -a "$(tail -1 "$tmp/exit.err")" = "gilstat: PID $short exited" \
	  -a "$(python3 tests/jsoncheck.py get "$tmp/exit.json" final)" = True ]

# gilwork's own argument errors.
expect "gilwork: unknown option" 2 "gilwork: unknown option '--frobnicate' (see --help)" \
	$GILWORK cpu --frobnicate
expect "gilwork: missing value" 2 "gilwork: --threads needs a value" $GILWORK cpu --threads
expect "gilwork: option that does not apply" 2 "gilwork: io does no cpu_work: --work does not apply" \
	$GILWORK io --work 10
expect "gilwork: extra argument" 2 "gilwork: unexpected argument 'extra' after the scenario cpu" \
	$GILWORK cpu extra
expect "gilwork: --work and --seconds" 2 "gilwork: cpu: give --work or --seconds, not both" \
	$GILWORK cpu --work 10 --seconds 1

check "the -p target is still running" kill -0 $spin
check_schema "$tmp"/*.json
done_testing
