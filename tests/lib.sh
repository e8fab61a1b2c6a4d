# SPDX-License-Identifier: GPL-2.0
# Shared by the integration scripts: TAP output, the paths of what was built, and the steps every
# script that runs gilstat takes (root, a temporary directory, waiting for the attach, proving that
# nothing stays attached).
OUTPUT=${OUTPUT:-build}
GILSTAT=${GILSTAT:-$OUTPUT/gilstat}
GILWORK=${GILWORK:-$OUTPUT/gilwork}
# A stripped build's symbols are never asked of a debuginfod server off this machine.
unset DEBUGINFOD_URLS
tap_n=0
tap_failed=0

ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_failed=1; echo "not ok $tap_n - $*"; }
# skip WHAT WHY: WHAT did not run although this machine should run it: root, or a tool or an
# interpreter that the deps step installs (or pyenv, where it is), is missing. tests/run.sh lists
# it and fails the run.
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP should have run: $2"; }
# skip_cannot WHAT WHY: WHAT cannot run on this machine (no free-threaded CPython exists here, a
# sanitizer's limit); tests/run.sh lists it and the run still passes.
skip_cannot() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP cannot here: $2"; }
# skip_pyenv WHAT WHY: WHAT needs a pyenv build that is not there. A machine with pyenv should
# have every one of them; one without pyenv cannot run WHAT.
PYENV_VERSIONS=${PYENV_ROOT:-/root/.pyenv}/versions
skip_pyenv() {
	if [ -d "$PYENV_VERSIONS" ]; then skip "$@"; else skip_cannot "$@"; fi
}
# check DESCRIPTION COMMAND...: one test from a command's exit status.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# free_port: a TCP port nobody listens on now, on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for SECONDS COMMAND...: true as soon as COMMAND succeeds, false after SECONDS.
wait_for() {
	local i limit=$(($1 * 10))
	shift
	for ((i = 0; i < limit; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# wait_mapped PID NAME: waits until the loader has mapped a file of that name into PID (before it,
# gilstat -p finds no probes in it); fails after 10 s, however long a loaded machine takes.
wait_mapped() { wait_for 10 grep -q "$2" /proc/"$1"/maps; }
# replay FILE: the TAP lines a job of this script wrote (numbered by the job) as this script's own,
# numbered in turn; other lines as they are.
replay() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "${line#ok * - }" ;;
		"not ok "*) not_ok "${line#not ok * - }" ;;
		*) echo "$line" ;;
		esac
	done <"$1"
}
# in_parallel JOBS FUNCTION NAME...: FUNCTION NAME for each NAME, JOBS at a time, each in a job of
# its own whose output goes to $tmp/NAME.tap; then each one's output, in the order of the NAMEs.
# For checks that spend most of their time waiting (a program's start, gilstat's attach and
# detach); the caller has no other job running.
in_parallel() {
	local jobs=$1 fn=$2 name
	shift 2
	for name in "$@"; do
		while [ "$(jobs -pr | wc -l)" -ge "$jobs" ]; do wait -n; done
		(tap_n=0; "$fn" "$name") >"$tmp/$name.tap" 2>&1 &
	done
	wait
	for name in "$@"; do replay "$tmp/$name.tap"; done
}
# The script's exit status: non-zero when any test failed.
done_testing() { echo "1..$tap_n"; exit $tap_failed; }

# children_of PID: the processes whose parent is PID, one a line. Each /proc/N/stat is read on
# its own: a process that ends while they are read is passed over (awk, given them all, stops at
# the first it cannot open), and its comm may hold spaces and parentheses.
children_of() {
	local f line fields
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		# shellcheck disable=SC2206 # split on purpose: the fields after the comm
		fields=(${line##*) })
		[ "${fields[1]:-}" = "$1" ] && echo "${f//[^0-9]/}"
	done
	return 0
}

# metric PORT NAME: the value of an exporter's sample, NAME with its labels as a regex.
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | grep -E "^$2 " | cut -d' ' -f2
}

# prom_query PORT PROMQL: the value of the first result of an instant query to the Prometheus
# on PORT, or nothing.
prom_query() {
	curl -s --max-time 5 "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}

# need_root WHAT: unless this runs as root, which loading BPF programs needs, WHAT is skipped and
# the script ends.
need_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	skip "$1" "needs root to load BPF programs"
	done_testing
}

# need_tools WHAT TOOL...: unless every TOOL is installed, WHAT is skipped, naming the first
# missing one, and the script ends.
need_tools() {
	local what=$1 tool
	shift
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null; then
			skip "$what" "$tool is not installed (scripts/deps.sh installs it)"
			done_testing
		fi
	done
}

# make_tmp: a temporary directory in $tmp, removed at exit, when every background job left is
# killed too.
make_tmp() {
	tmp=$(mktemp -d)
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
}

# wait_attached ERR: waits until the gilstat whose stderr goes to the file ERR has attached, which
# it says with the line "Tracing the GIL ..."; fails after 10 s. ERR must be new to this run: one
# left by an earlier run would say so at once.
wait_attached() {
	for _ in $(seq 200); do
		grep -q '^Tracing the GIL' "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# schema_python: a python3 with the jsonschema module, which tests/schemacheck.py needs. Debian's
# has it once the deps step ran; a python3 ahead of it in PATH may not.
schema_python() {
	local py
	for py in python3 /usr/bin/python3; do
		$py -c 'import jsonschema' 2>/dev/null && echo $py && return 0
	done
	return 1
}

# check_schema FILE...: one test: every report in the FILEs, gilstat -j's output, matches
# docs/gilstat.schema.json.
check_schema() {
	local py
	if ! py=$(schema_python); then
		skip "JSON reports against docs/gilstat.schema.json" \
			"no python3 with the jsonschema module (python3-jsonschema)"
		return
	fi
	check "every JSON report gilstat wrote here matches docs/gilstat.schema.json" \
		$py tests/schemacheck.py docs/gilstat.schema.json "$@"
}

# bpf_objects_of PID: the BPF programs, links and maps PID's file descriptors hold, as "prog N",
# "link N", "map N", one a line.
bpf_objects_of() {
	grep -hE '^(prog|link|map)_id:' /proc/"$1"/fdinfo/* 2>/dev/null |
		sed -E 's/^(prog|link|map)_id:[[:space:]]*/\1 /' | sort -u
}

# bpf_objects_alive LIST: those of LIST (as bpf_objects_of prints it) the kernel still holds;
# fails when bpftool cannot list them, so that an empty answer always means "none".
bpf_objects_alive() {
	local kind out all=
	for kind in prog link map; do
		out=$(bpftool "$kind" show) || return 1
		all+=$(awk -v k="$kind" -F: '/^[0-9]+:/ { print k, $1 }' <<<"$out")$'\n'
	done
	comm -12 <(sort <<<"$1") <(sort <<<"$all")
}

# bpf_objects_gone LIST: waits until the kernel holds none of LIST's objects (it frees one a moment
# after its last descriptor closes), 5 s at most. Fails, saying why, when some are left, when LIST
# is empty (nothing would be proved) or when bpftool cannot list the kernel's objects.
bpf_objects_gone() {
	local left
	if [ -z "$1" ]; then
		echo "# no BPF object to look for"
		return 1
	fi
	for _ in $(seq 50); do
		if ! left=$(bpf_objects_alive "$1"); then
			echo "# bpftool cannot list the kernel's BPF objects"
			return 1
		fi
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	echo "# still held by the kernel:" $left
	return 1
}
