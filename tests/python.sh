#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: long
# gilstat --python against the real CPython interpreters on this machine: the tutorial's programs
# (tests/python/) under each, asserting what the GIL does, never exact timings (CI has two cores
# and may be busy): two CPU-bound threads change hands about once per 5 ms switch interval, each
# time on a forced switch; two sleeping threads hardly wait; an I/O thread next to a spinning one
# waits milliseconds for the GIL after each blocking call (the convoy effect).
# 3.8 and later, pyenv's builds (with symbols) and Debian's stripped LTO python3.11 alike, are
# seen through libc's pthread_cond_* on the GIL; 3.6 and 3.7 through take_gil/drop_gil; Debian's
# with --python-probes=symbols through PyEval_SaveThread/RestoreThread only. Absent ones are
# skipped. cpu_work runs under every version (each has its own forced site), io_work and the
# convoy under 3.9, 3.11, 3.12, 3.13 and Debian's. Then -p, --python=PATH, a pyenv shim, thread
# churn and targets that are not CPython.
set -u
. "$(dirname "$0")/lib.sh"
PROGS=$(dirname "$0")/python
PYENV_VERSIONS=${PYENV_ROOT:-/root/.pyenv}/versions
DEBIAN_PYTHON=/usr/bin/python3.11
GIL_VIEW=take_gil/drop_gil
COND_VIEW="pthread_cond_signal/pthread_cond_timedwait on the GIL"
THREADSTATE_VIEW=PyEval_SaveThread/PyEval_RestoreThread
make_tmp
need_root "gilstat --python"

# jchecks FILE [NAME=NUMBER...] -- WHAT EXPR [WHAT EXPR...]: one test per WHAT, passing when its
# EXPR, in Python, holds for the last JSON report in FILE. EXPR sees the report as r, the NAMEs
# as numbers (None when empty) and these helpers:
#   ms(h)      waits (or holds) of histogram h of 1 ms or more (the buckets from 1024 us up)
#   ms_ns(h)   the least time those add up to (bucket bounds are in ns)
#   group(tid) the -L section of one thread
# One python3 for all of a report's tests: on a busy machine each start costs. With JQUIET set,
# only the failed tests are printed, as comments, and the status says whether all passed.
jchecks() {
	local file=$1 line result
	local vars=()
	shift
	while [ "$1" != "--" ]; do
		vars+=("$1")
		shift
	done
	shift
	result=$(python3 - "$file" "${#vars[@]}" "${vars[@]}" "$@" <<-'EOF'
		import json, sys
		path, nvars = sys.argv[1], int(sys.argv[2])
		names = {}
		for a in sys.argv[3:3 + nvars]:
		    k, v = a.split("=", 1)
		    names[k] = float(v) if v else None
		checks = sys.argv[3 + nvars:]
		try:
		    r = json.loads(open(path).read().strip().splitlines()[-1])
		except Exception as e:
		    r = None
		    print("# no report in %s: %r" % (path, e))
		def ms(h):
		    return sum(b["count"] for b in h["buckets"] if b["low"] >= 1024000)
		def ms_ns(h):
		    return sum(b["count"] * b["low"] for b in h["buckets"] if b["low"] >= 1024000)
		def group(tid):
		    return [g for g in r["groups"] if g["tid"] == tid][0]
		failed = False
		for what, expr in zip(checks[0::2], checks[1::2]):
		    try:
		        good = bool(eval("(" + expr + ")", globals(), names))
		    except Exception as e:
		        good = False
		        print("# %r" % e)
		    print(("ok " if good else "not ok ") + what)
		    if not good:
		        failed = True
		        print("# " + " ".join(expr.split()) + "   with " + repr(names))
		if failed and r:
		    r.pop("per_cpu", None)
		    for g in r.pop("groups", []):
		        print("# group " + json.dumps(g))
		    print("# " + json.dumps(r))
		EOF
	)
	if [ -n "${JQUIET:-}" ]; then
		grep '^not ok ' <<<"$result" | sed 's/^not ok /# failed: /'
		! grep -q '^not ok ' <<<"$result"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok }" ;;
		"not ok "*) not_ok "${line#not ok }" ;;
		*) echo "$line" ;;
		esac
	done <<<"$result"
}

# retry WHAT RUN CHECKS: RUN (a program under gilstat), then CHECKS (its jchecks) without output;
# if they fail, RUN again, three times at most, and CHECKS reports the last run. A busy CI
# machine can keep a thread off the CPUs for 200 ms, which no count of switches survives; a
# fault of gilstat's fails every time.
retry() {
	local what=$1 run=$2 checks=$3 attempt
	for attempt in 1 2 3; do
		$run
		[ $attempt -eq 3 ] && break
		JQUIET=1 $checks && break
		echo "# $what: run $attempt failed its checks, once more"
	done
	$checks
}

