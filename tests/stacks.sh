#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: long
# Who holds the GIL: thread names in -L, -P and JSON (the kernel's comm, kept for threads that
# ended before the report).
set -u
. "$(dirname "$0")/lib.sh"
PROGS=$(dirname "$0")/python
make_tmp
need_root "gilstat thread names and stacks"

# gilwork names its threads by role: cpu-N, io, echo; all have ended when the report is made.
"$GILSTAT" -L -j -o "$tmp/names.json" -- "$GILWORK" convoy --threads 2 --seconds 0.2 \
	>/dev/null 2>"$tmp/names.err"
check "-L in JSON names gilwork's threads cpu-1, cpu-2 and io, which ended before the report" \
	python3 - "$tmp/names.json" <<-'PYEOF'
	import json, sys
	r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
	names = {g["comm"] for g in r["groups"]}
	print("# names:", sorted(names))
	sys.exit(not {"cpu-1", "cpu-2", "io"} <= names)
	PYEOF
"$GILSTAT" -L -P -- "$GILWORK" convoy --threads 1 --seconds 0.1 >"$tmp/names.txt" 2>&1
check "-L in text: a section header names the thread (TID N cpu-1 (PID M))" \
	grep -qE '^==== TID [0-9]+ cpu-1 \(PID [0-9]+\) ====$' "$tmp/names.txt"
"$GILSTAT" -P -j -o "$tmp/proc.json" -- "$GILWORK" convoy --threads 1 --seconds 0.1 \
	>/dev/null 2>&1
check "-P in JSON names the process gilwork" \
	python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]);
sys.exit(r["groups"][0]["comm"] != "gilwork")' "$tmp/proc.json"

# CPython 3.14 gives threading.Thread.name to the kernel: sid's build, when it is in the cache.
sid14=
if scripts/sid-python.sh >/dev/null 2>"$tmp/sid.err"; then
	scripts/sid-python.sh --print >"$tmp/sid.list"
	sid14=$(awk '$1 ~ /^3\.14/ { print $2 }' "$tmp/sid.list")
fi
if [ -n "$sid14" ]; then
	PYTHONHOME=$(dirname "$(dirname "$sid14")")/usr "$GILSTAT" --python -L -j \
		-o "$tmp/py314.json" -- "$sid14" "$PROGS/named_threads.py" >/dev/null 2>&1
	check "CPython 3.14: -L names the threads worker-1 and worker-2 (threading.Thread.name)" \
		python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]);
sys.exit(not {"worker-1","worker-2"} <= {g["comm"] for g in r["groups"]})' "$tmp/py314.json"
else
	# as in pybuilds.sh: only an archive out of reach excuses it
	skip_cannot "CPython 3.14 thread names" "scripts/sid-python.sh: $(tail -1 "$tmp/sid.err")"
fi

