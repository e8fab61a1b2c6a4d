#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
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
	sid14=$(scripts/sid-python.sh --print | awk '$1 ~ /^3\.14/ { print $2 }')
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
check_schema "$tmp"/*.json
done_testing
