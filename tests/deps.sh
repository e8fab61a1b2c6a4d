#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/deps.sh, the first step of both of the README's commands, on machines it cannot be run on
# for real: dpkg-query, apt-get and id are shims first in PATH. dpkg-query answers from a list of
# "installed" packages and logs what it was asked; apt-get logs its arguments and installs nothing;
# id -u says root or not. GILSTAT_DEPS_DPKG_ONLY=1 keeps deps.sh from finding a package's command,
# header or module on this machine instead, so that each answer is known in advance; one run
# without it proves that a package with no such fallback does not stop deps.sh.
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
deps=$PWD/scripts/deps.sh
shims=$tmp/bin
mkdir -p "$shims"

cat >"$shims/dpkg-query" <<'EOF'
#!/bin/sh
# dpkg-query -W -f='${Status}' PACKAGE
for p; do :; done
echo "$p" >>"$DEPS_TEST/queried"
if grep -qx -- "$p" "$DEPS_TEST/installed"; then
	printf 'install ok installed'
else
	echo "dpkg-query: no packages found matching $p" >&2
	exit 1
fi
EOF
cat >"$shims/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >>"$DEPS_TEST/apt-get"
EOF
cat >"$shims/id" <<'EOF'
#!/bin/sh
[ "$1" = -u ] && { echo "$DEPS_TEST_UID"; exit 0; }
exec /usr/bin/id "$@"
EOF
chmod +x "$shims"/*

# run UID INSTALLED [DPKG_ONLY] [ARGS...]: deps.sh as user UID (0 is root) on a machine where
# dpkg has the packages INSTALLED (a space-separated list; "all" for every one deps.sh asks
# about); its stdout, stderr and exit status in $tmp/out, $tmp/err, $rc; what it asked dpkg-query,
# one a line, in $tmp/queried; each apt-get command line in $tmp/apt-get.
run() {
	local uid=$1 installed=$2 only=$3
	shift 3
	rm -f "$tmp/queried" "$tmp/apt-get"
	: >"$tmp/apt-get"
	if [ "$installed" = all ]; then
		# Every package deps.sh could ask about: those it asks when none is installed.
		run "$uid" "" 1 "$@"
		cp "$tmp/queried" "$tmp/installed"
		rm -f "$tmp/queried"
		: >"$tmp/apt-get"
	else
		tr ' ' '\n' <<<"$installed" >"$tmp/installed"
	fi
	: >"$tmp/queried"
	DEPS_TEST=$tmp DEPS_TEST_UID=$uid GILSTAT_DEPS_DPKG_ONLY=$only PATH="$shims:$PATH" \
		bash "$deps" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# install_line: the packages of apt-get's last "install" line, one a line, sorted.
install_line() {
	grep -E '(^| )install ' "$tmp/apt-get" | tail -n 1 | tr ' ' '\n' | grep -v '^-' |
		grep -vx install | sort
}
sorted() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort; }

# Nothing installed, as root: one apt-get install names every package deps.sh asked about.
run 0 "" 1
queried=$(sort -u "$tmp/queried")
has() { grep -qx "$1" <<<"$queried"; }
check "nothing installed: deps.sh asks dpkg about make, clang, libbpf-dev, libmicrohttpd-dev ..." \
	eval 'has make && has clang && has libbpf-dev && has libmicrohttpd-dev'
check "nothing installed, as root: deps.sh exits 0 once apt-get has installed them" [ "$rc" -eq 0 ]
check "nothing installed, as root: the apt-get install line names every missing package, no other" \
	eval '[ -n "$queried" ] && [ "$(install_line)" = "$queried" ]'
check "nothing installed, as root: apt-get install -y, without recommends" \
	grep -qE 'install -y .*--no-install-recommends' "$tmp/apt-get"
check "nothing installed, as root: one DEPS line names what deps.sh installs" \
	eval '[ "$(sorted "$(sed -n "s/^  DEPS    //p" "$tmp/out")")" = "$queried" ]'
check "bpftrace only for the benchmarks (deps.sh --bench)" \
	eval '! has bpftrace && run 0 "" 1 --bench && grep -qx bpftrace "$tmp/queried"'

# Some installed: only the others are installed.
run 0 "make gcc clang libbpf-dev python3" 1
check "make, gcc, clang, libbpf-dev and python3 installed: apt-get names exactly the others" \
	eval 'others=$(grep -vxE "make|gcc|clang|libbpf-dev|python3" <<<"$queried")
	      [ "$(install_line)" = "$others" ]'

# Everything installed: quiet, exit 0, no apt-get.
run 0 all 1
check "everything installed, as root: deps.sh exits 0" [ "$rc" -eq 0 ]
check "everything installed, as root: deps.sh prints nothing" \
	eval '[ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]'
check "everything installed, as root: apt-get is not run" [ ! -s "$tmp/apt-get" ]
run 1000 all 1
check "everything installed, not root: deps.sh exits 0 and prints nothing" \
	eval '[ "$rc" -eq 0 ] && [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]'

# Not root: deps.sh installs nothing and names the one command that would.
run 1000 "" 1
check "nothing installed, not root: deps.sh exits 1" [ "$rc" -eq 1 ]
check "nothing installed, not root: apt-get is not run" [ ! -s "$tmp/apt-get" ]
cmd=$(sed -n 's/^gilstat: missing packages; run: //p' "$tmp/err")
check "nothing installed, not root: one line, naming sudo apt-get install -y and every package" \
	eval '[ "$(wc -l <"$tmp/err")" -eq 1 ] && [ "${cmd%% apt-get install -y *}" = sudo ] &&
	      [ "$(sorted "${cmd#sudo apt-get install -y }")" = "$queried" ]'
run 1000 "$(grep -vx libmicrohttpd-dev <<<"$queried" | tr '\n' ' ')" 1
msg="gilstat: missing packages; run: sudo apt-get install -y libmicrohttpd-dev"
check "only libmicrohttpd-dev missing, not root: '$msg'" [ "$(cat "$tmp/err")" = "$msg" ]

# With deps.sh's own look for commands, headers and modules: a package it has none for
# (libmicrohttpd-dev) is simply missing when dpkg does not have it, and deps.sh goes on.
run 0 "" 0
check "nothing installed, commands and headers looked for too: deps.sh exits 0" [ "$rc" -eq 0 ]
check "nothing installed, commands and headers looked for too: libmicrohttpd-dev is installed" \
	eval 'install_line | grep -qx libmicrohttpd-dev'
check "nothing installed, commands and headers looked for too: nothing on stderr" \
	[ ! -s "$tmp/err" ]
done_testing
