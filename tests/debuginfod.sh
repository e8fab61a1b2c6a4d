#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: long
# gilstat --python on a stripped libpython whose symbols are elsewhere: served by a real debuginfod
# (elfutils), beside it through .gnu_debuglink, or in the build-id tree. pyenv's CPython 3.12 keeps
# its symbols: objcopy --only-keep-debug gives the debug file, strip --strip-all the stripped copy,
# which LD_LIBRARY_PATH puts before the original. The ground truth is the unstripped build running
# the same loop of os.read calls: every acquisition must be seen again, exactly. Then the bad
# cases: --no-debuginfod, a server that never answers, one that answers garbage, a debug file of
# another build; each says so in one line and the run goes on with the exported functions.
# debuginfod 0.188 cannot listen on loopback alone, so the whole script runs in a network
# namespace of its own with only lo, and a mount namespace in which a scratch directory is
# /usr/lib/debug: no traffic can leave the machine and no system directory is written.
set -u
. "$(dirname "$0")/lib.sh"
PYENV_VERSIONS=${PYENV_ROOT:-/root/.pyenv}/versions
GIL_VIEW=take_gil/drop_gil
THREADSTATE_VIEW=PyEval_SaveThread/PyEval_RestoreThread
# os.read calls of one byte on /dev/zero: one GIL release and acquisition each
LOOP_N=20000
SERVER_PORT=8002
SILENT_PORT=8003
GARBAGE_PORT=8004

if [ "$(id -u)" -ne 0 ]; then
	skip "debuginfod" "needs root to load BPF programs"
	done_testing
fi
need_tools "debuginfod" debuginfod unshare objcopy strip readelf timeout
py=$(ls -d "$PYENV_VERSIONS"/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -1)
if [ -z "$py" ]; then
	skip_pyenv "debuginfod" "no pyenv CPython 3.12 in $PYENV_VERSIONS"
	done_testing
fi
if [ -z "${GILSTAT_TEST_NAMESPACES:-}" ]; then
	if ! unshare --net --mount true 2>/dev/null; then
		skip "debuginfod" "cannot make a private network namespace (unshare --net)"
		done_testing
	fi
	GILSTAT_TEST_NAMESPACES=1 exec unshare --net --mount bash "$0" "$@"
fi
ip link set lo up
GILSTAT=$(realpath "$GILSTAT")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
unset DEBUGINFOD_URLS DEBUGINFOD_TIMEOUT
export DEBUGINFOD_CACHE_PATH=$tmp/cache

lib=$(dirname "$(dirname "$py")")/lib/libpython3.12.so.1.0
name=$(basename "$lib")
build_id=$(readelf -n "$lib" | sed -n 's/.*Build ID: //p')
mkdir -p "$tmp/stripped" "$tmp/link" "$tmp/wrong" "$tmp/srv" "$tmp/root" \
	"$tmp/garbage/buildid/$build_id"
objcopy --only-keep-debug "$lib" "$tmp/srv/$name.debug"
strip --strip-all -o "$tmp/stripped/$name" "$lib"
cp "$tmp/srv/$name.debug" "$tmp/link/"
objcopy --add-gnu-debuglink="$tmp/link/$name.debug" "$tmp/stripped/$name" "$tmp/link/$name"
echo "<html><body>502 Bad Gateway</body></html>" >"$tmp/garbage/buildid/$build_id/debuginfo"
# another build's debug file under the name and CRC32 the debuglink asks for
other=$(ls -d "$PYENV_VERSIONS"/3.13.*/lib/libpython3.13.so.1.0 \
	"$PYENV_VERSIONS"/3.11.*/lib/libpython3.11.so.1.0 2>/dev/null | tail -1)
if [ -n "$other" ]; then
	objcopy --only-keep-debug "$other" "$tmp/wrong/$name.debug"
	objcopy --add-gnu-debuglink="$tmp/wrong/$name.debug" "$tmp/stripped/$name" \
		"$tmp/wrong/$name"
fi

prog="import os, sys
fd = os.open('/dev/zero', os.O_RDONLY)
for _ in range(int(sys.argv[1])):
    os.read(fd, 1)"

# trace OUT LIBDIR N [GILSTAT OPTIONS...]: the loop of N reads under gilstat, with LIBDIR (if
# not empty) before pyenv's lib; OUT.json, OUT.err, OUT.rc and OUT.sec (how long it took).
trace() {
	local out=$1 libdir=$2 n=$3 start
	shift 3
	start=$(date +%s.%N)
	LD_LIBRARY_PATH=$libdir timeout 120 "$GILSTAT" --python --python-probes=symbols -j \
		-o "$out.json" "$@" -- \
		"$py" -c "$prog" "$n" >/dev/null 2>"$out.err"
	echo $? >"$out.rc"
	awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b - a }' >"$out.sec"
}

