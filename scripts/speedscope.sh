#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Gets speedscope, the profile viewer, from npm into a cache, so that a test can open a
# `gilstat --timeline` file in it (headless Chromium, offline). npm checks the package against
# the registry's integrity hash.
#
# Usage: scripts/speedscope.sh [--print]
#   (none)   fetches it when the cache lacks it, and prints the path of its index.html
#   --print  fetches nothing; prints the path when it is there, else exits 1
# CACHE is /var/cache/gilstat/speedscope, or $GILSTAT_SPEEDSCOPE_CACHE. Exits 1 with one line
# when npm is missing or the registry cannot be reached.
set -eu
me=speedscope.sh
version=1.25.0
cache=${GILSTAT_SPEEDSCOPE_CACHE:-/var/cache/gilstat/speedscope}
index=$cache/$version/package/dist/release/index.html

case ${1:-} in
'' | --print) ;;
*) echo "$me: unknown argument '$1' (usage: $me [--print])" >&2; exit 2 ;;
esac
if [ -f "$index" ]; then
	echo "$index"
	exit 0
fi
[ "${1:-}" = --print ] && exit 1
if ! command -v npm >/dev/null; then
	echo "$me: npm is not installed (scripts/deps.sh installs it)" >&2
	exit 1
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# npm's own cache stays in tmp: nothing is left in the caller's home
if ! (cd "$tmp" && timeout 300 npm pack --loglevel=error --cache "$tmp/npm-cache" \
	"speedscope@$version" >/dev/null 2>"$tmp/err"); then
	echo "$me: npm pack speedscope@$version failed: $(grep '^npm ERR!' "$tmp/err" |
		grep -v 'complete log\|_logs/' | head -2 | sed 's/^npm ERR! *//' | tr '\n' ' ')" >&2
	exit 1
fi
mkdir "$tmp/$version"
tar -xzf "$tmp/speedscope-$version.tgz" -C "$tmp/$version"
[ -f "$tmp/$version/package/dist/release/index.html" ] || {
	echo "$me: speedscope-$version.tgz has no dist/release/index.html" >&2
	exit 1
}
rm -rf "${cache:?}/$version"
mv "$tmp/$version" "$cache/$version"
echo "$index"
