#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Faults: however gilstat ends, nothing stays attached, and however its target ends, gilstat ends
# with the report so far.
#  - Detach, proved three ways: the BPF programs and links gilstat's file descriptors held no longer
#    exist (a link lives only as long as the descriptors and pins that hold it, and gilstat pins
#    nothing); the probes' semaphores in the target, which the kernel raises for each attached
#    uprobe, are back to 0; the probe sites in the target's memory are libgil's 5-byte nops again.
#  - The target crashing (SIGSEGV) or being killed (SIGKILL), as a command and with -p.
#  - A target that forks: the children are not followed, the report says so, and they run fine.
# tests/gilstat.sh covers SIGINT, SIGTERM and SIGHUP and the programs left after them.
set -u
. "$(dirname "$0")/lib.sh"
SPIN=$OUTPUT/tests/gilspin
CYCLE=$OUTPUT/tests/gilcycle
LIB=$OUTPUT/libgil.so
CHECK="python3 tests/jsoncheck.py"
export GIL_STATS=1
make_tmp
need_root "gilstat faults"

# probes_state PID: "attached" when every probe of PID has its semaphore raised and its site
# patched, "detached" when every one is back to 0 and to the nop, else the raw state.
probes_state() {
	python3 tests/usdtstate.py "$1" "$LIB" | awk '
		{ n++; if ($2 > 0 && $3 != "0f1f440000") a++; if ($2 == 0 && $3 == "0f1f440000") d++ }
		END { if (n && a == n) print "attached"; else if (n && d == n) print "detached"; else print "mixed" }'
}

# uprobe_events: the uprobes tracefs lists. Where tracefs is not mounted it is mounted for the read
# in a mount namespace of its own, which ends with the read: nothing on the machine changes.
uprobe_events() {
	local f=/sys/kernel/tracing/uprobe_events
	if [ -r $f ]; then
		cat $f
	else
		unshare -m sh -c "mount -t tracefs nodev ${f%/*} && cat $f"
	fi
}

# detach_proof HOW: gilstat -p on a spinning target, ended by HOW (a kill signal); every way of
# showing that nothing stays attached.
detach_proof() {
	local how=$1 target g held progs links events
	$SPIN 2 0 >/dev/null &
	target=$!
	wait_mapped $target libgil
	# A file of this run's own: one left by the previous run would say "attached" at once.
	$GILSTAT -p $target >/dev/null 2>"$tmp/detach.$how.err" &
	g=$!
	if ! wait_attached "$tmp/detach.$how.err"; then
		not_ok "$how: gilstat attached"
		kill -9 $g $target
		return
	fi
	# Let every probe fire, so that the kernel has patched every site.
	sleep 0.5
	held=$(bpf_objects_of $g)
	progs=$(grep '^prog' <<<"$held")
	links=$(grep '^link' <<<"$held")
	check "$how: while attached, gilstat's descriptors hold its programs and links" \
		[ "$(wc -l <<<"$progs")" -ge 4 -a "$(wc -l <<<"$links")" -ge 4 ]
	check "$how: while attached, the target's semaphores are raised and its sites patched" \
		[ "$(probes_state $target)" = attached ]
	kill -"$how" $g
	wait $g 2>/dev/null
	check "$how: no BPF link of gilstat's is left ($(echo ${links//link /}))" \
		bpf_objects_gone "$links"
	check "$how: no BPF program of gilstat's is left" bpf_objects_gone "$progs"
	check "$how: the target's semaphores are 0 and its probe sites nops again" \
		[ "$(probes_state $target)" = detached ]
	if events=$(uprobe_events); then
		check "$how: no uprobe left in tracefs" \
			[ -z "$(grep -F "$(realpath $LIB)" <<<"$events")" ]
	else
		skip_cannot "$how: no uprobe left in tracefs" \
			"tracefs cannot be mounted (the semaphores prove it)"
	fi
	check "$how: the target runs on" kill -0 $target
	kill $target
	wait $target
}
detach_proof KILL
detach_proof TERM