# listening PORT: something listens on 127.0.0.1:PORT.
listening() { [ -n "$(ss -Hltn "sport = :$1")" ]; }

# field OUT KEY: a number or string of the final JSON report
field() {
	python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(r[sys.argv[2]])' "$1.json" "$2" 2>/dev/null
}

# same_as_unstripped WHAT OUT: the report of OUT is the reference's, acquisition for acquisition
same_as_unstripped() {
	local what=$1 out=$2
	check "$what: gilstat exits 0" [ "$(cat "$out.rc")" -eq 0 ]
	check "$what: probes in the stripped copy ($(field "$out" probes))" \
		[ "$(field "$out" probes)" != "$lib" ]
	check "$what: the $GIL_VIEW view" [ "$(field "$out" view)" = "$GIL_VIEW" ]
	for key in acquisitions releases switches dropped_total; do
		check "$what: $key $(field "$out" "$key"), as unstripped ($(field "$tmp/ref" "$key"))" \
			[ "$(field "$out" "$key")" = "$(field "$tmp/ref" "$key")" ]
	done
}

# degraded WHAT OUT PATTERN: the exported functions only, said in the note and in one line
# matching PATTERN on stderr
degraded() {
	local what=$1 out=$2 pattern=$3
	check "$what: gilstat exits 0 and reports" \
		[ "$(cat "$out.rc")" -eq 0 -a -n "$(field "$out" acquisitions)" ]
	check "$what: the $THREADSTATE_VIEW view, with its note" \
		[ "$(field "$out" view)" = "$THREADSTATE_VIEW" -a -n "$(field "$out" note)" ]
	check "$what: one line says so ($(grep -m1 -E "$pattern" "$out.err"))" \
		[ "$(grep -cE "$pattern" "$out.err")" -eq 1 ]
}

# The ground truth: the unstripped build, the loop of N and the loop of 1.
trace "$tmp/ref" "" $LOOP_N
trace "$tmp/ref1" "" 1
check "unstripped: the $GIL_VIEW view" [ "$(field "$tmp/ref" view)" = "$GIL_VIEW" ]
check "unstripped: $LOOP_N reads are $LOOP_N acquisitions more than 1 read" \
	[ $(($(field "$tmp/ref" acquisitions) - $(field "$tmp/ref1" acquisitions))) -eq $((LOOP_N - 1)) ]

# A real debuginfod serving the debug file, on this namespace's loopback.
debuginfod -F -p $SERVER_PORT -d "$tmp/debuginfod.sqlite" -t 0 -g 0 "$tmp/srv" \
	>"$tmp/debuginfod.log" 2>&1 &
server=$!
served=false
for _ in $(seq 120); do
	if DEBUGINFOD_URLS=http://127.0.0.1:$SERVER_PORT DEBUGINFOD_CACHE_PATH=$tmp/poll \
		timeout 10 debuginfod-find debuginfo "$build_id" >/dev/null 2>&1; then
		served=true
		break
	fi
	rm -rf "$tmp/poll"
	sleep 0.5
done
if $served; then
	DEBUGINFOD_URLS=http://127.0.0.1:$SERVER_PORT trace "$tmp/d" "$tmp/stripped" $LOOP_N -v
	same_as_unstripped "debuginfod" "$tmp/d"
	check "debuginfod: -v names the server ($(grep -m1 'symbols of' "$tmp/d.err"))" \
		grep -q "symbols of .* from debuginfod http://127.0.0.1:$SERVER_PORT/" "$tmp/d.err"
	DEBUGINFOD_URLS=http://127.0.0.1:$SERVER_PORT trace "$tmp/d1" "$tmp/stripped" 1
	check "debuginfod: $LOOP_N reads are $LOOP_N acquisitions more than 1 read" \
		[ $(($(field "$tmp/d" acquisitions) - $(field "$tmp/d1" acquisitions))) -eq \
		$((LOOP_N - 1)) ]

	DEBUGINFOD_URLS=http://127.0.0.1:$SERVER_PORT DEBUGINFOD_CACHE_PATH=$tmp/cache-off \
		trace "$tmp/off" "$tmp/stripped" $LOOP_N --no-debuginfod
	degraded "--no-debuginfod" "$tmp/off" "no symbol table .*debuginfod off \(--no-debuginfod\)"
	check "--no-debuginfod: nothing asked of the server (no cache made)" \
		[ ! -e "$tmp/cache-off" ]
	check "--no-debuginfod: fewer acquisitions seen than exist" \
		[ "$(field "$tmp/off" acquisitions)" -lt "$(field "$tmp/ref" acquisitions)" ]
