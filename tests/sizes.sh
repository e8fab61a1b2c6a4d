#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The layout docs/design.md promises, kept: no include cycle in userspace/ and bpf/, no file of userspace/ or bpf/ over MAX_FILE_LINES lines,
# no function there over MAX_FUNC_LINES (runtime/gil.c, which mirrors ceval_gil.c, is not among
# them). A function is measured from its name's line to its closing brace: the tree is formatted
# in the kernel's style (.clang-format), where a function's braces, and only a function's, stand
# alone at the start of a line. The script first proves that it can fail, on a file it writes.
# The limits can be lowered to see what is nearest them: MAX_FILE_LINES=500 tests/sizes.sh.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

MAX_FILE_LINES=${MAX_FILE_LINES:-800}
MAX_FUNC_LINES=${MAX_FUNC_LINES:-100}

# functions FILE...: "FILE:LINE NAME LINES" for each function, from its name's line (the line of
# its opening parenthesis, after the return type's lines) to its closing brace.
functions() {
	awk '
		FNR == 1 { head = 0 }
		/^[A-Za-z_].*\(/ && !/;[[:space:]]*$/ && !body { head = FNR; line = $0 }
		/^\{[[:space:]]*$/ && head { body = 1; start = head
			name = line; gsub(/__attribute__\(\(.*\)\)/, "", name); sub(/\(.*/, "", name); sub(/.*[ *]/, "", name) }
		/^\}/ && body { printf "%s:%d %s %d\n", FILENAME, start, name, FNR - start + 1
			body = 0; head = 0 }' "$@"
}

# include_edges: "FROM TO" for each quoted include of userspace/ and bpf/, each file named by its
# module: its path without .c or .h (a .c and its header are one module), the skeleton as the
# BPF object that it is generated from. An include is looked for beside the file, then in bpf/,
# userspace/ and runtime/, as the Makefile's -I options find it.
include_edges() {
	local f h to
	for f in userspace/*.[ch] bpf/*.[ch]; do
		grep -o '^#include "[^"]*"' "$f" | sed 's/^#include "//; s/"$//' | while read -r h; do
			case $h in *.skel.h) to=bpf/${h%.skel.h}.bpf.c ;;
			*) to=
			   for d in "$(dirname "$f")" bpf userspace runtime; do
				[ -f "$d/$h" ] && { to=$d/$h; break; }
			   done ;;
			esac
			[ -n "$to" ] && echo "${f%.[ch]} ${to%.[ch]}"
		done
	done | awk '$1 != $2' | sort -u
}

# The checker fails where it must: a function of MAX_FUNC_LINES + 1 lines is found and measured.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "static int too_long(int a,"
	echo "		    int b)"
	echo "{"
	for ((i = 0; i < MAX_FUNC_LINES - 3; i++)); do echo "	a += b;"; done
	echo "}"
} >"$tmp/long.c"
read -r _ name lines < <(functions "$tmp/long.c")
check "the measure finds a function of $((MAX_FUNC_LINES + 1)) lines ($name: $lines)" \
	test "$name" = too_long -a "$lines" -eq $((MAX_FUNC_LINES + 1))

files=$(ls userspace/*.[ch] bpf/*.[ch])
big=$(wc -l $files | awk -v max="$MAX_FILE_LINES" '$2 != "total" && $1 > max { print $2 " (" $1 ")" }')
if [ -z "$big" ]; then
	ok "no file of userspace/ or bpf/ over $MAX_FILE_LINES lines"
else
	not_ok "no file of userspace/ or bpf/ over $MAX_FILE_LINES lines: $(echo $big)"
fi

nr=$(functions $(ls userspace/*.c bpf/*.c bpf/*.bpf.h 2>/dev/null) | wc -l)
long=$(functions $(ls userspace/*.c bpf/*.c bpf/*.bpf.h 2>/dev/null) |
	awk -v max="$MAX_FUNC_LINES" '$3 > max { print $2 " in " $1 " (" $3 ")" }')
if [ -z "$long" ]; then
	ok "none of the $nr functions of userspace/ and bpf/ over $MAX_FUNC_LINES lines"
else
	not_ok "none of the $nr functions of userspace/ and bpf/ over $MAX_FUNC_LINES lines: $(echo $long)"
fi

# No include cycle: tsort, which orders the modules, fails on one, as it does on a made-up loop.
check "tsort refuses a loop of includes" bash -c '! printf "a b\nb a\n" | tsort >/dev/null 2>&1'
edges=$(include_edges)
if loop=$(tsort <<<"$edges" 2>&1 >/dev/null) && [ -z "$loop" ]; then
	ok "no include cycle among the $(wc -l <<<"$edges") includes of userspace/ and bpf/"
else
	not_ok "no include cycle among the includes of userspace/ and bpf/: $(echo $loop)"
fi
done_testing
