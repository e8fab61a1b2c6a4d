#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make example: the tutorial's FastAPI lesson, measured. Starts examples/fastapi/app.py under
# uvicorn on Debian's python3 (127.0.0.1, a free port) and loads its async /io endpoint with wrk in
# three phases: alone, beside CPU work in the thread pool (/cpu-thread), and beside the same work
# in a process pool (/cpu-procpool). gilstat --python is attached to the server for each phase.
# Prints one table: wrk's requests/s and p99 latency of /io, the CPU endpoint's requests/s, and
# gilstat's GIL wait p50/p99, switches and forced switches, and the share of the time the event
# loop's thread (the main one) spent waiting for the GIL. Everything it started is stopped when
# it ends, however it ends; the server stops by itself after a bound even if this script is killed.
#
# Usage: examples/fastapi/run.sh   (as root, for BPF; OUTPUT as for make)
#   PHASE_S=5            seconds of wrk per phase
#   IO_CONNECTIONS=16    wrk's connections to /io
#   LOAD_CONNECTIONS=8   concurrent requests to /cpu-thread or /cpu-procpool beside it
#   EXAMPLE_OUT=DIR      keep wrk's output, gilstat's reports (PHASE.json) and summary.json there
set -eu
cd "$(dirname "$0")/../.."
OUTPUT=${OUTPUT:-build}
PYTHON=/usr/bin/python3
phase_s=${PHASE_S:-5}
io_conns=${IO_CONNECTIONS:-16}
load_conns=${LOAD_CONNECTIONS:-8}
# Debian's stripped python3: its symbols are never asked of a debuginfod server off this machine.
unset DEBUGINFOD_URLS

die() { echo "run.sh: $*" >&2; exit 1; }
for n in "$phase_s" "$io_conns" "$load_conns"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "PHASE_S, IO_CONNECTIONS and LOAD_CONNECTIONS take a positive whole number, not '$n'"
done
[ "$(id -u)" -eq 0 ] || die "needs root (gilstat loads BPF programs)"
[ -x "$OUTPUT/gilstat" ] || die "$OUTPUT/gilstat not built (make example builds it)"
command -v wrk >/dev/null || die "wrk is missing (scripts/deps.sh installs it)"
$PYTHON -c 'import fastapi, uvicorn' 2>/dev/null ||
	die "$PYTHON has no fastapi or uvicorn (scripts/deps.sh installs python3-fastapi and python3-uvicorn)"

if [ -n "${EXAMPLE_OUT:-}" ]; then
	out=$EXAMPLE_OUT
	mkdir -p "$out"
	tmp=
else
	tmp=$(mktemp -d)
	out=$tmp
fi