else
	not_ok "debuginfod did not serve $build_id within 60 s: $(tail -3 "$tmp/debuginfod.log")"
fi
kill $server 2>/dev/null
wait $server 2>/dev/null

# A server that accepts and never answers: given up after DEBUGINFOD_TIMEOUT, or 10 s.
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
conns = []
while True:
    conns.append(s.accept())' $SILENT_PORT &
silent=$!
# Listening before gilstat asks, however long the interpreter takes to start on a loaded machine.
check "silent server listens" wait_for 30 listening $SILENT_PORT
DEBUGINFOD_URLS=http://127.0.0.1:$SILENT_PORT DEBUGINFOD_TIMEOUT=2 \
	DEBUGINFOD_CACHE_PATH=$tmp/cache-silent2 trace "$tmp/silent2" "$tmp/stripped" 1000
degraded "silent server, DEBUGINFOD_TIMEOUT=2" "$tmp/silent2" "debuginfod: no answer .* within 2 s"
DEBUGINFOD_URLS=http://127.0.0.1:$SILENT_PORT DEBUGINFOD_CACHE_PATH=$tmp/cache-silent \
	trace "$tmp/silent" "$tmp/stripped" 1000
degraded "silent server" "$tmp/silent" "debuginfod: no answer .* within 10 s"
# The two runs differ in the timeout alone, so a loaded machine lengthens both alike: the default
# one waited its 10 s, and the one told 2 s ended at least 6 s sooner. 60 s tells a hang apart.
check "silent server: given up after 10 s, the run took $(cat "$tmp/silent.sec") s (< 60)" \
	awk '{ exit !($1 >= 10 && $1 < 60) }' "$tmp/silent.sec"
check "silent server, DEBUGINFOD_TIMEOUT=2: the run took $(cat "$tmp/silent2.sec") s, 6 s less" \
	awk -v t="$(cat "$tmp/silent.sec")" '{ exit !($1 <= t - 6) }' "$tmp/silent2.sec"
kill $silent
wait $silent 2>/dev/null

# A server that answers garbage with 200 OK.
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/garbage" $GARBAGE_PORT \
	>/dev/null 2>&1 &
garbage=$!
check "garbage server listens" wait_for 30 listening $GARBAGE_PORT
DEBUGINFOD_URLS=http://127.0.0.1:$GARBAGE_PORT DEBUGINFOD_CACHE_PATH=$tmp/cache-garbage \
	trace "$tmp/garbage" "$tmp/stripped" 1000
degraded "garbage from the server" "$tmp/garbage" "ignoring debuginfod .*: not an ELF file"
kill $garbage
wait $garbage 2>/dev/null

# .gnu_debuglink, the debug file beside the library.
trace "$tmp/link" "$tmp/link" $LOOP_N -v --no-debuginfod
same_as_unstripped ".gnu_debuglink" "$tmp/link"
check ".gnu_debuglink: -v names the file" \
	grep -q "from .gnu_debuglink $tmp/link/$name.debug" "$tmp/link.err"

# The build-id tree, in this mount namespace's /usr/lib/debug.
if [ -d /usr/lib/debug ] && mount --bind "$tmp/root" /usr/lib/debug; then
	mkdir -p "/usr/lib/debug/.build-id/${build_id:0:2}"
	cp "$tmp/srv/$name.debug" "/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug"
	trace "$tmp/tree" "$tmp/stripped" $LOOP_N -v --no-debuginfod
	same_as_unstripped "build-id tree" "$tmp/tree"
	check "build-id tree: -v names the file" \
		grep -q "from /usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug" \
		"$tmp/tree.err"
	umount /usr/lib/debug
else
	skip "build-id tree" "no /usr/lib/debug to mount a scratch directory on"
fi

# Another build's debug file, with the CRC32 the debuglink wants: refused, the run goes on.
if [ -n "$other" ]; then
	trace "$tmp/wrong" "$tmp/wrong" 1000 --no-debuginfod
	degraded "debug file of another build" "$tmp/wrong" "ignoring .*: its build-id [0-9a-f]+ is not"
else
	skip_pyenv "debug file of another build" "no pyenv CPython 3.13 or 3.11 to take it from"
fi

done_testing
