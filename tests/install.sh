#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make install into a DESTDIR, as a user or a packager would run it: the files land where PREFIX
# says, the man pages render without a warning, a program built with `pkg-config libgil` runs and
# the installed gilstat counts its acquisitions exactly; --help, the man pages and the README name
# the same options; make uninstall takes away every file it put.
set -u
. "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
prefix=/opt/gil-test
root=$dest$prefix
# The program below: THREADS threads, each CYCLES acquire+release cycles, nothing else.
THREADS=2
CYCLES=1500

make --no-print-directory -s OUTPUT="$OUTPUT" DESTDIR="$dest" PREFIX="$prefix" install \
	>"$tmp/install.log" 2>&1
check "make install DESTDIR PREFIX=$prefix exits 0" [ $? -eq 0 ]
expected="bin/gilwork include/gil.h include/gil_usdt.h lib/libgil.a lib/libgil.so lib/libgil.so.1
lib/libgil.so.1.0.0 lib/pkgconfig/libgil.pc sbin/gilstat share/man/man1/gilwork.1
share/man/man3/libgil.3 share/man/man8/gilstat.8"
installed=$(cd "$dest" && find . \( -type f -o -type l \) | sed "s|^\./${prefix#/}/||" | sort)
check "exactly the expected files, all under PREFIX" \
	[ "$installed" = "$(echo $expected | tr ' ' '\n' | sort)" ]
check "libgil.so -> libgil.so.1 -> libgil.so.1.0.0, whose soname is libgil.so.1" \
	eval '[ "$(readlink "$root/lib/libgil.so")" = libgil.so.1 ] &&
	      [ "$(readlink "$root/lib/libgil.so.1")" = libgil.so.1.0.0 ] &&
	      readelf -d "$root/lib/libgil.so.1.0.0" | grep -q "SONAME.*\[libgil.so.1\]"'
check "libgil.pc names PREFIX" grep -qx "prefix=$prefix" "$root/lib/pkgconfig/libgil.pc"
check "the installed gilwork finds libgil.so.1 beside it, by \$ORIGIN/../lib" \
	eval '"$root/bin/gilwork" cpu --work 100000 >/dev/null'

# The man pages, rendered as man shows them: no warning from groff, and every section there.
if ! command -v man >/dev/null; then
	skip "man pages render without warnings" "man is not installed (scripts/deps.sh installs man-db)"
