#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Writes the seed corpus of tests/fuzz/ (corpus/NAME/) again, from what this machine has: small
# ELF files built from seeds/fakepython.c (whole, stripped with a .gnu_debuglink, with
# MiniDebugInfo), libgil.so with its gil:* USDT notes, maps and argument lists as processes have
# them, #! lines as scripts start, stacks records as the BPF side writes them. The seeds are kept in
# the repository; this documents and remakes them. Usage: tests/fuzz/seeds/make-seeds.sh [LIBGIL]
set -eu
cd "$(dirname "$0")/.."
libgil=${1:-../../build/libgil.so}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p corpus/elf corpus/gil corpus/maps corpus/cmdline corpus/stacks

cc -O2 -g0 -fPIC -shared -nostdlib -Wl,--hash-style=gnu seeds/fakepython.c -o "$tmp/full.so"
cp "$tmp/full.so" corpus/gil/whole.so
cp "$tmp/full.so" corpus/elf/whole.so
# stripped, its symbols in a debug file it names by .gnu_debuglink
objcopy --only-keep-debug "$tmp/full.so" "$tmp/full.debug"
strip --strip-all "$tmp/full.so" -o "$tmp/stripped.so"
(cd "$tmp" && objcopy --add-gnu-debuglink=full.debug stripped.so linked.so)
cp "$tmp/linked.so" corpus/elf/debuglink.so
cp "$tmp/linked.so" corpus/gil/debuglink.so
# MiniDebugInfo: .symtab in an xz'd ELF in .gnu_debugdata, as Fedora ships
objcopy --only-keep-debug "$tmp/full.so" "$tmp/mini.debug"
objcopy -S --remove-section .gdb_index --remove-section .comment \
	--keep-symbols=<(nm "$tmp/full.so" | awk '$2 ~ /[tT]/ { print $3 }') "$tmp/mini.debug" \
	"$tmp/mini.elf" 2>/dev/null || cp "$tmp/full.so" "$tmp/mini.elf"
xz -c "$tmp/mini.elf" >"$tmp/mini.xz"
objcopy --add-section .gnu_debugdata="$tmp/mini.xz" "$tmp/stripped.so" "$tmp/minidebug.so"
cp "$tmp/minidebug.so" corpus/elf/minidebuginfo.so
cp "$tmp/minidebug.so" corpus/gil/minidebuginfo.so
if [ -f "$libgil" ]; then
	strip --strip-debug "$(readlink -f "$libgil")" -o corpus/elf/libgil.so
fi

# maps: this shell's, and one of each kind of line
sed 's/ \+/ /' /proc/self/maps >corpus/maps/self
printf '%s\n' \
	'00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/python3.12' \
	'7f2c4e000000-7f2c4e400000 r-xp 00000000 08:02 1234 /usr/lib/libpython3.12.so.1.0 (deleted)' \
	'7ffd2a7f0000-7ffd2a811000 rw-p 00000000 00:00 0 [stack]' \
	'7f2c4f000000-7f2c4f001000 r--p 00001000 00:1f 99 /memfd:gil (deleted)' >corpus/maps/kinds
: >corpus/maps/empty

# argument lists and #! lines
printf 'python3\0-X\0gil=0\0script.py\0' >corpus/cmdline/x-gil
printf 'python3.13t\0-Xgil=1\0-c\0pass\0PYTHON_GIL=0\0' >corpus/cmdline/x-gil-joined
printf '#!/usr/bin/env python3\nprint(1)\n' >corpus/cmdline/env
printf '#!/usr/bin/env -S python3 -X gil=1\n' >corpus/cmdline/env-split
printf '#!/bin/sh -e\nexit 0\n' >corpus/cmdline/sh-arg
printf '#! /usr/bin/env PYTHON_GIL=0 python3\n' >corpus/cmdline/env-assign

# stacks: a depth byte, then records (fuzz_stacks.c)
python3 - <<'PY'
import struct
key = lambda hs, ws, tgid, ht, wt, hpy, wpy: struct.pack('<iiIIIIQQ', hs, ws, tgid, ht, wt, 0, hpy, wpy)
stats = bytes(296)  # sizeof(struct stack_stats)
def rec_wait(*k): return b'\0' + key(*k) + stats
def rec_stack(i, ips): return b'\1' + struct.pack('<iB', i, len(ips)) + b''.join(struct.pack('<Q', x) for x in ips)
def rec_py(k, depth, flags, codes): return b'\2' + struct.pack('<QIIB', k, depth, flags, len(codes)) + b''.join(struct.pack('<Q', c) for c in codes)
def rec_comm(tgid, tid, name): return b'\3' + struct.pack('<Q', tgid << 32 | tid) + name.ljust(16, b'\0')
seeds = {
    'native': bytes([8]) + rec_wait(1, 2, 100, 100, 101, 0, 0) + rec_stack(1, [0x401000, 0x401100]) + rec_stack(2, [0x401200]) + rec_comm(100, 100, b'worker'),
    'python': bytes([0x88]) + rec_wait(1, 2, 100, 100, 101, 7, 8) + rec_py(7, 2, 0, [0x1000, 0x2000]) + rec_py(8, 1, 1, [0x3000]),
    'errors': bytes([1]) + rec_wait(-14, -1, 5, 5, 6, 0, 0) + rec_stack(3, [1, 2, 3]),
}
for name, data in seeds.items():
    open('corpus/stacks/' + name, 'wb').write(data)
PY
echo "seeds written under $(pwd)/corpus"
