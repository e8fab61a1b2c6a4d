#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Gets Debian sid's CPython 3.13, 3.14 and 3.15 and makes them run on this machine, so that
# gilstat is tested on the stripped LTO+PGO builds that distributions ship. The system's apt
# sources and package state are left alone: apt runs on a configuration of its own, inside the
# cache folder.
#
# Usage: scripts/sid-python.sh [--print]
#   (none)   makes each interpreter ready (fetching only when one is not) and prints
#            "python3.X VERSION PATH" for each interpreter that is ready
#   --print  fetches nothing; prints "VERSION PATH" for each interpreter that is ready
# Run one as: PYTHONHOME=CACHE/usr CACHE/bin/python3.X
#
# CACHE is /var/cache/gilstat/sid, or $GILSTAT_SID_CACHE. The mirror is the one this machine's
# apt uses for Debian's archive (http://deb.debian.org/debian when it uses none), or
# $GILSTAT_SID_MIRROR. Exits 1, naming what was missing, when the mirror cannot be reached or
# sid lacks a package; the interpreters that could be made are made all the same.
set -eu
me=sid-python.sh
cache=${GILSTAT_SID_CACHE:-/var/cache/gilstat/sid}
versions=(3.13 3.14 3.15)
# The interpreter's shared libraries and those of the extension modules in lib-dynload. The
# libraries must all come from sid: Debian 12's are older than what sid's builds were linked
# against (e.g. its libcrypto lacks OPENSSL_3.3.0, which _ssl needs). libdb5.3t64 is for _dbm
# on 3.13 and 3.14. Not fetched: _gdbm (python3-gdbm) and tkinter (python3-tk), which Debian
# packages apart from the standard library.
libs=(libc6 zlib1g libexpat1 libzstd1 libffi8 libbz2-1.0 liblzma5 libssl3t64 libsqlite3-0
      libuuid1 libncursesw6 libtinfo6 libreadline8t64 libmpdec4 libgcc-s1 libdb5.3t64)
libdir=$cache/usr/lib/x86_64-linux-gnu

print_only=
case ${1:-} in
'') ;;
--print) print_only=1 ;;
*) echo "$me: unknown argument '$1' (usage: $me [--print])" >&2; exit 2 ;;
esac

packages_of() {
	echo "python$1-minimal libpython$1-minimal libpython$1-stdlib"
}

# ready V: prints V's full version when CACHE/bin/pythonV runs and imports what gilstat's tests
# use (sub-interpreters; concurrent.interpreters from 3.14 on). The environment is emptied so
# that no PYTHONPATH or PYTHONSTARTUP of the caller's takes part.
ready() {
	local code='import sys, threading, os, _interpreters'
	[ "$1" = 3.13 ] || code+=', concurrent.interpreters'
	code+='; print("%d.%d.%d" % sys.version_info[:3])'
	[ -x "$cache/bin/python$1" ] || return 1
	env -i PYTHONHOME="$cache/usr" "$cache/bin/python$1" -c "$code" 2>/dev/null
}

# report FORMAT: prints each ready interpreter; returns 1 when one is not ready.
report() {
	local v version all=0
	for v in "${versions[@]}"; do
		if version=$(ready "$v"); then
			# shellcheck disable=SC2059 # the callers' formats
			printf "$1" "python$v" "$version" "$cache/bin/python$v"
		else
			all=1
		fi
	done
	return $all
}

if [ -n "$print_only" ]; then
	report '%.0s%s %s\n' || true
	exit 0
fi
if lines=$(report '%s %s %s\n'); then
	echo "$lines"
	exit 0
fi

