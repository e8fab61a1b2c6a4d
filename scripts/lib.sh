# SPDX-License-Identifier: GPL-2.0
# Shared by the benchmark scripts (bench*.sh, fidelity.sh) and the tests that need the same.

# wait_quiet SECONDS: waits at most SECONDS for the CPUs to be 90% idle over half a second, and
# returns 0 either way. Other work on a shared machine skews a timing: starting on a quiet machine
# spares a run the worst bursts of it.
wait_quiet() {
	local deadline=$((SECONDS + $1)) total idle k
	local -a a b

	while ((SECONDS < deadline)); do
		read -ra a </proc/stat
		sleep 0.5
		read -ra b </proc/stat
		total=0
		for k in 1 2 3 4 5 6 7 8; do
			total=$((total + b[k] - a[k]))
		done
		idle=$((b[4] - a[4] + b[5] - a[5]))
		((idle * 10 >= total * 9)) && return 0
	done
	return 0
}

# bpf_map_entries PID NAME: the entries of PID's BPF map of that name (found through its
# descriptors); 0 when it has none.
bpf_map_entries() {
	local id
	for id in $(grep -h '^map_id:' /proc/$1/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u); do
		if bpftool map show id "$id" 2>/dev/null | grep -q " name $2 "; then
			bpftool map dump id "$id" 2>/dev/null | grep -c '^key:\|"key"'
			return
		fi
	done
	echo 0
}

# anon_rss_kb PID: PID's own memory. File pages are the shared libraries' text, paged in and out.
anon_rss_kb() { awk '/^RssAnon/ {print $2}' /proc/$1/status; }
