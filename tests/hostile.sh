#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: alone
# gilstat -a --prometheus, run as root, against what an unprivileged user (nobody) can run: each
# attack is planted by nobody (setpriv), and then gilstat must still be alive, /metrics must answer
# within 1 s, a libgil program started afterwards must be counted exactly (its series equals
# libgil's own count, GIL_STATS=1), and gilstat must have opened nothing the attack pointed it to
# outside the target: a file nobody cannot read, /dev/zero, a FIFO (strace -y shows the file each
# open reached). A gilstat found dead or stuck is replaced for the next attack, so that each attack
# is judged on its own. At the end SIGTERM, sent in the middle of a look at a hostile process, must
# bring gilstat's report within 1 s, and its text output must carry no terminal escape sequence.
set -u
. "$(dirname "$0")/lib.sh"
export GIL_STATS=1
tmp=$(mktemp -d /tmp/hostile.XXXXXX)
gs=0 st=0 attackers=()
cleanup() {
	kill -9 "${attackers[@]}" 2>/dev/null
	[ "$gs" -gt 0 ] && kill -9 $gs 2>/dev/null
	kill -9 $st 2>/dev/null
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

need_root "gilstat -a against hostile input"
need_tools "gilstat -a against hostile input" curl strace setpriv gcc objcopy strip

# The tree: $tmp (world-readable) holds the tools, att/ belongs to nobody, and pub/ holds a
# file nobody cannot read, whose name and inode nobody can see.
chmod 755 "$tmp"
mkdir -p "$tmp/bin" "$tmp/att" "$tmp/pub"
chown nobody "$tmp/att"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- "$@"; }
# nobody_bg COMMAND...: COMMAND run by nobody in the background, its PID (setpriv execs it) kept
nobody_bg() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all -- "$@" &
	attackers+=($!)
}
echo "root's own" >"$tmp/pub/libpython3.12.so.1.0"
chmod 600 "$tmp/pub/libpython3.12.so.1.0"

# mapper FILE... [-- MS]: maps each FILE before main(), as the loader maps a library (so that
# gilstat's first look, once libc is there, sees them), then lives MS ms, or until killed.
cat >"$tmp/mapper.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

__attribute__((constructor)) static void map_all(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		int fd = open(argv[i], O_RDONLY);

		if (fd < 0 || mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			perror(argv[i]);
			exit(1);
		}
		close(fd);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], "--")) {
			usleep(atol(argv[i + 1]) * 1000);
			return 0;
		}
	pause();
	return 0;
}
EOF
# libpythons shaped by each attack: the symbols gilstat's lookup wants, and what it then walks.
cat >"$tmp/fakepy.c" <<'EOF'
/* protected: the calls between them stay direct, not through the PLT */
#define FN(name, body) __asm__(".text\n.globl " #name "\n.protected " #name "\n.type " #name \
			       ",@function\n" #name ":\n" body "\n.size " #name ", .-" #name "\n")
#if defined(DEEP)
/* take_gil and drop_gil; the C API reaches them through 2000 calls, each of 2000 calls */
FN(take_gil, "ret");
FN(drop_gil, "ret");
FN(PyEval_SaveThread, ".rept 2000\ncall walk_b\n.endr\nret");
FN(PyEval_RestoreThread, ".rept 2000\ncall walk_b\n.endr\nret");
FN(walk_b, ".rept 2000\ncall PyEval_SaveThread\n.endr\nret");
#elif defined(HUGE_HANDLER)
/* the eval breaker's handler claims 1 GiB, which the file (sparse) has */
FN(take_gil, "ret");
FN(drop_gil, "ret");
FN(PyEval_SaveThread, "call drop_gil\nret");
FN(PyEval_RestoreThread, "call take_gil\nret");
__asm__(".globl _Py_HandlePending\n.type _Py_HandlePending,@function\n_Py_HandlePending: ret\n"
	".size _Py_HandlePending, 0x40000000\n");