[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] ||
	{ echo "$me: sid's interpreters are fetched for amd64 only" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb patchelf flock; do
	command -v "$tool" >/dev/null || { echo "$me: $tool not found" >&2; exit 1; }
done
mkdir -p "$cache/apt" || exit 1
# Two test runs may start this at once; the second waits and then finds the work done.
exec 9>"$cache/apt/lock"
flock 9
if lines=$(report '%s %s %s\n'); then
	echo "$lines"
	exit 0
fi

# The host of the machine's own Debian mirror, which is known to be reachable: apt names it
# with the Release file's label, so Debian's security archive and third-party sources are not
# picked. Empty on a machine whose package lists were never fetched.
# shellcheck disable=SC2016 # $(REPO_URI) is apt's field, not the shell's
mirror=${GILSTAT_SID_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' 'Label: Debian' \
	'Created-By: Packages' 2>/dev/null | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

# apt's state lives in CACHE/apt. Dir::State::status names an empty file and the preferences
# /dev/null, so that neither the packages installed here nor the system's pinning change which
# version of a package is chosen. sid's InRelease is signed by the archive keys of Debian 12 and
# 13, both in Debian 12's debian-archive-keyring; once sid is signed by newer keys only, that
# keyring must be updated (Debian 12's point releases add them) before this can verify it.
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" \
	>"$cache/apt/sources.list"
: >"$cache/apt/status"
apt_opts=(-q -o "Dir::Etc::SourceList=$cache/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	  -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
	  -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::Cache=$cache/apt/cache"
	  -o "Dir::State::status=$cache/apt/status" -o APT::Architecture=amd64
	  -o APT::Architectures=amd64 -o Acquire::http::Timeout=20)

if ! apt-get "${apt_opts[@]}" --error-on=any update >"$cache/apt/update.log" 2>&1; then
	echo "$me: cannot fetch sid's package lists from $mirror (see $cache/apt/update.log)" >&2
	exit 1
fi

# Which of the wanted packages sid has, asked in one go: a package sid lacks (or renamed) is
# named, and only the interpreters that need it are given up.
wanted=("${libs[@]}")
for v in "${versions[@]}"; do
	read -ra p <<<"$(packages_of "$v")"
	wanted+=("${p[@]}")
done
have=" $(apt-cache "${apt_opts[@]}" show --no-all-versions "${wanted[@]}" 2>/dev/null |
	sed -n 's/^Package: //p' | tr '\n' ' ')"
absent() {
	local p out=
	for p in "$@"; do
		[[ $have == *" $p "* ]] || out+=" $p"
	done
	echo "${out# }"
}
missing=$(absent "${libs[@]}")
if [ -n "$missing" ]; then
	echo "$me: sid at $mirror has no $missing" >&2
	exit 1
fi
fetch=("${libs[@]}")
make=()
status=0
for v in "${versions[@]}"; do
	read -ra p <<<"$(packages_of "$v")"
	missing=$(absent "${p[@]}")
	if [ -n "$missing" ]; then
		echo "$me: python$v skipped: sid at $mirror has no $missing" >&2
		status=1
		continue
	fi
	fetch+=("${p[@]}")
	make+=("$v")
done

# All packages are fetched and unpacked again whenever one interpreter is not ready, so that the
# folder holds one consistent set from sid. The .deb files are not kept.
debs=$(mktemp -d "$cache/apt/debs.XXXXXX")
trap 'rm -rf "$debs"' EXIT
# As root, apt downloads as the user _apt, who must be able to write the folder.
[ "$(id -u)" -ne 0 ] || ! id _apt >/dev/null 2>&1 || chown _apt "$debs"
if ! (cd "$debs" && apt-get "${apt_opts[@]}" download "${fetch[@]}") >"$cache/apt/download.log" 2>&1
then
	echo "$me: cannot download from $mirror: $(grep -m 1 '^E:' "$cache/apt/download.log" ||
		echo "see $cache/apt/download.log")" >&2
	exit 1
fi
for deb in "$debs"/*.deb; do
	dpkg-deb -x "$deb" "$cache" || { echo "$me: cannot unpack $deb" >&2; exit 1; }
done

# A patched copy, not a wrapper script: gilstat resolves and probes the ELF file that runs.
# sid's loader and libraries replace Debian 12's. --force-rpath writes DT_RPATH, not DT_RUNPATH:
# a DT_RUNPATH serves only the executable's own libraries, whereas the extension modules, which
# have none of their own, would then load Debian 12's libcrypto, libffi or libsqlite3. sid's
# packages install every library under /usr (merged /usr), so one folder is enough.
mkdir -p "$cache/bin"
for v in "${make[@]}"; do
	tmp=$cache/bin/.python$v.new
	cp "$cache/usr/bin/python$v" "$tmp"
	patchelf --force-rpath --set-interpreter "$libdir/ld-linux-x86-64.so.2" \
		--set-rpath "$libdir" "$tmp"
	mv -f "$tmp" "$cache/bin/python$v"
	if ! ready "$v" >/dev/null; then
		echo "$me: python$v does not run: PYTHONHOME=$cache/usr $cache/bin/python$v" >&2
		status=1
	fi
done
report '%s %s %s\n' || status=1
exit $status
