#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The convoy's I/O thread, step by step, on gilwork and on a real CPython, measured the same way:
# bpftrace uprobes on libc's pthread_cond_signal and send/recv, which both runtimes call the same
# way: take_gil() signals gil->switch_cond and drop_gil() signals gil->cond on every cycle, and
# the two are 88 bytes apart in both (a pair of condition variables signalled 88 bytes apart is
# taken for a GIL's). For the I/O thread of the contended phase:
#   hold     its GIL hold before each call (acquired -> released), by the call that follows
#   away     released -> acquired again, around send and around recv
#   call     released -> the call returned (the call, and the interpreter's work around it)
#   wait     the call returned -> acquired again: the reacquire's wait (and those of 1 ms or more
#            apart, in 0.5 ms steps: the intervals waited out)
#   per round trip: reacquires that waited >= 10 us (slept, or lost the race) and >= 1 ms (waited
#            out an interval), acquisitions by the other threads (each one a switch away from
#            the I/O thread), and the mean time away
# The same probes on both sides add the same cost to the I/O thread's cycles (1-3 us per hit),
# so the two are comparable with each other, not with an untraced run: scripts/fidelity.sh is the
# untraced comparison. One cost is not alike: a uprobe traps in every process that runs the
# probed code, and CPython's echo peer, a CPython too, signals its own GIL's condition variables
# around its send and recv (4 traps per echo, filtered out after the trap), where gilwork's peer
# takes no GIL; so under the probes CPython's "call, recv" is a few us longer than gilwork's for
# that reason alone. scripts/convoy-cost.sh measures the peer's own work without probes.
#
# Usage: scripts/convoy-dist.sh [--runs N] [--seconds S] [--threads N] PYTHON...
#   Runs gilwork convoy and each PYTHON's scripts/cpython_experiments.py convoy, interleaved,
#   N times (default 3), and prints each one's distributions, the runs added up.
#   PYTHON may be NAME=PATH[:PYTHONHOME] (sid's builds need their PYTHONHOME).
# gilwork is $OUTPUT/gilwork (OUTPUT=build by default); KEEP=1 keeps bpftrace's output.
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
GILWORK=${GILWORK:-$OUTPUT/gilwork}
runs=3
seconds=2
threads=1
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	-*) echo "convoy-dist.sh: unknown argument '$1'" >&2; exit 2 ;;
	*) break ;;
	esac
done
command -v bpftrace >/dev/null || { echo "convoy-dist.sh: needs bpftrace" >&2; exit 1; }
[ -x "$GILWORK" ] || { echo "convoy-dist.sh: $GILWORK not built (make)" >&2; exit 1; }
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"; [ -n "${KEEP:-}" ] && echo "kept $tmp" >&2' EXIT

# addr LIBC NAME: the address of NAME's default version in LIBC. pthread_cond_* have two
# versions in glibc, and bpftrace may pick the old one, which nothing calls.
addr() {
	readelf -W --dyn-syms "$1" | awk -v n="$2" '$8 ~ "^" n "@@" || $8 == n { print "0x" $2; exit }'
}