# value OUT KEY: the number after "KEY" in a program's output.
value() { sed -n "s/^$2 //p" "$1" | tail -1; }

# The interpreters: NAME PYTHON, one per line.
pythons=$tmp/pythons
: >"$pythons"
for minor in 6 7 8 9 10 11 12 13; do
	py=$(ls -d "$PYENV_VERSIONS"/3.$minor.*/bin/python3.$minor 2>/dev/null | sort -V | tail -1)
	if [ -n "$py" ] && [ -x "$py" ]; then
		echo "3.$minor $py" >>"$pythons"
	else
		skip_pyenv "CPython 3.$minor" "no pyenv build in $PYENV_VERSIONS/3.$minor.*"
	fi
done
if [ -x "$DEBIAN_PYTHON" ]; then
	echo "debian-3.11 $DEBIAN_PYTHON" >>"$pythons"
else
	skip "Debian's python3.11" "$DEBIAN_PYTHON is not installed"
fi

sums="all(sum(c[k] for c in r['per_cpu']) == r[k] for k in
	['acquisitions', 'switches', 'forced_switches', 'drop_requests', 'releases'])"

# cpu_work: two threads adding 5,000,000 numbers each.
cpu_run() {
	out=$tmp/$name-cpu
	$GILSTAT --python $probes -j -o "$out.json" -- "$py" $PROGS/cpu_work.py 5000000 >"$out.out" \
		2>"$out.err"
	rc=$?
	elapsed=$(value "$out.out" elapsed)
}
cpu_checks() {
	if [ "$view" != "$THREADSTATE_VIEW" ]; then
		jchecks "$out.json" rc="$rc" elapsed="$elapsed" -- \
			"$name cpu_work: gilstat runs it and exits 0" "rc == 0" \
			"$name cpu_work: the view is $view" "r['view'] == '$view'" \
			"$name cpu_work: per-CPU counts add up to the totals" "$sums" \
			"$name cpu_work: dozens of switches, most of them forced" \
			"r['switches'] >= 20 and 2 * r['forced_switches'] >= r['switches']" \
			"$name cpu_work: about one forced switch per 5 ms of its ${elapsed}s" \
			"elapsed / 0.005 / 8 <= r['forced_switches'] <= elapsed / 0.005 + 3" \
			"$name cpu_work: waits of a switch interval (at least 10 of 1 ms or more)" \
			"ms(r['wait_ns']) >= 10" \
			"$name cpu_work: every event complete (nothing dropped)" \
			"r['dropped_total'] == 0"
	else
		# Only the main thread's blocking calls (starting and joining the threads) may
		# wait behind a CPU-bound thread, not the switches every 5 ms.
		jchecks "$out.json" rc="$rc" -- \
			"$name cpu_work: gilstat runs it and exits 0" "rc == 0" \
			"$name cpu_work: the view is $view" "r['view'] == '$view'" \
			"$name cpu_work: per-CPU counts add up to the totals" "$sums" \
			"$name cpu_work: no forced switch or drop request is claimed" \
			"r['forced_switches'] == 0 and r['drop_requests'] == 0" \
			"$name cpu_work: the note says what the view cannot see" \
			"'forced switches' in r['note']" \
			"$name cpu_work: no waits per switch interval (at most 6 of 1 ms or more)" \
			"ms(r['wait_ns']) <= 6"
	fi
}

# io_work: two threads sleeping 0.3 s each, together.
io_run() {
	out=$tmp/$name-io
	$GILSTAT --python -j -o "$out.json" -- "$py" $PROGS/io_work.py 0.3 >"$out.out" 2>"$out.err"
	rc=$?
	elapsed=$(value "$out.out" elapsed)
}
io_checks() {
	jchecks "$out.json" rc="$rc" elapsed="$elapsed" -- \
		"$name io_work: gilstat runs it and exits 0" "rc == 0" \
		"$name io_work: the two 0.3 s sleeps overlap (${elapsed}s)" "elapsed < 0.45" \
		"$name io_work: waits near zero (p50 < 1 ms, at most 3 of 1 ms or more)" \
		"r['wait_ns']['count'] > 0 and r['wait_ns']['p50'] < 1e6 and ms(r['wait_ns']) <= 3"
}