# --stacks against a known culprit: culprit() holds the GIL ~20 ms per call; the I/O thread's
# long waits are all its doing. The top row names it and its file:line (the function's first
# line); the wait charged to it is at least the I/O thread's long waits in gilstat's own -L
# histogram (its total less its waits under 1 ms, which the check prints), and at most the long
# waits of every thread but the culprit's own, 5% either way: the main and idle threads wait
# behind it too when they wake, and on a loaded machine each such wait is longer.
stack_check() { # NAME PYTHON [ENV...]
	local name=$1 py=$2 out=$tmp/stacks-$1
	shift 2
	env "$@" "$GILSTAT" --python -L -j -o "$out.json" --folded "$out.folded" \
		--flamegraph "$out.svg" -- "$py" "$PROGS/culprit.py" 3 </dev/null >/dev/null 2>"$out.err"
	check "$name: --stacks: culprit (culprit.py:15) first, charged the I/O thread's long waits" \
		python3 - "$out.json" <<-'PYEOF'
	import json, sys
	r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
	h, w = r["stacks"]["holders"], r["stacks"]["waiters"]
	top = h[0]
	io_tid = [x for x in w if x["function"] == "io"][0]["tid"]
	def long_waits(tid):
	    g = [x for x in r["groups"] if x["tid"] == tid][0]["wait_ns"]
	    short = sum(b["count"] * b["high"] for b in g["buckets"] if b["high"] < 1000000)
	    return g["total"] - short, short
	io_long, short = long_waits(io_tid)
	others_long = sum(long_waits(g["tid"])[0] for g in r["groups"] if g["tid"] != top["tid"])
	print("# top: %s %s:%d charged %.1f ms; I/O thread's long waits %.1f ms (%.3f ms in waits"
	      " < 1 ms), every other thread's %.1f ms"
	      % (top["function"], top["file"].rsplit("/", 1)[-1], top["line"], top["total_ns"] / 1e6,
	         io_long / 1e6, short / 1e6, others_long / 1e6))
	ok = (top["function"] == "culprit" and top["file"].endswith("culprit.py") and top["line"] == 15
	      and 0.95 * io_long <= top["total_ns"] <= 1.05 * others_long)
	sys.exit(not ok)
	PYEOF
	check "$name: --stacks: the waiter that waited longest is io (culprit.py:24), behind culprit" \
		python3 - "$out.json" <<-'PYEOF'
	import json, sys
	r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
	top, pair = r["stacks"]["waiters"][0], r["stacks"]["pairs"][0]
	print("# top waiter: %s %s:%d, %.1f ms; top pair: %s held while %s waited, %.1f ms"
	      % (top["function"], top["file"].rsplit("/", 1)[-1], top["line"], top["total_ns"] / 1e6,
	         pair["holder"]["function"], pair["waiter"]["function"], pair["total_ns"] / 1e6))
	sys.exit(not (top["function"] == "io" and top["file"].endswith("culprit.py")
		      and top["line"] == 24 and pair["holder"]["function"] == "culprit"
		      and pair["waiter"]["function"] == "io" and pair["waiter"]["line"] == 24))
	PYEOF
	# the frames an interpreter pushes where C calls into Python (None in 3.13 and later, a
	# trampoline in 3.12) are no function's: the culprit's stack starts at Thread._bootstrap
	check "$name: --folded: culprit's heaviest stack starts at Thread._bootstrap, no entry frame" \
		python3 - "$out.folded" <<-'PYEOF'
	import collections, re, sys
	stacks = collections.Counter()
	for line in open(sys.argv[1]).read().splitlines():
	    stack, weight = line.rsplit(" ", 1)
	    stacks[stack.split(";--;")[0]] += int(weight)
	holder = [s for s, _ in stacks.most_common() if s.endswith("culprit (culprit.py:15)")][0]
	print("# heaviest:", holder[:200])
	# before 3.11, code objects have no qualified name: _bootstrap
	sys.exit(not re.match(r"(Thread\.)?_bootstrap \(threading\.py:", holder)
		 or "<shim>" in holder or "[unknown]" in holder)
	PYEOF
}
for v in 3.9 3.11 3.12 3.13; do
	py=$(ls -d "$PYENV_VERSIONS/$v".*/bin/python3 2>/dev/null | head -1)
	if [ -n "$py" ]; then stack_check "pyenv $v" "$py"; else skip_pyenv "pyenv $v --stacks" "no $v"; fi
done
if [ -x /usr/bin/python3.11 ]; then
	stack_check "Debian's stripped python3.11" /usr/bin/python3.11
	# a wrapper that execs its interpreter later, as pyenv's shims do: the memory gilstat
	# names code objects from is the interpreter's, not the shell's
	mkdir "$tmp/shim"
	printf '#!/bin/sh\nexec /usr/bin/python3.11 "$@"\n' >"$tmp/shim/python3"
	chmod +x "$tmp/shim/python3"
	stack_check "a shell script python3 that execs python3.11" "$tmp/shim/python3"
else
	skip "Debian's python3.11 --stacks" "/usr/bin/python3.11 is not installed"
fi
# 3.13 and later through their _Py_DebugOffsets (3.14's frames hold tagged references): sid's
# stripped builds
if [ -s "$tmp/sid.list" ]; then
	while read -r version sidpy; do
		stack_check "sid's stripped python${version%.*}" "$sidpy" \
			PYTHONHOME="$(dirname "$(dirname "$sidpy")")/usr"
	done <"$tmp/sid.list"
else
	skip_cannot "sid's python3.13-3.15 --stacks" "scripts/sid-python.sh: $(tail -1 "$tmp/sid.err")"
fi

# The folded stacks and the flame graph of the last run: "X held the GIL while Y waited" as one
# path, the holder's frames, "--", then the waiter's from where it asked. The heaviest pair of
# holder and waiter is culprit and io, as in the pairs table, and the weights add up to the waits
# the JSON report charged (each line rounded to a us).
last=$tmp/stacks-pyenv\ 3.13
[ -f "$last.svg" ] || last=$tmp/stacks-Debian\'s\ stripped\ python3.11
check "--folded: 'holder frames;--;waiter frames weight', the heaviest pair culprit and io" \
	python3 - "$last.folded" "$last.json" <<-'PYEOF'
	import collections, json, sys
	pairs, lines = collections.Counter(), open(sys.argv[1]).read().splitlines()
	for line in lines:
	    stack, weight = line.rsplit(" ", 1)
	    holder, waiter = stack.split(";--;")
	    pairs[(holder.split(";")[-1], waiter.split(";")[0])] += int(weight)
	(held, waited), weight = pairs.most_common(1)[0]
	r = json.loads(open(sys.argv[2]).read().splitlines()[-1])
	charged = sum(p["total_ns"] for p in r["stacks"]["pairs"]) / 1e3
	print("# heaviest: %s held while %s waited, %d us; %d us in all, %.0f us in the report"
	      % (held, waited, weight, sum(pairs.values()), charged))
	sys.exit(not (held.startswith("culprit (culprit.py:15)")
		      and waited.startswith("io (culprit.py:24)")
		      and abs(sum(pairs.values()) - charged) <= len(lines)))
	PYEOF
