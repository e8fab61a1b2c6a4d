#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The integration scripts' own mistakes that make a check unable to fail, or unable to wait:
#  - `check WHAT [ A ] && [ B ]` runs B outside check: B's failure is never reported;
#  - the same with || (B then runs only when check printed "not ok" and is ignored);
#  - `wait_for N [ "$(probe)" = X ]`: the shell runs probe once, before wait_for, which then
#    retries a constant; a function that probes must be what wait_for calls.
# Inside quotes (check WHAT eval '[ A ] && [ B ]') the whole condition is check's command.
# A check's command is one command: a test joins conditions with -a inside one [ ], or calls a
# function.
set -u
. "$(dirname "$0")/lib.sh"

# check_statements FILE: each `check` statement of FILE on one line (continuations and quotes that
# span lines joined), prefixed with FILE:LINE.
check_statements() {
	awk -v f="$1" '
		stmt != "" { stmt = stmt " " $0 }
		stmt == "" && /^[ \t]*check / { stmt = $0; line = FNR }
		stmt != "" {
			if (sub(/\\$/, "", stmt)) next
			# a quote still open goes on on the next line
			if (gsub(/\047/, "\047", stmt) % 2) next
			print f ":" line ": " stmt
			stmt = ""
		}' "$1"
}

# Quoted text (an eval's or python -c's program) is the command's own: left out of the search.
cut_short=$(for t in tests/*.sh; do check_statements "$t"; done | sed "s/'[^']*'//g" |
	grep -E '\] *(&&|\|\|) *\[|\) *(&&|\|\|) *\[' || true)
check "no check's command is cut short by && or || outside it${cut_short:+: $cut_short}" \
	[ -z "$cut_short" ]

# wait_for's command given a command substitution inside [ ]: expanded once, never retried.
wait_once='wait_for [0-9]+ +\[[^]]*\$\('
once=$(grep -nE "$wait_once" tests/*.sh | grep -v '^tests/testlint.sh:' || true)
check "no wait_for retries a test whose value was taken once${once:+: $once}" [ -z "$once" ]

# The linter itself must find what it looks for.
printf 'check "x" \\\n\t[ 1 = 1 ] && [ 1 = 2 ]\n' >"${TMPDIR:-/tmp}/testlint.$$"
found=$(check_statements "${TMPDIR:-/tmp}/testlint.$$" | grep -cE '\] *(&&|\|\|) *\[')
rm -f "${TMPDIR:-/tmp}/testlint.$$"
check "the search finds a check cut short in a planted example" [ "$found" = 1 ]
found=$(printf '\twait_for 10 [ "$(metric 1 x)" = 1 ]\n' | grep -cE "$wait_once")
check "the search finds a wait_for of a value taken once in a planted example" [ "$found" = 1 ]

done_testing
