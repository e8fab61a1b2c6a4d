#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# libgil's USDT probes as a tracer finds them: the stapsdt notes of libgil.so (provider gil, one
# semaphore per probe, arguments libbpf can parse), the 5-byte nop at every probe site, and no
# probes at all in libgil-noprobes.a.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

lib=$OUTPUT/libgil.so
noprobes=$OUTPUT/libgil-noprobes.a
for f in "$lib" "$OUTPUT/libgil.a" "$noprobes"; do
	[ -f "$f" ] || { not_ok "$f is built (run make first)"; done_testing; }
done

# One line per probe site: provider name location semaphore arguments...
sites=$(readelf -n "$lib" | awk '
	/Provider:/ { prov = $2 }
	/Name:/ { name = $2 }
	/Location:/ { loc = $2; sem = $6; sub(",", "", loc) }
	/Arguments:/ { $1 = ""; print prov, name, loc, sem $0 }')

# The section that holds the semaphores, which tracers increment: .probes, as gil_probes.h places them.
read -r probes_addr probes_size < <(readelf -SW "$lib" |
	awk '$2 == ".probes" { print "0x" $4, "0x" $6 } $3 == ".probes" { print "0x" $5, "0x" $7 }')

# probe NAME NARGS: the note exists once or more, each with a semaphore in .probes and NARGS
# arguments, the first the struct gil pointer.
probe() {
	local name=$1 nargs=$2 lines bad=0
	lines=$(awk -v n="$name" '$1 == "gil" && $2 == n' <<<"$sites")
	if [ -z "$lines" ]; then
		not_ok "gil:$name is in the notes of $lib"
		return
	fi
	ok "gil:$name is in the notes of $lib"
	while read -r _ _ _ sem args; do
		set -- $args
		[ $# -eq "$nargs" ] || bad=1
		case $1 in 8@*) ;; *) bad=1 ;; esac
		if [ -z "${probes_addr:-}" ] || [ $((sem)) -eq 0 ] ||
		   [ $((sem)) -lt $((probes_addr)) ] ||
		   [ $((sem)) -ge $((probes_addr + probes_size)) ]; then
			bad=2
		fi
	done <<<"$lines"
	case $bad in
	0) ok "gil:$name has $nargs arguments and a semaphore in .probes" ;;
	1) not_ok "gil:$name has $nargs arguments, the first a pointer: $lines" ;;
	2) not_ok "gil:$name has a semaphore in .probes ($probes_addr+$probes_size): $lines" ;;
	esac
}
probe acquire 5
probe release 4
probe wait__start 2

# libbpf 1.1.2 reads %reg, off(%reg) and $imm, not SIB forms such as off(%reg,%reg,scale).
if [ -z "$sites" ] || awk '{ for (i = 5; i <= NF; i++) print $i }' <<<"$sites" |
	grep -qvE '^-?[0-9]+@(%[a-z0-9]+|-?[0-9]*\(%[a-z0-9]+\)|\$-?[0-9]+)$'; then
	not_ok "every probe argument has a form libbpf parses: $(awk '{ $1 = $1; print }' <<<"$sites")"
else
	ok "every probe argument has a form libbpf parses"
fi

# On x86-64 argument N is in call register N, which gilstat reads without decoding the notes.
if [ "$(uname -m)" = x86_64 ]; then
	regs=(%rdi %rsi %rdx %rcx %r8)
	bad=$(while read -r _ name _ _ args; do
		i=0
		for a in $args; do
			[ "$a" = "8@${regs[$i]}" ] || echo "gil:$name $args"
			i=$((i + 1))
		done
	done <<<"$sites")
	check "every argument in its call register (rdi, rsi, rdx, rcx, r8): ${bad:-all}" \
		[ -n "$sites" -a -z "$bad" ]
fi

# Every site is nopl 0x0(%rax,%rax,1), which the kernel optimises, not sys/sdt.h's 1-byte nop.
nsites=0 nop5=0
while read -r _ name loc _; do
	[ -n "$loc" ] || continue
	nsites=$((nsites + 1))
	bytes=$(objdump -d --start-address=$((loc)) --stop-address=$((loc + 5)) "$lib" |
		awk -F'\t' '/^ *[0-9a-f]+:\t/ { printf "%s", $2 }' | tr -s ' ' | sed 's/ $//')
	if [ "$bytes" = "0f 1f 44 00 00" ]; then
		nop5=$((nop5 + 1))
	else
		echo "# gil:$name at $loc: $bytes"
	fi
done <<<"$sites"
if [ "$nsites" -ge 3 ] && [ "$nop5" -eq "$nsites" ]; then
	ok "all $nsites probe sites are the 5-byte nop 0f 1f 44 00 00"
else
	not_ok "all probe sites are the 5-byte nop 0f 1f 44 00 00 ($nop5 of $nsites)"
fi

check "libgil.a carries the probes too" grep -q stapsdt <(readelf -n "$OUTPUT/libgil.a")
if readelf -n "$noprobes" | grep -q stapsdt; then
	not_ok "libgil-noprobes.a has no stapsdt notes"
else
	ok "libgil-noprobes.a has no stapsdt notes"
fi
if readelf -SW "$noprobes" | grep -q '\.probes'; then
	not_ok "libgil-noprobes.a has no probe semaphores"
else
	ok "libgil-noprobes.a has no probe semaphores"
fi

done_testing