# What this script started: the server's session (the server, its process-pool workers and the
# timeout above them), and the wrk and gilstat not yet waited for (a PID waited for may be anyone's
# by now). The EXIT trap stops all of them and checks that they are gone.
server_sid='' server='' pids=() started=()
# started PID: one more to stop at the end; waited PID: waits for it, which ends that.
started() { pids+=("$1") started+=("$1"); }
waited() {
	local rc=0 i
	wait "$1" || rc=$?
	for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$1" ] && unset "pids[$i]"; done
	return $rc
}
# alive PID...: those of the PIDs that still run (a zombie has ended).
alive() {
	local p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"
	done
}
# in_session: the processes of the server's session that still run.
in_session() {
	local f stat
	[ -n "$server_sid" ] || return 0
	for f in /proc/[0-9]*/stat; do
		stat=$(cat "$f" 2>/dev/null) || continue
		# after the command's name: state, ppid, process group, session
		# shellcheck disable=SC2086 # the fields, split
		set -- ${stat##*) }
		[ "$4" = "$server_sid" ] && [ "$1" != Z ] && echo "${f//[^0-9]/}"
	done
	return 0
}
cleanup() {
	local status=$? left p
	set +e
	trap - EXIT INT TERM
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
	[ -n "$server_sid" ] && kill -TERM -- "-$server_sid" 2>/dev/null
	for _ in $(seq 50); do
		left=$(alive "${pids[@]}"; in_session)
		[ -z "$left" ] && break
		sleep 0.1
	done
	if [ -n "$left" ]; then
		for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
		[ -n "$server_sid" ] && kill -KILL -- "-$server_sid" 2>/dev/null
		sleep 0.5
	fi
	wait 2>/dev/null
	# for tests/example.sh, which checks again: the session, then every other PID started
	[ -z "$tmp" ] && echo "${server_sid:-0} $server ${started[*]}" >"$out/pids"
	left=$(alive "${pids[@]}"; in_session)
	if [ -n "$left" ]; then
		echo "run.sh: still running after the end:" "${left//$'\n'/ }" >&2
		status=1
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port on 127.0.0.1: the kernel's pick for a socket bound to port 0.
port=$($PYTHON -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
url=http://127.0.0.1:$port

# The server in a session of its own, so that its pool's workers stop with it; timeout ends it after
# every phase could have run twice over, should this script be killed without its trap.
bound_s=$((3 * 2 * (phase_s + 15) + 60))
setsid timeout -k 5 $bound_s $PYTHON -m uvicorn --app-dir examples/fastapi app:app \
	--host 127.0.0.1 --port "$port" --log-level warning >"$out/server.log" 2>&1 &
server_sid=$!
for _ in $(seq 100); do
	server=$(cat "/proc/$server_sid/task/$server_sid/children" 2>/dev/null || true)
	server=${server%% *}
	[ -n "$server" ] && curl -sf -o /dev/null "$url/io" && break
	[ -z "$(alive $server_sid)" ] && break
	sleep 0.1
done
curl -sf -o /dev/null "$url/io" || { cat "$out/server.log" >&2; die "the server did not start on $url"; }
# The process pool starts its worker on the first request: before the measurement, not in it.
for path in /cpu-procpool /cpu-thread; do
	curl -sf -o /dev/null "$url$path" || die "the server does not answer $path"
done
echo "FastAPI on $($PYTHON --version) (PID $server) at $url: /io with $io_conns connections," \
	"$load_conns beside it on /cpu-*, $phase_s s a phase" >&2

# phase NAME [LOAD-PATH]: wrk on /io for PHASE_S seconds (with LOAD-PATH loaded beside it, from
# just before to just after) under a gilstat of its own.
phase() {
	local name=$1 load=${2:-} gilstat loader=
	"$OUTPUT/gilstat" --python -L -p "$server" -j -d $((phase_s + 15)) -o "$out/$name.json" \
		2>"$out/$name.gilstat.err" &
	gilstat=$!
	started $gilstat
	for _ in $(seq 200); do
		grep -q '^Tracing the GIL' "$out/$name.gilstat.err" && break
		[ -z "$(alive $gilstat)" ] && break
		sleep 0.05
	done
	grep -q '^Tracing the GIL' "$out/$name.gilstat.err" ||
		{ cat "$out/$name.gilstat.err" >&2; die "gilstat did not attach to PID $server"; }
	if [ -n "$load" ]; then
		wrk -t1 -c"$load_conns" -d$((phase_s + 1))s "$url$load" >"$out/$name.load" &
		loader=$!
		started $loader
		sleep 0.5
	fi
	wrk -t1 -c"$io_conns" -d"${phase_s}"s --latency "$url/io" >"$out/$name.wrk" &
	started $!
	waited $! || die "wrk on /io failed in phase $name"
	if [ -n "$loader" ]; then
		waited "$loader" || die "wrk on $load failed in phase $name"
	fi
	kill -INT "$gilstat"
	waited "$gilstat" || { cat "$out/$name.gilstat.err" >&2; die "gilstat failed in phase $name"; }
	echo "  phase $name done" >&2
}
phase alone
phase thread /cpu-thread
phase procpool /cpu-procpool

# The table, and summary.json with the same numbers unrounded.
$PYTHON - "$out" <<'EOF'
import json, re, sys

out = sys.argv[1]
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def wrk(path):
    """wrk's requests/s and, with --latency, its p99 in ms."""
    text = open(path).read()
    rps = float(re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M).group(1))
    p99 = re.search(r"^\s+99%\s+([0-9.]+)(us|ms|s|m|h)\s*$", text, re.M)
    return rps, float(p99.group(1)) * UNITS[p99.group(2)] if p99 else None


def human_ns(ns):
    if ns < 1000:
        return "%d ns" % ns
    if ns < 1000000:
        return "%.1f us" % (ns / 1e3)
    return "%.1f ms" % (ns / 1e6)


phases = [("alone", "/io alone", None), ("thread", "/io + /cpu-thread", "load"),
          ("procpool", "/io + /cpu-procpool", "load")]
rows = []
summary = {}
for name, title, load in phases:
    rps, p99 = wrk("%s/%s.wrk" % (out, name))
    load_rps = wrk("%s/%s.load" % (out, name))[0] if load else None
    r = json.loads(open("%s/%s.json" % (out, name)).read().strip().splitlines()[-1])
    w = r["wait_ns"]
    # the event loop runs on the main thread, whose TID is the server's PID
    loop = [g for g in r.get("groups", []) if g["tid"] == r["pid"]]
    loop_wait = loop[0]["wait_ns"] if loop else {"total": 0, "count": 0, "p50": 0, "p99": 0}
    summary[name] = {"io_rps": rps, "io_p99_ms": p99, "cpu_rps": load_rps,
                     "wait_p50_ns": w["p50"], "wait_p99_ns": w["p99"],
                     "switches": r["switches"], "forced_switches": r["forced_switches"],
                     "gilstat_s": r["duration_ns"] / 1e9,
                     "loop_waits": loop_wait["count"], "loop_wait_total_ns": loop_wait["total"],
                     "loop_wait_p50_ns": loop_wait["p50"], "loop_wait_p99_ns": loop_wait["p99"],
                     "loop_wait_pct": 100.0 * loop_wait["total"] / r["duration_ns"]}
    rows.append([title, "%.0f" % rps, "%.1f ms" % p99, "-" if load_rps is None else "%.1f" % load_rps,
                 human_ns(w["p50"]), human_ns(w["p99"]), str(r["switches"]),
                 str(r["forced_switches"]), "%.1f%%" % summary[name]["loop_wait_pct"]])
json.dump(summary, open(out + "/summary.json", "w"), indent=1)

head = ["phase", "/io req/s", "/io p99", "/cpu-* req/s", "GIL wait p50", "GIL wait p99",
        "switches", "forced", "loop waits"]
widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
for row in [head] + rows:
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                    enumerate(zip(row, widths))).rstrip())
a, t, p = (summary[n]["io_rps"] for n in ("alone", "thread", "procpool"))
print("\n/io beside /cpu-thread: %.1fx fewer requests/s than alone; beside /cpu-procpool: %.0f%% "
      "of alone." % (a / t, 100 * p / a))
EOF