else
	for page in "$root"/share/man/man*/*; do
		name=$(basename "$page")
		MANWIDTH=80 man --warnings -l "$page" >"$tmp/$name.txt" 2>"$tmp/$name.err"
		if [ $? -eq 0 ] && [ ! -s "$tmp/$name.err" ] &&
		   grep -q '^NAME' "$tmp/$name.txt" && grep -q '^SEE ALSO' "$tmp/$name.txt"; then
			ok "man $name renders with no warning"
		else
			not_ok "man $name renders with no warning"
			sed 's/^/#   /' "$tmp/$name.err"
		fi
		col -bx <"$tmp/$name.txt" >"$tmp/$name.plain"
	done
	for page in gilstat.8 gilwork.1; do
		check "man $page: every section a page of its kind has" \
			eval 'for s in SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES; do
				grep -qx "$s" "$tmp/$page.plain" || exit 1; done'
	done
	check "man libgil.3: the probes of provider gil, with their arguments" \
		eval 'for p in "gil:acquire(gil, request_ns, acquired_ns, flags, drop_requests)" \
			"gil:release(gil, acquired_ns, released_ns, flags)" \
			"gil:wait__start(gil, request_ns)"; do
			grep -qF "$p" "$tmp/libgil.3.plain" && grep -qF "$p" "$tmp/gilstat.8.plain" ||
				exit 1; done'
	# The man page is the source of truth: --help and the README's table may not contradict it.
	"$root/sbin/gilstat" --help >"$tmp/gilstat.help"
	"$root/bin/gilwork" --help >"$tmp/gilwork.help"
	python3 tests/optcheck.py "$tmp/gilstat.help" "$tmp/gilstat.8.plain" README.md \
		"Using gilstat" >"$tmp/opts" 2>&1
	rc=$?
	check "gilstat: --help, gilstat(8) and the README name the same options: $(cat "$tmp/opts")" \
		[ $rc -eq 0 ]
	python3 tests/optcheck.py "$tmp/gilwork.help" "$tmp/gilwork.1.plain" README.md gilwork \
		>"$tmp/opts" 2>&1
	rc=$?
	check "gilwork: --help, gilwork(1) and the README name the same options: $(cat "$tmp/opts")" \
		[ $rc -eq 0 ]
fi

# A program of the library's users, built against the installed files only. --define-prefix
# takes the prefix from where libgil.pc is, which is where a DESTDIR put it.
cat >"$tmp/cycles.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <gil.h>

static struct gil *gil;
static long cycles;

static void *run(void *arg)
{
	struct gil_thread *t = gil_thread_new(gil);

	for (long i = 0; i < cycles; i++) {
		gil_acquire(t);
		gil_poll(t);
		gil_release(t);
	}
	gil_thread_free(t);
	return arg;
}

int main(int argc, char **argv)
{
	struct gil_opts opts = {.truth = true};
	int nr_threads = atoi(argv[1]);
	struct gil_truth truth;
	pthread_t th[64];

	cycles = atol(argv[2]);
	gil = gil_new(&opts);
	for (int i = 0; i < nr_threads; i++)
		pthread_create(&th[i], NULL, run, NULL);
	for (int i = 0; i < nr_threads; i++)
		pthread_join(th[i], NULL);
	gil_get_truth(gil, &truth);
	gil_free(gil);
	printf("%d threads, %ld cycles each, %llu acquisitions\n", nr_threads, cycles,
	       (unsigned long long)truth.acquisitions);
	return 0;
}
EOF
pc() { PKG_CONFIG_PATH="$root/lib/pkgconfig" pkg-config --define-prefix "$@" libgil; }
check "pkg-config finds libgil $(pc --modversion 2>&1) in the DESTDIR" \
	eval 'pc --cflags --libs | grep -qF -- "-I$root/include"'
# shellcheck disable=SC2046
${CC:-cc} "$tmp/cycles.c" $(pc --cflags --libs) -Wl,-rpath,"$(pc --variable=libdir)" \
	-o "$tmp/cycles" 2>"$tmp/cc.err"
check "a program builds with \`pkg-config --cflags --libs libgil\`" [ $? -eq 0 ]
check "it runs on the installed libgil.so.1" \
	eval '"$tmp/cycles" 1 10 >/dev/null && ldd "$tmp/cycles" | grep -qF "$root/lib/libgil.so.1"'
# shellcheck disable=SC2046
${CC:-cc} "$tmp/cycles.c" $(pc --cflags) "$root/lib/libgil.a" $(pc --static --libs-only-other) \
	-o "$tmp/cycles-static" 2>>"$tmp/cc.err"
check "it builds against the installed libgil.a too" [ $? -eq 0 ]

# The installed gilstat traces it: the acquisitions libgil counted, not one more or fewer. That is
# THREADS x CYCLES and one more for each forced switch (a waiter kept waiting a whole interval,
# which a loaded machine causes: the holder drops and takes the GIL again in gil_poll()).
if [ "$(id -u)" -ne 0 ]; then
	skip "the installed gilstat traces the program" "needs root to load BPF programs"
else
	for prog in cycles cycles-static; do
		"$root/sbin/gilstat" -j -o "$tmp/$prog.json" -- "$tmp/$prog" $THREADS $CYCLES \
			>"$tmp/$prog.out" 2>"$tmp/$prog.err"
		got=$(python3 tests/jsoncheck.py get "$tmp/$prog.json" acquisitions 2>/dev/null)
		truth=$(awk '{ print $(NF - 1) }' "$tmp/$prog.out")
		check "installed gilstat -- $prog $THREADS $CYCLES: libgil's ${truth:-?} acquisitions (got ${got:-none})" \
			[ "${truth:-0}" -ge $((THREADS * CYCLES)) -a "${got:-0}" = "${truth:-none}" ]
	done
fi

make --no-print-directory -s OUTPUT="$OUTPUT" DESTDIR="$dest" PREFIX="$prefix" uninstall \
	>>"$tmp/install.log" 2>&1
check "make uninstall exits 0" [ $? -eq 0 ]
left=$(cd "$dest" && find . \( -type f -o -type l \))
check "make uninstall leaves no file of ours${left:+: $left}" [ -z "$left" ]
done_testing
