#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench, CPython part: what gilstat --python costs per GIL cycle on the builds people run, how
# many probe hits a cycle takes, what a probe costs where it could be put, how near two spinning
# threads come to one forced switch per interval, and what a real loopback service loses. Each
# comparison alternates its sides in one run and reports medians. Writes $OUTPUT/bench-python.json
# and prints it; docs/python.md keeps the figures of a run.
#
# Usage: scripts/bench-python.sh   (as root; OUTPUT as for make; BENCH_REPS rounds, 5)
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-build}
. scripts/lib.sh
reps=${BENCH_REPS:-5}
out=$OUTPUT
PYENV_VERSIONS=${PYENV_ROOT:-/root/.pyenv}/versions
[ "$(id -u)" -eq 0 ] || { echo "bench-python.sh: needs root (BPF)" >&2; exit 1; }
for f in gilstat bench/usdtrun; do
	[ -x "$out/$f" ] || { echo "bench-python.sh: $out/$f not built (make bench)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The builds: NAME PYTHON LIBRARY-PATH PYTHONHOME ("-" for none).
builds=$tmp/builds
py312=$(ls -d "$PYENV_VERSIONS"/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -1)
if [ -n "$py312" ]; then
	echo "pyenv-3.12 $py312 - -" >>"$builds"
	mkdir -p "$tmp/strip"
	strip --strip-all -o "$tmp/strip/libpython3.12.so.1.0" \
		"$(dirname "$(dirname "$py312")")/lib/libpython3.12.so.1.0"
	echo "pyenv-3.12-stripped $py312 $tmp/strip -" >>"$builds"
fi
[ -x /usr/bin/python3.11 ] && echo "debian-3.11 /usr/bin/python3.11 - -" >>"$builds"
if scripts/sid-python.sh >/dev/null 2>&1; then
	scripts/sid-python.sh --print | while read -r v p; do
		echo "sid-${v%.*} $p - $(dirname "$(dirname "$p")")/usr" >>"$builds"
	done
fi

# with_build NAME CMD...: CMD with the build's environment; PY in it is the interpreter.
with_build() {
	local name=$1 py lib home
	shift
	read -r py lib home <<<"$(awk -v n="$name" '$1 == n { print $2, $3, $4 }' "$builds")"
	[ "$lib" = - ] && lib= || lib="LD_LIBRARY_PATH=$lib"
	[ "$home" = - ] && home= || home="PYTHONHOME=$home"
	PY=$py env $lib $home "${@//@PY@/$py}"
}
# the loop's CPU time: a probe's cost is the hitting thread's, and the time other tasks ran
# instead, most of the noise of wall time on a shared machine, is not in it
loop_cpu_ns() { sed -n 's/^loop_cpu_ns //p' "$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# median_cpu NAME SIDE: the median loop CPU time of the rounds' $tmp/NAME.I.SIDE
median_cpu() { for i in $(seq "$reps"); do loop_cpu_ns "$tmp/$1.$i.$2"; done | median; }

# The libc of each build, and its pthread_cond_signal: where the libc view's hot probe sits.
libc_of() { with_build "$1" @PY@ -c 'import os
for l in open("/proc/self/maps"):
    f = l.split()
    if len(f) > 5 and os.path.basename(f[5]).startswith("libc.so"):
        print(f[5]); break'; }
signal_off() {
	# the default version of the symbol, as gilstat picks it (pthread_cond_signal@@GLIBC_2.3.2)
	readelf -W --dyn-syms "$1" | awk '$8 == "pthread_cond_signal@@GLIBC_2.3.2" { print $2 }'
}

N=200000
json=$tmp/result.json
echo "{" >"$json"
wait_quiet 10
while read -r name _ <&3; do
	echo "  BENCH   $name: cycle untraced / traced (libc view) / traced (symbols) / the floor," \
		"$reps rounds" >&2
	libc_path=$(libc_of "$name")
	site="$libc_path:0x$(signal_off "$libc_path")"
	for i in $(seq "$reps"); do
		with_build "$name" @PY@ tests/python/os_read.py $N >"$tmp/$name.$i.bare"
		with_build "$name" "$out/gilstat" --python -j -o "$tmp/$name.$i.json" -- @PY@ \
			tests/python/os_read.py $N >"$tmp/$name.$i.libc" 2>/dev/null
		with_build "$name" "$out/gilstat" --python --python-probes=symbols -j -o /dev/null -- @PY@ \
			tests/python/os_read.py $N >"$tmp/$name.$i.sym" 2>/dev/null
		# the floor: an empty program on the site of both of the libc view's hits a cycle
		with_build "$name" "$out/bench/usdtrun" -u "$site" -- @PY@ tests/python/os_read.py $N \
			>"$tmp/$name.$i.floor"
	done
	bare=$(median_cpu "$name" bare)
	libc=$(median_cpu "$name" libc)
	sym=$(median_cpu "$name" sym)
	floor=$(median_cpu "$name" floor)
	# traced / floor in each round, against that round's untraced loop: the median of those
	ratio=$(for i in $(seq "$reps"); do
		echo "$(loop_cpu_ns "$tmp/$name.$i.bare") $(loop_cpu_ns "$tmp/$name.$i.libc")" \
			"$(loop_cpu_ns "$tmp/$name.$i.floor")"
	done | awk '{ printf "%.4f\n", ($2 - $1) / ($3 - $1) }' | median)
	# hits per cycle: the libc view's probes counted by an empty program, N cycles against 1
	with_build "$name" "$out/bench/usdtrun" -u -c "$site" -- @PY@ tests/python/os_read.py 1 \
		>"$tmp/$name.hits1"
	with_build "$name" "$out/bench/usdtrun" -u -c "$site" -- @PY@ tests/python/os_read.py $N \
		>"$tmp/$name.hitsn"
	hits1=$(sed -n 's/.*"hits": \([0-9]*\).*/\1/p' "$tmp/$name.hits1")
	hitsn=$(sed -n 's/.*"hits": \([0-9]*\).*/\1/p' "$tmp/$name.hitsn")
	view=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["view"])' \
		"$tmp/$name.1.json")
	cat >>"$json" <<-EOF2
	"$name": {"view": "$view", "cycle_ns_untraced": $(awk -v b="$bare" -v n=$N 'BEGIN { printf "%.1f", b / n }'),
	  "cycle_ns_added_libc": $(awk -v b="$bare" -v t="$libc" -v n=$N 'BEGIN { printf "%.1f", (t - b) / n }'),
	  "cycle_ns_added_symbols": $(awk -v b="$bare" -v t="$sym" -v n=$N 'BEGIN { printf "%.1f", (t - b) / n }'),
	  "cycle_ns_added_floor": $(awk -v b="$bare" -v t="$floor" -v n=$N 'BEGIN { printf "%.1f", (t - b) / n }'),
	  "libc_cost_vs_floor": $(awk -v r="$ratio" 'BEGIN { printf "%.3f", r }'),
	  "hits_per_cycle": $(awk -v a="$hits1" -v b="$hitsn" -v n=$N 'BEGIN { printf "%.3f", (b - a) / (n - 1) }')},
	EOF2
done 3<"$builds"

# Where a probe could sit, on pyenv 3.12's os.read loop with an empty program: libc's
# pthread_cond_signal entry (a push), or every call to it in libpython (a call, which the kernel
# emulates), as the route through the inlined copies would have them.
if [ -n "$py312" ]; then
	lib=$(dirname "$(dirname "$py312")")/lib/libpython3.12.so.1.0
	libc_path=$(libc_of pyenv-3.12)
	sites=$(objdump -d --no-show-raw-insn "$lib" | awk -v lib="$lib" '
		/call.*<pthread_cond_signal@plt>/ { sub(":", "", $1); printf "%s%s:0x%s", sep, lib, $1; sep = "," }')
	echo "  BENCH   pyenv-3.12: a probe at libc's entry vs at the call sites, $reps rounds" >&2
	for i in $(seq "$reps"); do
		with_build pyenv-3.12 @PY@ tests/python/os_read.py $N >"$tmp/site.$i.bare"
		with_build pyenv-3.12 "$out/bench/usdtrun" -u "$libc_path:0x$(signal_off "$libc_path")" -- @PY@ \
			tests/python/os_read.py $N >"$tmp/site.$i.entry"
		with_build pyenv-3.12 "$out/bench/usdtrun" -u "$sites" -- @PY@ tests/python/os_read.py $N \
			>"$tmp/site.$i.calls"
	done
	bare=$(median_cpu site bare)
	entry=$(median_cpu site entry)
	calls=$(median_cpu site calls)
	cat >>"$json" <<-EOF2
	"probe_site": {"call_sites": $(tr ',' '\n' <<<"$sites" | wc -l),
	  "cycle_ns_added_libc_entry": $(awk -v b="$bare" -v t="$entry" -v n=$N 'BEGIN { printf "%.1f", (t - b) / n }'),
	  "cycle_ns_added_call_sites": $(awk -v b="$bare" -v t="$calls" -v n=$N 'BEGIN { printf "%.1f", (t - b) / n }')},
	EOF2
fi

# --stacks on the hot path: it reads stacks only for a wait of at least --min-wait, so an
# uncontended cycle should cost what it costs without it. pyenv 3.12's os.read loop and libgil's
# cycle (cyclebench), traced with and without --stacks, alternately.
echo "  BENCH   --stacks on uncontended cycles: CPython and libgil, $reps rounds" >&2
for i in $(seq "$reps"); do
	with_build pyenv-3.12 "$out/gilstat" --python -j -o /dev/null -- @PY@ \
		tests/python/os_read.py $N >"$tmp/stk.$i.plain" 2>/dev/null
	with_build pyenv-3.12 "$out/gilstat" --python --stacks -j -o /dev/null -- @PY@ \
		tests/python/os_read.py $N >"$tmp/stk.$i.stacks" 2>/dev/null
	"$out/gilstat" -j -o /dev/null -- "$out/cyclebench" 20000 5 >"$tmp/cyc.$i.plain" 2>/dev/null
	"$out/gilstat" --stacks -j -o /dev/null -- "$out/cyclebench" 20000 5 >"$tmp/cyc.$i.stacks" \
		2>/dev/null
done
plain=$(median_cpu stk plain)
stacks=$(median_cpu stk stacks)
cyc_ns() { python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["cycle_ns"])' "$1" 2>/dev/null; }
cplain=$(for i in $(seq "$reps"); do cyc_ns "$tmp/cyc.$i.plain"; done | median)
cstacks=$(for i in $(seq "$reps"); do cyc_ns "$tmp/cyc.$i.stacks"; done | median)
cat >>"$json" <<EOF2
"stacks": {"python_cycle_ratio": $(awk -v a="$plain" -v b="$stacks" 'BEGIN { printf "%.3f", b / a }'),
  "libgil_cycle_ratio": $(awk -v a="$cplain" -v b="$cstacks" 'BEGIN { printf "%.3f", (a > 0) ? b / a : 0 }')},
EOF2

# Two threads spinning 2 s together: forced switches against 2 s / 5 ms, and the stripped copy
# against its twin, alternately.
echo "  BENCH   forced switches: pyenv 3.12 and its stripped copy, $reps rounds" >&2
for i in $(seq "$reps"); do
	for name in pyenv-3.12 pyenv-3.12-stripped; do
		with_build "$name" "$out/gilstat" --python -j -o "$tmp/spin.$name.$i.json" -- @PY@ \
			tests/python/spin_for.py 2 >"$tmp/spin.$name.$i.out" 2>/dev/null
	done
done
ratio() {
	for i in $(seq "$reps"); do
		python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
t = float(open(sys.argv[2]).read().split()[1])
print(r["forced_switches"] / (t / 0.005))' "$tmp/spin.$1.$i.json" "$tmp/spin.$1.$i.out"
	done | median
}
twin=$(ratio pyenv-3.12)
stripped=$(ratio pyenv-3.12-stripped)
cat >>"$json" <<EOF2
"forced": {"ratio_symbols_build": $twin, "ratio_stripped_copy": $stripped},
EOF2

# The tutorial's FastAPI /io under wrk, on Debian's python3 with Debian's packages: requests/s
# with gilstat attached (-p) against without, alternately, and the server's own CPU time per
# request (utime + stime over the requests served), which moves much less than the throughput
# on a shared machine. Each traced round starts once gilstat says it is tracing.
if /usr/bin/python3 -c 'import fastapi, uvicorn' 2>/dev/null && command -v wrk >/dev/null; then
	port=18731
	/usr/bin/python3 -m uvicorn --app-dir examples/fastapi app:app --host 127.0.0.1 \
		--port $port --log-level warning &
	server=$!
	for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:$port/io && break; sleep 0.2; done
	echo "  BENCH   FastAPI /io under wrk, untraced vs gilstat -p, $((3 * reps)) rounds" >&2
	cpu_ticks() { awk '{ print $14 + $15 }' /proc/$server/stat; }
	# round: "REQUESTS/S CPU-NS-PER-REQUEST" of 4 s of wrk
	round() {
		local c0 c1 out
		c0=$(cpu_ticks)
		out=$(wrk -t1 -c16 -d4s http://127.0.0.1:$port/io)
		c1=$(cpu_ticks)
		awk -v c=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '/Requests\/sec/ { rps = $2 }
			/requests in/ { n = $1 } END { printf "%s %.1f\n", rps, c * 1e9 / hz / n }' <<<"$out"
	}
	for i in $(seq $((3 * reps))); do
		round >>"$tmp/wrk.bare"
		"$out/gilstat" --python -p $server -j -o "$tmp/wrk.$i.json" 2>"$tmp/wrk.$i.err" &
		tracer=$!
		for _ in $(seq 200); do grep -q '^Tracing' "$tmp/wrk.$i.err" && break; sleep 0.05; done
		round >>"$tmp/wrk.traced"
		kill -INT $tracer
		wait $tracer || true
	done
	kill $server
	wait $server 2>/dev/null || true
	read -r lost cpu bare traced <<<"$(python3 - "$tmp/wrk.bare" "$tmp/wrk.traced" <<'EOF'
import statistics, sys
bare = [list(map(float, l.split())) for l in open(sys.argv[1])]
traced = [list(map(float, l.split())) for l in open(sys.argv[2])]
print("%.2f %.3f %.0f %.0f" % (
    statistics.median(100 * (b[0] - t[0]) / b[0] for b, t in zip(bare, traced)),
    statistics.median(t[1] / b[1] for b, t in zip(bare, traced)),
    statistics.median(b[0] for b in bare), statistics.median(t[0] for t in traced)))
EOF
)"
	cat >>"$json" <<-EOF2
	"fastapi_io": {"rps_untraced": $bare, "rps_traced": $traced,
	  "throughput_lost_pct": $lost, "server_cpu_per_request_ratio": $cpu},
	EOF2
fi
echo "\"reps\": $reps, \"cycles\": $N}" >>"$json"
python3 -m json.tool "$json" | tee "$out/bench-python.json"
