#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The interpreter's own work around the convoy's calls, which runtime/gilwork/convoy.c stands for
# with IO_STEP_ADDITIONS and ECHO_STEP_ADDITIONS: socketpair loops that never block, timed as CPU
# time of the thread (other load on the machine does not count), each the minimum of 9 x 50,000:
#   C          send + recv, from C
#   pair       send + recv, from Python
#   io         cpython_experiments.py's I/O loop: send, recv, n += 1, perf_counter(), max()
#   echo       the echo peer's loop: b = recv(1), if not b, send(b)
# Python less C is the interpreter's work; gilwork's cost per addition converts it.
#
# Usage: scripts/convoy-cost.sh [PYTHON...]   (default: python3; NAME=PATH[:PYTHONHOME] as in
#        scripts/convoy-dist.sh). gilwork is $OUTPUT/gilwork (OUTPUT=build by default).
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
GILWORK=${GILWORK:-$OUTPUT/gilwork}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ $# -gt 0 ] || set -- python3

cat >"$tmp/pair.c" <<'EOF'
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

static double cpu_sec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(void)
{
	const int n = 50000;
	double best = 1;
	char c = 'x';
	int s[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s))
		return 1;
	for (int r = 0; r < 9; r++) {
		double t = cpu_sec(), v;

		for (int i = 0; i < n; i++) {
			send(s[0], &c, 1, MSG_NOSIGNAL);
			recv(s[1], &c, 1, 0);
		}
		v = (cpu_sec() - t) / n;
		if (v < best)
			best = v;
	}
	printf("%.3f\n", best * 1e6);
	return 0;
}
EOF
cat >"$tmp/loops.py" <<'EOF'
import socket, sys, time

a, b = socket.socketpair()
N = 50000


def pair():
    t = time.thread_time()
    for _ in range(N):
        a.send(b"x")
        b.recv(1)
    return (time.thread_time() - t) / N


def io():
    t = time.thread_time()
    n, worst, now = 0, 0.0, time.perf_counter()
    for _ in range(N):
        t0 = now
        a.send(b"x")
        b.recv(1)
        n += 1
        now = time.perf_counter()
        worst = max(worst, now - t0)
    return (time.thread_time() - t) / N


def echo():
    a.send(b"x")
    t = time.thread_time()
    for _ in range(N):
        x = b.recv(1)
        if not x:
            break
        a.send(x)
    b.recv(1)
    return (time.thread_time() - t) / N


best = {}
for _ in range(9):
    for f in (pair, io, echo):
        best[f.__name__] = min(best.get(f.__name__, 1.0), f())
print("%s %.3f %.3f %.3f" % (sys.version.split()[0], best["pair"] * 1e6, best["io"] * 1e6,
                             best["echo"] * 1e6))
EOF
${CC:-cc} -O2 -o "$tmp/pair" "$tmp/pair.c"
c=$("$tmp/pair")
printf "%-10s %8s %8s %8s %8s   %s\n" python version pair io echo "beyond C: io, echo (us)"
printf "%-10s %8s %8s %8s %8s\n" C - "$c" - -
for p in "$@"; do
	name=${p%%=*}
	path=${p#*=}
	home=
	case $path in *:*) home=${path#*:}; path=${path%%:*} ;; esac
	[ "$name" = "$p" ] && name=$(basename "$path")
	read -r version pair io echo < <(env ${home:+PYTHONHOME=$home} "$path" "$tmp/loops.py")
	printf "%-10s %8s %8s %8s %8s   %.2f %.2f\n" "$name" "$version" "$pair" "$io" "$echo" \
		"$(echo "$io - $c" | bc -l)" "$(echo "$echo - $c" | bc -l)"
done
if [ -x "$GILWORK" ]; then
	# cpu runs cpu_work(N) four times: twice in a row, then on two threads.
	sec=$( { /usr/bin/time -f "%U %S" "$GILWORK" cpu --work 2000000 >/dev/null; } 2>&1 |
		awk '{print $1 + $2}')
	echo "gilwork: $(echo "$sec * 1000000000 / 8000000" | bc -l | xargs printf "%.1f") ns per addition" \
		"(CPU time of cpu --work 2000000)"
fi