if command -v xmllint >/dev/null; then
	check "--flamegraph: the SVG parses (xmllint)" xmllint --noout "$last.svg"
else
	skip "--flamegraph parses" "xmllint is not installed (libxml2-utils)"
fi
# A frame's parent is the frame a row below it that spans it.
check "--flamegraph: the widest separator stands on culprit, io the widest frame above it" \
	python3 - "$last.svg" <<-'PYEOF'
	import sys, xml.etree.ElementTree as ET
	ns = {"s": "http://www.w3.org/2000/svg"}
	g = [(e.find("s:title", ns).text, e.find("s:rect", ns).attrib)
	     for e in ET.parse(sys.argv[1]).getroot().iter("{http://www.w3.org/2000/svg}g")]
	frames = [(t, float(a["x"]), float(a["y"]), float(a["width"])) for t, a in g]
	row = min(abs(a[2] - b[2]) for a in frames for b in frames if a[2] != b[2])
	sep = max((f for f in frames if f[0].startswith("-- (")), key=lambda f: f[3])
	def within(inner, outer):  # x and width are printed to 0.1
	    return (inner[1] >= outer[1] - 0.15
	            and inner[1] + inner[3] <= outer[1] + outer[3] + 0.15)
	below = [f for f in frames if abs(f[2] - sep[2] - row) < 0.1 and within(sep, f)]
	above = [f for f in frames if abs(sep[2] - f[2] - row) < 0.1 and within(f, sep)]
	top = max(above, key=lambda f: f[3]) if above else ("none",)
	print("# widest separator on:", below[0][0] if below else "none", "; widest above:", top[0])
	sys.exit(not (below and below[0][0].startswith("culprit (")
		      and top[0].startswith("io (")))
	PYEOF

# libgil: gilwork convoy's CPU thread spins in gw_spin(), the top native frame of the holders.
"$GILSTAT" --stacks -j -o "$tmp/convoy.json" --folded "$tmp/convoy.folded" -- "$GILWORK" convoy \
	--threads 1 --seconds 0.5 >/dev/null 2>&1
check "gilwork convoy: the top holder is cpu-1 in gw_spin (native frames, libdwfl)" \
	python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]);
h=r["stacks"]["holders"][0]; print("# top:", h["comm"], h["function"], h["file"], h["line"]);
sys.exit(not (h["function"] == "gw_spin" and h["comm"] == "cpu-1"))' "$tmp/convoy.json"
check "gilwork convoy: folded stacks run from start_thread through gw_spin" \
	grep -q '^start_thread;cpu_main;gw_spin;' "$tmp/convoy.folded"

# Bad input. A limit shallower than the stack: truncated, and marked.
"$GILSTAT" --stacks --stack-depth 2 --folded "$tmp/shallow.folded" -- "$GILWORK" convoy \
	--threads 1 --seconds 0.3 >/dev/null 2>&1
check "--stack-depth 2: holders' stacks cut to 2 frames, marked [truncated] at their root" \
	awk -F' ' '{ n = split($1, f, ";"); if (f[1] != "[truncated]" || f[4] != "--") bad = 1 }
		END { exit bad || NR == 0 }' "$tmp/shallow.folded"
# An unwritable --folded or --flamegraph path: one line, exit 2, before anything is attached.
for opt in --folded --flamegraph; do
	"$GILSTAT" $opt /nonexistent/dir/out -- "$GILWORK" convoy --seconds 0.1 \
		>"$tmp/bad.out" 2>"$tmp/bad.err"
	rc=$?
	check "$opt to an unwritable path: exit 2, one line, nothing run" \
		test "$rc" -eq 2 -a "$(wc -l <"$tmp/bad.err")" -eq 1 -a ! -s "$tmp/bad.out"
done
# A Python whose frame layout is unknown here (3.7): stacks off with one line, the rest goes on.
py37=$(ls -d "$PYENV_VERSIONS"/3.7.*/bin/python3 2>/dev/null | head -1)
if [ -n "$py37" ]; then
	"$GILSTAT" --python --stacks -j -o "$tmp/py37.json" -- "$py37" "$PROGS/cpu_work.py" \
		>/dev/null 2>"$tmp/py37.err"
	check "CPython 3.7 --stacks: one line says why there are no Python frames, the report follows" \
		python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]);
e=open(sys.argv[2]).read(); print("#", e.strip()); sys.exit(not (r["acquisitions"] > 0 and
"native stacks only" in e))' "$tmp/py37.json" "$tmp/py37.err"
else
	skip_pyenv "CPython 3.7 --stacks" "no pyenv 3.7"
fi
check_schema "$tmp"/*.json
done_testing
