#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run.sh: alone
# The capabilities SECURITY.md says gilstat needs, checked by dropping them from a root gilstat
# (setpriv --bounding-set) against libgil programs run by nobody, one of them in a directory only
# nobody can read: CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH are needed, CAP_BPF and
# CAP_PERFMON add nothing to CAP_SYS_ADMIN.
set -u
. "$(dirname "$0")/lib.sh"
make_tmp
need_root "gilstat's capabilities"
if ! command -v setpriv >/dev/null || ! id nobody >/dev/null 2>&1; then
	skip "gilstat's capabilities" "needs setpriv and the user nobody"
	done_testing
fi
chmod 755 "$tmp"
mkdir -p "$tmp/open" "$tmp/private"
for d in open private; do
	cp "$OUTPUT/tests/gilspin" "$OUTPUT"/libgil.so.1 "$tmp/$d/"
done
chown -R nobody "$tmp/private"
chmod 700 "$tmp/private"

# as_nobody DIR: a gilspin of DIR run by nobody, its PID in $spin
as_nobody() {
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		env LD_LIBRARY_PATH="$tmp/$1" "$tmp/$1/gilspin" 2 0 >/dev/null 2>&1 &
	spin=$!
	wait_mapped $spin libgil
}
as_nobody open
open_spin=$spin
as_nobody private
private_spin=$spin

# acquisitions FILE PID: the acquisitions of PID in gilstat's JSON reports in FILE
acquisitions() {
	python3 - "$1" "$2" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("pid") == int(sys.argv[2]) and "groups" not in d:
        n += d["acquisitions"]
    n += sum(g["acquisitions"] for g in d.get("groups", []) if g["pid"] == int(sys.argv[2]))
print(n)
PY
}

# without CAPS... (setpriv's bounding-set list): gilstat ARGS, its output in $tmp/out, $tmp/err
without() {
	local drop=$1
	shift
	setpriv --inh-caps=-all --bounding-set="$drop" $GILSTAT "$@" >"$tmp/out" 2>"$tmp/err"
}

without -sys_admin -p $open_spin -j -d 1
rc=$?
check "without CAP_SYS_ADMIN: exit 1, saying uprobes need it" \
	eval '[ $rc -eq 1 ] && grep -q "^gilstat: needs root or CAP_SYS_ADMIN, which uprobes require" "$tmp/err"'
without -sys_ptrace -p $open_spin -j -d 1
rc=$?
check "without CAP_SYS_PTRACE: -p on another user's process exits 1" \
	eval '[ $rc -eq 1 ] && grep -q "^gilstat: cannot read /proc/$open_spin/exe: Permission denied$" "$tmp/err"'
without -sys_ptrace -a -P -j -d 1
check "without CAP_SYS_PTRACE: -a warns that it traces no other user's process" \
	grep -q "^gilstat: warning: without CAP_SYS_PTRACE, -a cannot read other users' processes" "$tmp/err"
check "without CAP_SYS_PTRACE: -a counts nothing of nobody's process" \
	[ "$(acquisitions "$tmp/out" $open_spin)" -eq 0 ]
without -bpf,-perfmon -p $open_spin -j -d 1
n=$(acquisitions "$tmp/out" $open_spin)
check "without CAP_BPF and CAP_PERFMON: -p counts ($n acquisitions)" [ "$n" -gt 0 ]
without -all,+sys_admin,+sys_ptrace,+dac_read_search -a -P -j -d 2
a=$(acquisitions "$tmp/out" $open_spin)
b=$(acquisitions "$tmp/out" $private_spin)
check "with CAP_SYS_ADMIN, CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only: -a counts both ($a, $b)" \
	[ $((a > 0 && b > 0)) -eq 1 ]
without -all,+sys_admin,+sys_ptrace -a -P -j -d 2
b=$(acquisitions "$tmp/out" $private_spin)
check "without CAP_DAC_READ_SEARCH: -a cannot read the private directory's library ($b)" \
	[ "$b" -eq 0 ]
kill $open_spin $private_spin
done_testing