# convoy: 50 echo round trips of an I/O thread next to a spinning thread, per thread.
convoy_run() {
	out=$tmp/$name-convoy
	$GILSTAT --python $probes -L -j -o "$out.json" -- "$py" $PROGS/convoy.py 50 >"$out.out" \
		2>"$out.err"
	rc=$?
	t=$(value "$out.out" io_tid)
	echo "# $name convoy: round trip in ms, $(value "$out.out" round_trip_ms)"
}
convoy_checks() {
	local forced forced_what
	if [ "$view" != "$THREADSTATE_VIEW" ]; then
		forced="group(t)['forced_switches'] >= 10"
		forced_what="the spinning thread is forced to let the I/O thread in"
	else
		forced="r['forced_switches'] == 0 and r['drop_requests'] == 0"
		forced_what="no forced switch is claimed"
	fi
	jchecks "$out.json" rc="$rc" t="$t" -- \
		"$name convoy: gilstat runs it and exits 0" "rc == 0" \
		"$name convoy: the I/O thread ($t) pays milliseconds for the GIL (>= 10 waits)" \
		"ms(group(t)['wait_ns']) >= 10" \
		"$name convoy: most of the I/O thread's waiting is in those waits" \
		"ms_ns(group(t)['wait_ns']) >= group(t)['wait_ns']['total'] / 2" \
		"$name convoy: the threads' counts add up to the totals" \
		"${sums//per_cpu/groups}" \
		"$name convoy: $forced_what" "$forced"
}

# per_interpreter NAME: the programs under one interpreter. Two interpreters run at once: each
# run also waits (the interpreter's start, gilstat's attach and detach), and retry() covers a
# run whose threads the other kept off the CPUs.
per_interpreter() {
	local name=$1 py probes= view=$COND_VIEW
	py=$(awk -v n="$name" '$1 == n { print $2 }' "$pythons")
	case $name in 3.6 | 3.7) view=$GIL_VIEW ;; esac
	retry "$name cpu_work" cpu_run cpu_checks
	# The other programs take the same paths in every version: the ones of the issue will do.
	case $name in 3.9 | 3.11 | 3.12 | 3.13 | debian-3.11) ;; *) return ;; esac
	retry "$name io_work" io_run io_checks
	retry "$name convoy" convoy_run convoy_checks
	# The interpreter's own symbols: take_gil/drop_gil, or the C API of a stripped build.
	case $name in 3.12 | debian-3.11) ;; *) return ;; esac
	probes=--python-probes=symbols
	view=$GIL_VIEW
	[ "$name" = debian-3.11 ] && view=$THREADSTATE_VIEW
	name="$name (symbols)"
	retry "$name cpu_work" cpu_run cpu_checks
	retry "$name convoy" convoy_run convoy_checks
}
in_parallel "${PYTHON_JOBS:-2}" per_interpreter $(awk '{ print $1 }' "$pythons")

py312=$(awk '$1 == "3.12" { print $2 }' "$pythons")
if [ -n "$py312" ]; then
	lib312=$(dirname "$(dirname "$py312")")/lib/libpython3.12.so.1.0

	# -p: two threads spinning since before the attach. Every release is forced, also the
	# first of the thread that held the GIL when the probes came.
	: >"$tmp/p.out"
	"$py312" $PROGS/spin.py >"$tmp/p.out" &
	target=$!
	for _ in $(seq 50); do grep -q ready "$tmp/p.out" && break; sleep 0.1; done
	p_run() {
		$GILSTAT --python -p $target -d 1 -L -j -o "$tmp/p.json" 2>"$tmp/p.err"
		rc=$?
	}
	p_checks() {
		jchecks "$tmp/p.json" rc="$rc" -- \
			"3.12 -p: gilstat attaches, exits 0 after -d 1" "rc == 0" \
			"3.12 -p: one final report of about 1 s" \
			"r['final'] and 0.9e9 <= r['duration_ns'] < 3e9" \
			"3.12 -p: dozens of forced switches, every release but the first forced" \
			"r['forced_switches'] >= 20 and r['voluntary_releases'] <= 1 and
			 r['drop_requests'] >= r['forced_switches']" \
			"3.12 -p: each thread's drop requests are counted (-L)" \
			"sum(g['drop_requests'] for g in r['groups']) == r['drop_requests']"
	}
	retry "3.12 -p" p_run p_checks
	check "3.12 -p: the target runs on after gilstat" kill -0 $target
	$GILSTAT --python=/usr/bin/python3.11 -p $target -d 1 >"$tmp/other.out" 2>"$tmp/other.err"
	rc=$?
	check "3.12 -p --python=PATH not mapped in the process: one line, exit 1" \
		[ $rc -eq 1 -a "$(wc -l <"$tmp/other.err")" -eq 1 -a ! -s "$tmp/other.out" ]
	kill $target
	wait $target 2>/dev/null

	# --python=PATH: the interpreter behind a command that does not say (sh -c).
	$GILSTAT --python -j -o "$tmp/sh.json" -- sh -c "exec $py312 $PROGS/cpu_work.py 1000" \
		>/dev/null 2>"$tmp/sh.err"
	check "3.12 sh -c: without PATH, sh holds no CPython: exit 1" [ $? -eq 1 ]
	for path in "$py312" "$lib312"; do
		$GILSTAT --python="$path" -j -o "$tmp/path.json" -- \
			sh -c "exec $py312 $PROGS/cpu_work.py 1000000" >/dev/null 2>"$tmp/path.err"
		check "3.12 --python=$path -- sh -c ...: exits 0" [ $? -eq 0 ]
		jchecks "$tmp/path.json" -- \
			"3.12 --python=$path: probes in $lib312, switches seen" \
			"r['probes'] == '$lib312' and r['switches'] > 0"
	done

	# A process that has started more threads than the BPF side keeps still has its newest
	# threads seen: 17,000 short threads, then two CPU-bound ones. A thread not seen leaves its
	# releases without a start (dropped) and fewer acquisitions than releases.
	$GILSTAT --python -j -o "$tmp/churn.json" -- "$py312" -c '