# The target crashes or is killed while traced: gilstat reports what it saw and exits as the
# target did (128 + the signal), promptly.
timeout 60 $GILSTAT -j -o "$tmp/segv.json" -- $CYCLE -c 4 200000 >/dev/null 2>&1
check "command crashes (SIGSEGV while holding the GIL): gilstat exits 139" [ $? -eq 139 ]
check "command crashes: the final report has what happened before" \
	[ "$($CHECK get "$tmp/segv.json" final)" = True \
	  -a "$($CHECK get "$tmp/segv.json" acquisitions)" -gt 0 ]

has_child() { [ -n "$(children_of "$1")" ]; }
$GILSTAT -j -o "$tmp/kill.json" -- $SPIN 2 0 >/dev/null 2>"$tmp/kill.err" &
g=$!
# The command spins until killed: on a loaded machine gilstat's start can outlast any wait, so
# the kill waits for the traced command itself, and gilstat is ended if it never comes.
if wait_for 60 has_child $g && wait_for 60 grep -q '^Tracing the GIL' "$tmp/kill.err"; then
	sleep 0.3
	kill -KILL $(children_of $g)
fi
timeout 10 tail --pid=$g -f /dev/null || kill -KILL $g $(children_of $g) 2>/dev/null
wait $g
check "command killed (SIGKILL): gilstat exits 137" [ $? -eq 137 ]
check "command killed: the final report is printed" \
	[ "$($CHECK get "$tmp/kill.json" final)" = True \
	  -a "$($CHECK get "$tmp/kill.json" acquisitions)" -gt 0 ]

for sig in SEGV KILL; do
	$SPIN 2 0 >/dev/null 2>&1 &
	target=$!
	wait_mapped $target libgil
	$GILSTAT -j -p $target >"$tmp/p$sig.json" 2>"$tmp/p$sig.err" &
	g=$!
	wait_attached "$tmp/p$sig.err"
	sleep 0.3
	kill -$sig $target
	wait $target 2>/dev/null
	timeout 10 tail --pid=$g -f /dev/null
	wait $g
	check "-p target dies of SIG$sig: gilstat exits 0 and says so" \
		[ $? -eq 0 -a "$(tail -1 "$tmp/p$sig.err")" = "gilstat: PID $target exited" ]
	check "-p target dies of SIG$sig: the final report is printed" \
		[ "$($CHECK get "$tmp/p$sig.json" final)" = True \
		  -a "$($CHECK get "$tmp/p$sig.json" acquisitions)" -gt 0 ]
done

# A target that forks. gilstat follows the PID it was given: the report counts the parent
# exactly, says that children were not followed, and the children, which inherit the parent's
# patched probe sites, still run.
$GILSTAT -j -o "$tmp/fork.json" -- $CYCLE -f 4 20000 >"$tmp/fork.truth" 2>"$tmp/fork.err"
check "fork: the traced parent and its child both exit 0" [ $? -eq 0 ]
check "fork: the report counts the parent exactly, none of the child's events" \
	$CHECK truth "$tmp/fork.truth" "$tmp/fork.json"
check "fork: JSON says 1 fork, children not followed" \
	[ "$($CHECK get "$tmp/fork.json" forks)" = 1 \
	  -a "$($CHECK get "$tmp/fork.json" children_followed)" = False ]
$GILSTAT -- $CYCLE -f 2 1000 >"$tmp/fork.txt" 2>/dev/null
pid=$(awk '/^Traced/ { print $5; exit }' "$tmp/fork.txt")
check "fork: the text report says 'children are not followed'" \
	grep -qx "note: PID $pid forked 1 process since tracing began; children are not followed" \
	"$tmp/fork.txt"
$GILSTAT -j -o "$tmp/nofork.json" -- $SPIN 2 100 >/dev/null 2>&1
check "no fork: the JSON says forks 0" \
	[ "$($CHECK get "$tmp/nofork.json" forks)" = 0 ]
$GILSTAT -- $GILWORK procs --threads 3 --work 300000 >"$tmp/procs.txt" 2>&1
check "gilwork procs (3 forked workers) under gilstat: every child succeeds" \
	[ $? -eq 0 -a -z "$(grep 'failed' "$tmp/procs.txt")" ]
check "gilwork procs: the report says 3 children were not followed" \
	grep -q "forked 3 processes since tracing began; children are not followed" "$tmp/procs.txt"

check_schema "$tmp"/*.json
done_testing