#elif defined(MANY)
/* 200,000 symbols: a parse long enough to be truncated, or to exit, in the middle of */
FN(PyEval_SaveThread, "ret");
FN(PyEval_RestoreThread, "ret");
__asm__(".text\n.altmacro\n.macro sym n\nsym_\\n: ret\n.endm\n"
	".set i, 0\n.rept 200000\nsym %i\n.set i, i+1\n.endr\n");
#else
/* stripped: only the exported C API, and a .gnu_debuglink to its symbols */
void PyEval_SaveThread(void) { __asm__ volatile(""); }
void PyEval_RestoreThread(void) { __asm__ volatile(""); }
#endif
EOF
build() { gcc "$@" 2>"$tmp/build.err" || { cat "$tmp/build.err" | sed 's/^/# /'; return 1; }; }
if ! build -O1 "$tmp/mapper.c" -o "$tmp/bin/mapper" ||
   ! build -shared -fPIC -DDEEP "$tmp/fakepy.c" -o "$tmp/bin/deep.so" ||
   ! build -shared -fPIC -DHUGE_HANDLER "$tmp/fakepy.c" -o "$tmp/bin/huge.so" ||
   ! build -shared -fPIC -DMANY "$tmp/fakepy.c" -o "$tmp/bin/many.so" ||
   ! build -shared -fPIC -Wl,--build-id=none "$tmp/fakepy.c" -o "$tmp/bin/linked.full"; then
	not_ok "the attackers' programs build"
	done_testing
fi
(cd "$tmp/bin" && objcopy --only-keep-debug linked.full libpython3.12.so.1.0.debug &&
	strip linked.full -o linked.stripped &&
	objcopy --add-gnu-debuglink=libpython3.12.so.1.0.debug linked.stripped linked.so)
# gilwork and its libgil, where nobody can run them (RUNPATH $ORIGIN)
cp "$GILWORK" "$OUTPUT/libgil.so.1" "$tmp/bin/"
chmod -R a+rX "$tmp/bin"