import runpy, sys, threading
for _ in range(17000):
    t = threading.Thread(target=int)
    t.start()
    t.join()
sys.argv = ["cpu_work.py", "1000000"]
runpy.run_path("'$PROGS'/cpu_work.py")' >/dev/null 2>"$tmp/churn.err"
	check "3.12 thread churn: gilstat exits 0" [ $? -eq 0 ]
	python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("# churn: %d acquisitions, %d releases, dropped %s" % (r["acquisitions"], r["releases"],
      {k: v for k, v in r["dropped"].items() if v}))' "$tmp/churn.json"
	jchecks "$tmp/churn.json" -- \
		"3.12 thread churn: every thread seen to the last (nothing dropped)" \
		"r['dropped_total'] == 0 and r['acquisitions'] == r['releases'] > 34000"
else
	skip_pyenv "-p, --python=PATH and thread churn on CPython 3.12" "no pyenv 3.12"
fi

# A thread's entries in the BPF maps go at its end: 3000 short threads started beside a CPU-bound
# one, dozens of them waiting for the GIL, leave no more than the live threads' entries behind,
# read from gilstat's own maps while the process sleeps at the end (before: one per waiter).
if ! command -v bpftool >/dev/null; then
	skip "thread ends free their map entries" "bpftool is not installed (scripts/deps.sh installs it)"
elif [ -x "$DEBIAN_PYTHON" ]; then
	"$GILSTAT" --python -d 30 -- "$DEBIAN_PYTHON" -c '
import sys, threading, time
sys.setswitchinterval(0.0001)
stop = False
def spin():
    while not stop:
        pass
cpu = threading.Thread(target=spin)
cpu.start()
for _ in range(3000):
    t = threading.Thread(target=int)
    t.start()
    t.join()
stop = True
cpu.join()
open(sys.argv[1], "w").close()
time.sleep(30)' "$tmp/churned" >/dev/null 2>&1 &
	churn_gilstat=$!
	for _ in $(seq 600); do [ -e "$tmp/churned" ] && break; sleep 0.1; done
	entries=
	for id in $(bpf_objects_of "$churn_gilstat" | awk '$1 == "map" { print $2 }'); do
		name=$(bpftool map show id "$id" | sed -n 's/.* name \([a-z_]*\) .*/\1/p')
		case $name in
		waiters | py_threads)
			entries+="$name=$(bpftool -j map dump id "$id" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') "
			;;
		esac
	done
	kill -INT "$churn_gilstat" 2>/dev/null
	wait "$churn_gilstat"
	check "3000 short threads: the entries of those that waited went at their ends ($entries)" \
		python3 -c 'import sys; d = dict(a.split("=") for a in sys.argv[1:]);
sys.exit(not (set(d) == {"waiters", "py_threads"} and all(int(v) <= 10 for v in d.values())))' $entries
fi

