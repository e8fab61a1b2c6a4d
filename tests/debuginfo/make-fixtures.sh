#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the ELF files tests/test_debuginfo.c looks up debug information for, into DIR: a small
# library with local functions (as CPython's take_gil/drop_gil are), stripped copies of it, and
# their debug files in each place the lookup searches, good and bad. With LIB (a libpython that
# keeps its symbols), the same for a stripped copy of it in DIR/py.
# Usage: tests/debuginfo/make-fixtures.sh DIR [LIB]
set -eu
dir=$1
lib=${2:-}
mkdir -p "$dir"
cd "$dir"

# minidebuginfo IN OUT: the function symbols that .dynsym lacks, in an xz'd ELF, as gdb's manual
# makes MiniDebugInfo
minidebuginfo() {
	nm -D --format=posix --defined-only "$1" | awk '{ print $1 }' | sort >"$2.dynsyms"
	nm --format=posix --defined-only "$1" | awk '$2 ~ /^[Tt]$/ { print $1 }' | sort \
		>"$2.funcsyms"
	comm -13 "$2.dynsyms" "$2.funcsyms" >"$2.keep"
	objcopy --only-keep-debug "$1" "$2.debug"
	objcopy -S --remove-section .gdb_index --remove-section .comment \
		--keep-symbols="$2.keep" "$2.debug" "$2"
	xz -f "$2"
}

cat >fix.c <<'C'
static volatile int gil;
__attribute__((noinline)) static void take_gil(void) { gil = 1; }
__attribute__((noinline)) static void drop_gil(void) { gil = VALUE; }
void PyEval_RestoreThread(void) { take_gil(); }
void PyEval_SaveThread(void) { drop_gil(); }
C
# the same library twice, built differently: two build-ids
gcc -shared -fPIC -g -O1 -DVALUE=0 -Wl,--build-id=sha1 -o libfix.so fix.c
gcc -shared -fPIC -g -O1 -DVALUE=2 -Wl,--build-id=sha1 -o other.so fix.c
id=$(readelf -n libfix.so | sed -n 's/.*Build ID: //p')
echo "$id" >build-id

objcopy --only-keep-debug libfix.so libfix.debug
objcopy --only-keep-debug other.so other.debug
mkdir -p stripped
strip --strip-all -o stripped/libfix.so libfix.so

# build-id trees: the right file, another build's, a truncated one
for tree in root-good root-other root-truncated; do
	mkdir -p "$tree/.build-id/${id:0:2}"
done
cp libfix.debug "root-good/.build-id/${id:0:2}/${id:2}.debug"
cp other.debug "root-other/.build-id/${id:0:2}/${id:2}.debug"
head -c $(($(stat -c %s libfix.debug) / 2)) libfix.debug \
	>"root-truncated/.build-id/${id:0:2}/${id:2}.debug"

# .gnu_debuglink: beside the file, in .debug/ there, under a debug root; and with a file of the
# right name but another content (CRC32), and with the right CRC but another build-id
for d in link-beside link-dotdebug link-root link-crc; do
	mkdir -p "$d"
	objcopy --add-gnu-debuglink=libfix.debug stripped/libfix.so "$d/libfix.so"
done
cp libfix.debug link-beside/
mkdir -p link-dotdebug/.debug
cp libfix.debug link-dotdebug/.debug/
mkdir -p "root-link$PWD/link-root"
cp libfix.debug "root-link$PWD/link-root/"
cp other.debug link-crc/libfix.debug
mkdir -p link-otherid
cp other.debug link-otherid/libfix.debug
objcopy --add-gnu-debuglink=link-otherid/libfix.debug stripped/libfix.so link-otherid/libfix.so

minidebuginfo libfix.so mini.elf
mkdir -p mini mini-bad
objcopy --add-section .gnu_debugdata=mini.elf.xz stripped/libfix.so mini/libfix.so
head -c 100 mini.elf.xz >bad.xz
objcopy --add-section .gnu_debugdata=bad.xz stripped/libfix.so mini-bad/libfix.so

# what debuginfod serves, through file:// URLs: the right file, another build's, garbage
for srv in srv-good srv-other srv-garbage; do
	mkdir -p "$srv/buildid/$id"
done
cp libfix.debug "srv-good/buildid/$id/debuginfo"
cp other.debug "srv-other/buildid/$id/debuginfo"
echo "<html>502 Bad Gateway</html>" >"srv-garbage/buildid/$id/debuginfo"

[ -n "$lib" ] || exit 0
mkdir -p py/stripped py/link py/mini
name=$(basename "$lib")
pyid=$(readelf -n "$lib" | sed -n 's/.*Build ID: //p')
objcopy --only-keep-debug "$lib" py/lib.debug
strip --strip-all -o "py/stripped/$name" "$lib"
mkdir -p "py/root/.build-id/${pyid:0:2}"
cp py/lib.debug "py/root/.build-id/${pyid:0:2}/${pyid:2}.debug"
cp py/lib.debug py/link/
objcopy --add-gnu-debuglink=py/link/lib.debug "py/stripped/$name" "py/link/$name"
minidebuginfo "$lib" py/mini.elf
objcopy --add-section .gnu_debugdata=py/mini.elf.xz "py/stripped/$name" "py/mini/$name"