# --- gilstat, its files, and the checks after each attack -------------------------------------
port=$(free_port)
metrics() { curl -s --max-time 1 "http://127.0.0.1:$port/metrics"; }
acq() { metrics | grep -E "^gilstat_gil_acquisitions_total\{pid=\"$1\"," | cut -d' ' -f2; }
has_series() { [ -n "$(acq "$1")" ]; }
served() { metrics | grep -q '^gilstat_targets '; }
# start_gilstat N: gilstat under strace, which stops it at its opens only (seccomp), as $gs.
start_gilstat() {
	local n=$1
	strace -f --seccomp-bpf -qq -y -e trace=openat,open -o "$tmp/strace.$n" \
		$GILSTAT -a -v --prometheus "127.0.0.1:$port" --grace 60 >"$tmp/gs.$n.out" \
		2>"$tmp/gs.$n.err" &
	st=$!
	wait_for 5 find_gilstat
	if [ "$gs" = 0 ]; then
		not_ok "gilstat -a --prometheus (instance $n) starts under strace"
		return 1
	fi
	if ! wait_for 20 served; then
		not_ok "gilstat -a --prometheus (instance $n) serves /metrics"
		return 1
	fi
	# the first process of a libgil program has its file attached for every later one
	$GILWORK convoy --seconds 0.2 >/dev/null &
	wait_for 5 has_series $! || echo "# instance $n did not find its first libgil program"
	wait $!
	strace_seen=$(wc -l <"$tmp/strace.$n")
}
# find_gilstat: gilstat's PID, below strace's ($st), in $gs; 0 while it has not started.
find_gilstat() {
	local pid=$st comm
	gs=0
	for _ in 1 2 3; do
		read -r pid comm < <(ps -o pid=,comm= --ppid "$pid" | head -1)
		[ -n "$pid" ] || return 1
		[ "$comm" = gilstat ] && { gs=$pid; return 0; }
	done
	return 1
}
alive() {
	[ "$gs" -gt 0 ] && kill -0 $gs 2>/dev/null && ! grep -q '^State:.*Z' /proc/$gs/status 2>/dev/null
}
answers() { metrics | grep -q '^gilstat_targets '; }
# counted: a libgil program started now; its series equals libgil's own count
counted() {
	local pid truth
	$GILWORK convoy --seconds 0.3 --json >"$tmp/truth" &
	pid=$!
	wait $pid
	truth=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["gil_stats"]["acquisitions"])' \
		"$tmp/truth" 2>/dev/null)
	counted_what="PID $pid: libgil counted ${truth:-nothing}"
	[ -n "$truth" ] || return 1
	if wait_for 5 eq_truth $pid "$truth"; then
		counted_what+=", the series too"
		return 0
	fi
	counted_what+=", the series $(acq $pid)"
	return 1
}
eq_truth() { [ "$(acq "$1")" = "$2" ]; }
# escaped: the files gilstat opened since the attack began that it must not have: one a line.
# strace -y adds the file an open reached ("= 5</dev/zero>"); an open that never returned has no
# result, so a FIFO shows by its name, or by the wait of a thread of gilstat's for its writer.
escaped() {
	grep -l wait_for_partner /proc/$gs/task/*/wchan 2>/dev/null | sed 's/$/: waits for a FIFO/'
	tail -n +"$((strace_seen + 1))" "$tmp/strace.$instance" | python3 -c '
import os, re, stat, sys
tmp = sys.argv[1]
for line in sys.stdin:
    m = re.search(r"open(?:at)?\([^\"]*\"([^\"]*)\"", line)
    if not m:
        continue
    path = m.group(1)
    reached = re.search(r"= \d+<(.*)>\s*$", line)
    reached = reached.group(1) if reached else ""
    bad = ""
    if reached == "/dev/zero" or reached.startswith(tmp + "/pub/"):
        bad = reached
    elif path.startswith(tmp + "/att/"):
        try:
            if stat.S_ISFIFO(os.stat(path).st_mode):
                bad = path + " (a FIFO)"
        except OSError:
            pass
    if bad:
        print(bad)' "$tmp" | sort -u
}
instance=0 strace_seen=0
start_gilstat $instance
# after WHAT: the four checks, then a fresh gilstat if this one is dead or stuck.
after() {
	local what=$1 ok_all=1 bad
	if alive; then ok "$what: gilstat is alive"; else not_ok "$what: gilstat is alive"; ok_all=0; fi
	if answers; then
		ok "$what: /metrics answers within 1 s"
	else
		not_ok "$what: /metrics answers within 1 s"
		ok_all=0
	fi
	if ! answers; then
		not_ok "$what: a libgil program started afterwards is counted exactly (/metrics does not answer)"
	elif counted; then
		ok "$what: a libgil program started afterwards is counted exactly ($counted_what)"
	else
		not_ok "$what: a libgil program started afterwards is counted exactly ($counted_what)"
		ok_all=0
	fi
	bad=$(escaped)
	if [ -z "$bad" ]; then
		ok "$what: gilstat opened nothing outside the target"
	else
		not_ok "$what: gilstat opened nothing outside the target: $(echo $bad)"
	fi
	kill -9 "${attackers[@]}" 2>/dev/null
	wait "${attackers[@]}" 2>/dev/null
	attackers=()
	strace_seen=$(wc -l <"$tmp/strace.$instance")
	if [ $ok_all = 0 ]; then
		echo "# replacing gilstat (PID $gs): $(grep -m1 State /proc/$gs/status 2>/dev/null)"
		[ "$gs" -gt 0 ] && kill -9 $gs 2>/dev/null
		wait $st 2>/dev/null
		instance=$((instance + 1))
		start_gilstat $instance
	fi
}
# attack_dir NAME: a fresh directory of nobody's, with a fresh copy of mapper (a new inode: gilstat
# remembers what it found in each executable).
attack_dir() {
	as_nobody mkdir -p "$tmp/att/$1"
	as_nobody cp "$tmp/bin/mapper" "$tmp/att/$1/mapper"
	echo "$tmp/att/$1"
}
# looked SECONDS: the time gilstat has to look at the attacker (it looks within milliseconds of
# an exec, and for up to 1 s at a program whose libraries are still loading)
looked() { sleep "$1"; }

# 1. A FIFO at the executable's name: the program was deleted while it runs, and a FIFO named
#    "<exe> (deleted)", what readlink(/proc/PID/exe) says, waits for the reader.
d=$(attack_dir fifo)
nobody_bg /usr/bin/python3 -c 'import os, sys
prog = sys.argv[1]
fd = os.open(prog, os.O_RDONLY)
os.unlink(prog)
os.mkfifo(prog + " (deleted)")
os.execve(fd, [prog, "--", "3000"], {})' "$d/mapper"
looked 1
after "FIFO executable"

# 2. A debug link to /dev/zero: a stripped libpython whose .gnu_debuglink names a symlink to
#    /dev/zero beside it.
d=$(attack_dir zero)
as_nobody cp "$tmp/bin/linked.so" "$d/libpython3.12.so.1.0"
as_nobody ln -s /dev/zero "$d/libpython3.12.so.1.0.debug"
nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
looked 1
after "/dev/zero debug link"

# 3. A file truncated during the parse: a libpython of 200,000 symbols, truncated to nothing at a
#    different moment of each of 10 looks.
for ms in 0 2 4 6 8 10 15 20 30 40; do
	d=$(attack_dir "trunc$ms")
	as_nobody cp "$tmp/bin/many.so" "$d/libpython3.12.so.1.0"
	nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
	sleep "0.0$((ms / 10))$((ms % 10))"
	as_nobody truncate -s 0 "$d/libpython3.12.so.1.0"
done
looked 1
after "file truncated during the parse"

# 4. A sparse huge file: the handler symbol claims 1 GiB, and the file (sparse) holds that much.
d=$(attack_dir huge)
as_nobody cp "$tmp/bin/huge.so" "$d/libpython3.12.so.1.0"
as_nobody truncate -s 1200M "$d/libpython3.12.so.1.0"
hwm0=$(awk '/^VmHWM/ {print $2}' /proc/$gs/status)
nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
looked 2
hwm1=$(awk '/^VmHWM/ {print $2}' /proc/$gs/status 2>/dev/null)
check "sparse huge file: gilstat's peak RSS grew less than 64 MiB (VmHWM $hwm0 -> $hwm1 kB)" \
	test -n "$hwm1" -a "$((${hwm1:-0} - ${hwm0:-0}))" -lt 65536
after "sparse huge file"

# 5. A long maps line with a forged tail: a deep path makes the line of the file nobody maps
#    longer than gilstat's line buffer; where the buffer ends, the path spells a mapping of
#    libpython at pub/'s root-only file, with its inode.
d=$(attack_dir deep-path)
ino=$(stat -c %i "$tmp/pub/libpython3.12.so.1.0")
nobody_bg /usr/bin/python3 -c 'import os, sys
d, secret, ino = sys.argv[1], sys.argv[2], sys.argv[3]
# the name starts at column 73 of the maps line; the buffer holds 4351 characters of it
forged = "7f0000000000-7f0000001000 r-xp 00000000 00:00 %s " % ino
prefix = len(d) + 1
parts = []
while prefix + 201 < 4351 - 73 - 1:
    parts.append("a" * 200)
    prefix += 201
parts.append("b" * (4351 - 73 - prefix - 1))
parts.append(forged)
parts += secret.strip("/").split("/")
fd = os.open(d, os.O_DIRECTORY)
for p in parts[:-1]:
    os.mkdir(p, dir_fd=fd)
    fd = os.open(p, os.O_DIRECTORY, dir_fd=fd)
os.close(os.open(parts[-1], os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
os.fchdir(fd)
os.execv(d + "/mapper", [d + "/mapper", parts[-1]])' "$d" "$tmp/pub/libpython3.12.so.1.0" "$ino"
looked 1
after "long maps line with a forged tail"

# 6. A deep call graph: the C API reaches take_gil through 2000 x 2000 calls.
d=$(attack_dir graph)
as_nobody cp "$tmp/bin/deep.so" "$d/libpython3.12.so.1.0"
nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
looked 1
after "deep call graph"

# 7. A symlink that escapes the root: the debug link of a stripped libpython is a symlink to the
#    root-only file in pub/.
d=$(attack_dir symlink)
as_nobody cp "$tmp/bin/linked.so" "$d/libpython3.12.so.1.0"
as_nobody ln -s "$tmp/pub/libpython3.12.so.1.0" "$d/libpython3.12.so.1.0.debug"
as_nobody mkdir "$d/.debug"
as_nobody ln -s "$tmp/pub/libpython3.12.so.1.0" "$d/.debug/libpython3.12.so.1.0.debug"
nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
looked 1
after "symlink that escapes the root"

# 8. Escape codes in comm: a libgil program whose name clears the screen and retitles it.
esc=$'\e[2J\e]0;x\a'
d=$(attack_dir escape)
as_nobody cp "$tmp/bin/gilwork" "$tmp/bin/libgil.so.1" "$d/"
as_nobody mv "$d/gilwork" "$d/$esc"
nobody_bg "$d/$esc" convoy --seconds 0.5 >/dev/null
looked 1
after "escape codes in comm"

# 9. A process that exits mid-look: a free-threaded libpython of 200,000 symbols, its process
#    gone (its cmdline and maps read empty) at a different moment of each of 10 looks.
for ms in 0 2 4 6 8 10 15 20 30 40; do
	d=$(attack_dir "exit$ms")
	as_nobody cp "$tmp/bin/many.so" "$d/libpython3.13t.so.1.0"
	nobody_bg "$d/mapper" "$d/libpython3.13t.so.1.0" -- "$ms"
	wait $!
done
after "process that exits mid-look"

# SIGTERM in the middle of a look at a hostile process (the deep call graph) ends gilstat with its
# final report within 1 s; the exit then waits for the kernel to remove every uprobe, which a
# loaded machine makes slow: it only must not hang (10 s). This gilstat prints its report (no
# exporter) and runs without strace, whose own stops would be counted in the time.
kill -9 $gs 2>/dev/null
wait $st 2>/dev/null
$GILSTAT -a >"$tmp/gs.term.out" 2>"$tmp/gs.term.err" &
gs=$!
attached() { grep -qs '^Tracing the GIL' "$tmp/gs.term.out" "$tmp/gs.term.err"; }
if wait_for 20 attached; then
	d=$(attack_dir term)
	as_nobody cp "$tmp/bin/deep.so" "$d/libpython3.12.so.1.0"
	nobody_bg "$d/mapper" "$d/libpython3.12.so.1.0"
	sleep 0.5
	t0=$(date +%s%N) report=
	kill -TERM $gs
	for _ in $(seq 1000); do
		kill -0 $gs 2>/dev/null || break
		[ -z "$report" ] && grep -q '^Traced ' "$tmp/gs.term.out" && report=$(date +%s%N)
		sleep 0.01
	done
	t1=$(date +%s%N)
	# a report printed between the last two looks counts as printed at the exit
	[ -z "$report" ] && grep -q '^Traced ' "$tmp/gs.term.out" && report=$t1
	report_ms=none exit_ms=$(((t1 - t0) / 1000000))
	[ -n "$report" ] && report_ms=$(((report - t0) / 1000000))
	check "SIGTERM during a look at a hostile process: the final report within 1 s ($report_ms ms)" \
		[ -n "$report" -a "${report_ms/none/0}" -le 1000 ]
	check "SIGTERM during a look at a hostile process: the exit within 10 s ($exit_ms ms)" \
		[ "$exit_ms" -le 10000 ]
	kill -9 $gs 2>/dev/null
	wait $gs
	echo "# gilstat's exit status after SIGTERM: $?"
else
	not_ok "SIGTERM during a look at a hostile process: gilstat -a attaches"
fi
n=$(cat "$tmp"/gs.*.out "$tmp"/gs.*.err | grep -c $'\e')
cat "$tmp"/gs.*.out "$tmp"/gs.*.err | grep -m3 $'\e' | cat -v | sed 's/^/# with an escape: /'
check "gilstat's text output carries no escape character ($n lines with one)" [ "$n" -eq 0 ]
done_testing