# program LIBC: the bpftrace program for a process whose libc is LIBC.
program() {
	local signal
	signal=$(addr "$1" pthread_cond_signal)
	sed -e "s|LIBC:pthread_cond_signal|$1:$signal|g" -e "s|LIBC|$1|g" <<'EOF'
uprobe:LIBC:pthread_cond_signal /pid == cpid/ {
	if (!@gilcond[arg0] && !@swcond[arg0]) {
		if (@seen[arg0 - 88]) { @gilcond[arg0 - 88] = 1; @swcond[arg0] = 1; }
		@seen[arg0] = 1;
	}
}
uprobe:LIBC:pthread_cond_signal /pid == cpid && @gilcond[arg0]/ {
	@rel[tid] = nsecs;
	@kind[tid] = 0;
	@back[tid] = 0;
	if (@acq[tid]) { @held[tid] = nsecs - @acq[tid]; }
}
uprobe:LIBC:pthread_cond_signal /pid == cpid && @swcond[arg0]/ {
	$t = nsecs;
	$k = @kind[tid];
	if ($k && @rel[tid] && @back[tid]) {
		@away[tid, $k] = lhist(($t - @rel[tid]) / 1000, 0, 1000, 1);
		@away_s[tid, $k] = stats(($t - @rel[tid]) / 1000);
		@call[tid, $k] = lhist((@back[tid] - @rel[tid]) / 1000, 0, 1000, 1);
		@wait[tid, $k] = lhist(($t - @back[tid]) / 1000, 0, 1000, 1);
		if ($t - @back[tid] >= 10000) { @slept[tid, $k] = count(); }
		if ($t - @back[tid] >= 1000000) {
			@long[tid, $k] = count();
			@longwait[tid, $k] = lhist(($t - @back[tid]) / 1000, 1000, 21000, 500);
		}
	}
	/* The main thread: start-up and imports (CPython), none in the phases. */
	if (!$k && tid != cpid) { @other_acq[tid] = count(); }
	@acq[tid] = $t;
}
uprobe:LIBC:send /pid == cpid/ {
	@kind[tid] = 1; @calls[tid, 1] = count();
	if (@held[tid]) { @hold[tid, 1] = lhist(@held[tid] / 100, 0, 1000, 1); @held[tid] = 0; }
}
uprobe:LIBC:recv /pid == cpid/ {
	@kind[tid] = 2; @calls[tid, 2] = count();
	if (@held[tid]) { @hold[tid, 2] = lhist(@held[tid] / 100, 0, 1000, 1); @held[tid] = 0; }
}
uretprobe:LIBC:send /pid == cpid/ { @back[tid] = nsecs; }
uretprobe:LIBC:recv /pid == cpid/ { @back[tid] = nsecs; }
END {
	clear(@rel); clear(@acq); clear(@kind); clear(@held); clear(@back);
	clear(@gilcond); clear(@swcond); clear(@seen);
}
EOF
}

# trace NAME OUT ENV... -- CMD...: CMD under bpftrace, the maps as JSON in OUT.
trace() {
	local name=$1 out=$2 libc
	shift 2
	local -a envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	set -- "$(readlink -f "$(command -v "$1")")" "${@:2}"
	# sid's builds run on sid's libc, beside their PYTHONHOME (scripts/sid-python.sh).
	libc=/lib/x86_64-linux-gnu/libc.so.6
	for e in "${envs[@]}"; do
		case $e in PYTHONHOME=*) libc=${e#PYTHONHOME=}/lib/x86_64-linux-gnu/libc.so.6 ;; esac
	done
	program "$libc" >"$tmp/$name.bt"
	# bpftrace runs CMD itself, with probes attached before it starts: the GIL's creation is seen.
	env "${envs[@]}" bpftrace -f json -o "$out" -c "$*" "$tmp/$name.bt" >/dev/null 2>"$out.err" ||
		{ echo "convoy-dist.sh: $name: $(grep -m1 ERROR "$out.err")" >&2; return 1; }
}

