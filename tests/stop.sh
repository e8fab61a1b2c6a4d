#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: alone
# gilstat -a's look at a new process reads files that process's owner chose. Here the owner maps
# a stripped "libpython3.7m" whose .gnu_debuglink names 1 GiB files beside it and in .debug/, and
# keeps starting such processes: each look hashes up to 2 GiB. Checked: a look that runs past its
# budget gives its process up with one line; SIGTERM and SIGINT, sent while such looks run and a
# libgil program and a CPython are traced, end gilstat with its final report. The times from the signal to the report and to the exit are
# printed; the report must come within STOP_LIMIT_MS (1000: tens of ms here, on a busy machine),
# the exit within EXIT_LIMIT_MS (10000: the kernel's uprobe removal takes what it takes).
set -u
. "$(dirname "$0")/lib.sh"
make_tmp
need_root "gilstat -a ends at a stop signal"
STOP_LIMIT_MS=${STOP_LIMIT_MS:-1000}
EXIT_LIMIT_MS=${EXIT_LIMIT_MS:-10000}

for tool in gcc strip objcopy; do
	command -v $tool >/dev/null || { skip "gilstat -a ends at a stop signal" "no $tool"; done_testing; }
done
mkdir -p "$tmp/lib/.debug"
printf 'void PyEval_SaveThread(void) {}\nvoid PyEval_RestoreThread(void) {}\n' >"$tmp/py.c"
gcc -shared -fPIC -O1 -o "$tmp/full.so" "$tmp/py.c"
strip -o "$tmp/stripped.so" "$tmp/full.so"
echo small >"$tmp/lib/libpython3.7m.debug"
objcopy --add-gnu-debuglink="$tmp/lib/libpython3.7m.debug" "$tmp/stripped.so" \
	"$tmp/lib/libpython3.7m.so.1.0"
truncate -s 1G "$tmp/lib/libpython3.7m.debug"
truncate -s 1G "$tmp/lib/.debug/libpython3.7m.debug"
printf '#include <unistd.h>\nvoid PyEval_SaveThread(void);\nint main(void) { PyEval_SaveThread(); pause(); return 0; }\n' >"$tmp/mapper.c"
gcc -o "$tmp/mapper" "$tmp/mapper.c" -L"$tmp/lib" -l:libpython3.7m.so.1.0 -Wl,-rpath,"$tmp/lib"

# spawn N: a new mapper every 0.1 s, so that some look is always under way; their PIDs in
# $tmp/mappers.N
spawn() {
	while :; do
		"$tmp/mapper" >/dev/null 2>&1 &
		echo $! >>"$tmp/mappers.$1"
		sleep 0.1
	done
}

# both_traced ERR: gilstat -a's log ERR says libgil's probes and a CPython are attached
both_traced() {
	grep -q "libgil's probes in .* attached for every process" "$1" &&
		grep -q "^gilstat: PID [0-9]* (python3[.0-9]*) traced: " "$1"
}

# stop_run SIGNAL N: gilstat -a, the mappers, SIGNAL once a look has been given up
stop_run() {
	local sig=$1 n=$2 pid spawner start end rc report report_ms exit_ms traced
	# traced programs, so that the exit takes their links down: libgil's and a CPython's
	$GILWORK convoy --seconds 120 >/dev/null 2>&1 &
	traced=$!
	/usr/bin/python3 -c 'import threading, time
threading.Thread(target=time.sleep, args=(120,)).start()
time.sleep(120)' &
	traced="$traced $!"
	$GILSTAT -a -v >"$tmp/out.$n" 2>"$tmp/err.$n" &
	pid=$!
	if ! wait_attached "$tmp/err.$n"; then
		not_ok "$sig $n: gilstat -a attached"
		kill -KILL $pid 2>/dev/null
		return
	fi
	spawn "$n" &
	spawner=$!
	wait_for 60 grep -q 'given up: reading its files took more than' "$tmp/err.$n"
	check "$sig $n: the libgil program and the CPython are traced meanwhile" \
		wait_for 30 both_traced "$tmp/err.$n"
	check "$sig $n: a look past its budget gives its process up, in one line" \
		grep -q "^gilstat: PID [0-9]* given up: reading its files took more than 500 ms$" \
		"$tmp/err.$n"
	# and the next looks are under way again
	sleep 0.3
	start=$(date +%s%N)
	kill -"$sig" $pid
	report=
	while kill -0 $pid 2>/dev/null; do
		[ -z "$report" ] && grep -q '^Traced ' "$tmp/out.$n" && report=$(date +%s%N)
		sleep 0.01
	done
	wait $pid
	rc=$?
	end=$(date +%s%N)
	report=${report:-$end}
	kill $spawner
	wait $spawner 2>/dev/null
	xargs kill -KILL <"$tmp/mappers.$n" 2>/dev/null
	kill $traced 2>/dev/null
	wait $traced 2>/dev/null
	report_ms=$(((report - start) / 1000000))
	exit_ms=$(((end - start) / 1000000))
	echo "# $sig $n: the final report $report_ms ms after the signal, the exit $exit_ms ms after it"
	check "$sig $n: gilstat -a exits 0 after the signal" [ $rc -eq 0 ]
	check "$sig $n: with its final report" grep -q '^Traced ' "$tmp/out.$n"
	check "$sig $n: the report within $STOP_LIMIT_MS ms ($report_ms ms)" \
		[ $report_ms -lt "$STOP_LIMIT_MS" ]
	# the exit waits for the kernel to take the uprobes of every traced process out, which a
	# loaded machine makes slow: only a hang fails
	check "$sig $n: the exit within $EXIT_LIMIT_MS ms ($exit_ms ms)" [ $exit_ms -lt "$EXIT_LIMIT_MS" ]
}

stop_run TERM 1
stop_run INT 2
stop_run TERM 3
done_testing