# A pyenv shim is a bash script: the interpreter it picks is the one traced.
py39=$(awk '$1 == "3.9" { print $2 }' "$pythons")
shims=${PYENV_ROOT:-/root/.pyenv}/shims
if [ -n "$py39" ] && [ -x "$shims/python3" ]; then
	lib39=$(dirname "$(dirname "$py39")")/lib/libpython3.9.so.1.0
	PATH=$shims:$PATH PYENV_VERSION=$(basename "$(dirname "$(dirname "$py39")")") \
		$GILSTAT --python -j -o "$tmp/shim.json" -- python3 $PROGS/cpu_work.py 1000000 \
		>/dev/null 2>"$tmp/shim.err"
	check "pyenv shim python3 (PYENV_VERSION=3.9): exits 0" [ $? -eq 0 ]
	jchecks "$tmp/shim.json" -- \
		"pyenv shim python3 (PYENV_VERSION=3.9): probes in $lib39" \
		"r['probes'] == '$lib39' and r['acquisitions'] > 0"
else
	skip_pyenv "pyenv shim" "no $shims/python3 or no pyenv 3.9"
fi

# A free-threaded build runs without its GIL by default: one line, the program runs. With
# PYTHON_GIL=1 it has a GIL, which is traced. No free-threaded build can be had here: a real one
# when pyenv has it, else tests/helpers/fake_python_ft.c, a stripped 3.14t as far as its ELF and
# _Py_DebugOffsets go.
pyt=$(ls -d "$PYENV_VERSIONS"/3.1[3-9]*t/bin/python3.1[3-9]t 2>/dev/null | tail -1)
[ -n "$pyt" ] || pyt=$OUTPUT/tests/fake_python_ft
$GILSTAT --python -- "$pyt" $PROGS/io_work.py 0.1 >"$tmp/ft.out" 2>"$tmp/ft.err"
check "free-threaded $pyt: exits 0" [ $? -eq 0 ]
check "free-threaded $pyt: says there is no GIL to measure" \
	grep -q "this interpreter runs without a GIL (free-threaded build)" "$tmp/ft.out"
PYTHON_GIL=1 $GILSTAT --python -j -o "$tmp/ftg.json" -- "$pyt" $PROGS/io_work.py 0.1 \
	>/dev/null 2>"$tmp/ftg.err"
check "free-threaded $pyt, PYTHON_GIL=1: traced, exits 0" \
	[ $? -eq 0 -a -s "$tmp/ftg.json" ]

if [ -x "$DEBIAN_PYTHON" ]; then
	# The stripped build's own symbols, in text: the note line says what they cannot show,
	# and no utilisation is made of the releases they miss.
	$GILSTAT --python --python-probes=symbols -- "$DEBIAN_PYTHON" $PROGS/io_work.py 0.3 \
		>"$tmp/text.out" 2>/dev/null
	check "debian-3.11 text report (symbols): a note line on what the view cannot see" \
		grep -q "^note: .*forced switches" "$tmp/text.out"
	check "debian-3.11 text report (symbols): utilisation not measured, and why" \
		grep -q "^GIL utilisation and contention: not measured: " "$tmp/text.out"

	# -p on the stripped build: the sleeping thread's waits behind the spinning one are seen.
	: >"$tmp/dp.out"
	"$DEBIAN_PYTHON" $PROGS/spin.py io >"$tmp/dp.out" &
	target=$!
	for _ in $(seq 50); do grep -q ready "$tmp/dp.out" && break; sleep 0.1; done
	dp_run() {
		$GILSTAT --python -p $target -d 1 -j -o "$tmp/dp.json" 2>"$tmp/dp.err"
		rc=$?
	}
	dp_checks() {
		jchecks "$tmp/dp.json" rc="$rc" -- \
			"debian-3.11 -p: gilstat attaches, exits 0 after -d 1" "rc == 0" \
			"debian-3.11 -p: the sleeping thread's waits of 1 ms or more, forced switches" \
			"r['view'] == '$COND_VIEW' and ms(r['wait_ns']) >= 20 and
			 r['forced_switches'] >= 20"
	}
	retry "debian-3.11 -p" dp_run dp_checks
	kill $target
	wait $target 2>/dev/null
fi

# Not a CPython: one line, no report, exit 1 (127 stays for a command that is not there).
$GILSTAT --python -- sleep 5 >"$tmp/np.out" 2>"$tmp/np.err"
rc=$?
check "--python -- sleep: one line, exit 1 ($(cat "$tmp/np.err"))" \
	[ $rc -eq 1 -a "$(wc -l <"$tmp/np.err")" -eq 1 -a ! -s "$tmp/np.out" ]
sleep 5 &
$GILSTAT --python -p $! -d 1 >"$tmp/np.out" 2>"$tmp/np.err"
rc=$?
kill $!
check "--python -p (sleep): one line, exit 1" \
	[ $rc -eq 1 -a "$(wc -l <"$tmp/np.err")" -eq 1 -a ! -s "$tmp/np.out" ]

check_schema "$tmp"/*.json
done_testing