names=(gilwork)
declare -A cmd envs
cmd[gilwork]="$GILWORK convoy --threads $threads --seconds $seconds"
envs[gilwork]=
for p in "$@"; do
	name=${p%%=*}
	path=${p#*=}
	home=
	case $path in *:*) home=${path#*:}; path=${path%%:*} ;; esac
	[ "$name" = "$p" ] && name=$(basename "$path")
	names+=("$name")
	cmd[$name]="$path scripts/cpython_experiments.py convoy --threads $threads --seconds $seconds"
	envs[$name]=${home:+PYTHONHOME=$home}
done

for ((r = 1; r <= runs; r++)); do
	for name in "${names[@]}"; do
		# shellcheck disable=SC2086
		trace "$name" "$tmp/$name.$r.json" ${envs[$name]} -- ${cmd[$name]} || true
		echo "  RUN     $name ($r/$runs)" >&2
	done
done

python3 - "$tmp" "$runs" "${names[@]}" <<'EOF'
import collections, json, os, sys

tmp, runs, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
KIND = {"1": "send", "2": "recv"}


def load(path):
    maps = {}
    if not os.path.exists(path):
        return maps
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if d.get("type") in ("map", "hist", "stats"):
            maps.update(d["data"])
    return maps


def key(k):
    return k.split(",")


def io_thread(maps):
    """The contended phase's I/O thread: the one that called recv and waited out the most."""
    best, most = None, -1
    for k, v in maps.get("@calls", {}).items():
        tid, kind = key(k)
        if kind != "2":
            continue
        slept = sum(n for kk, n in maps.get("@long", {}).items() if key(kk)[0] == tid)
        if slept > most:
            best, most = tid, slept
    return best


def add_hist(into, buckets, scale=1.0, top=1000.0):
    """Linear histograms (lhist): each bucket's lower bound, scaled to microseconds."""
    for b in buckets:
        if "min" in b:
            into[b["min"] * scale] += b["count"]
        else:  # above the last bucket
            into[top] += b["count"]


def pct(h, p):
    total = sum(h.values())
    if not total:
        return None
    need, seen = total * p / 100.0, 0
    for lo in sorted(h):
        seen += h[lo]
        if seen >= need:
            return lo
    return max(h)


def num(v):
    return "%.1f" % v if v < 100 else "%.0f" % v


def fmt(h):
    """count, then p10/p50/p90/p99 in us (1 us buckets; 0.1 us for holds)."""
    n = sum(h.values())
    if not n:
        return "%7s  %-26s" % (0, "-")
    return "%7d  %-26s" % (n, "/".join(num(pct(h, p)) for p in (10, 50, 90, 99)))


rows = collections.OrderedDict()
for name in names:
    acc = collections.defaultdict(collections.Counter)
    counts = collections.Counter()
    for r in range(1, runs + 1):
        maps = load(os.path.join(tmp, "%s.%d.json" % (name, r)))
        tid = io_thread(maps)
        if tid is None:
            continue
        counts["runs"] += 1
        for m in ("@hold", "@away", "@call", "@wait", "@longwait"):
            for k, v in maps.get(m, {}).items():
                t, kind = key(k)
                if t == tid:
                    add_hist(acc[m + KIND[kind]], v, 0.1 if m == "@hold" else 1.0,
                             21000.0 if m == "@longwait" else 1000.0)
        for m in ("@calls", "@slept", "@long"):
            for k, v in maps.get(m, {}).items():
                t, kind = key(k)
                if t == tid:
                    counts[m + KIND[kind]] += v
        counts["cpu"] += sum(v for k, v in maps.get("@other_acq", {}).items() if k != tid)
        counts["away_us"] += sum(v["average"] * v["count"] for k, v in
                                 maps.get("@away_s", {}).items() if key(k)[0] == tid)
    rows[name] = (acc, counts)

print("The contended I/O thread (1 CPU thread spinning), %d traced run(s) of each, added up."
      % runs)
print("Each line: count, then p10/p50/p90/p99 in us.")
for label, m in (("hold before send", "@holdsend"), ("hold before recv", "@holdrecv"),
                 ("away around send (released -> acquired)", "@awaysend"),
                 ("away around recv (released -> acquired)", "@awayrecv"),
                 ("call, send (released -> returned)", "@callsend"),
                 ("call, recv (released -> returned)", "@callrecv"),
                 ("wait after send (returned -> acquired)", "@waitsend"),
                 ("wait after recv (returned -> acquired)", "@waitrecv"),
                 ("the waits of >= 1 ms after send (0.5 ms buckets)", "@longwaitsend"),
                 ("the waits of >= 1 ms after recv (0.5 ms buckets)", "@longwaitrecv")):
    print(label)
    for n in rows:
        print("  %-12s %s" % (n, fmt(rows[n][0][m])))
print("per round trip: reacquire waits >= 10 us after send, after recv; >= 1 ms; acquisitions")
print("by the CPU thread; mean time away (us)")
for n in rows:
    c = rows[n][1]
    rt = max(1, c["@callsrecv"])
    print("  %-12s rt %6d  >=10us %.3f %.3f  >=1ms %.3f  cpu %.3f  away %7.1f" % (
        n, c["@callsrecv"], c["@sleptsend"] / rt, c["@sleptrecv"] / rt,
        (c["@longsend"] + c["@longrecv"]) / rt, c["cpu"] / rt, c["away_us"] / rt))
EOF
