#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a process's gil:* USDT probes look like in its memory: proof that a tracer is attached,
or that it is gone.

  usdtstate.py PID LIBRARY

prints one line per probe site, "NAME SEMAPHORE BYTES", e.g. "acquire 0 0f1f440000": the
probe's semaphore (the number of uprobes attached to it, kept by the kernel) and the five bytes
at the site, which are libgil's nop while nothing is attached (an int3 or a call while a uprobe
is). Addresses come from the library's stapsdt notes (readelf -n) plus its load address in
/proc/PID/maps. Needs the right to read /proc/PID/mem (root, or the process's owner).
"""
import os
import re
import subprocess
import sys


def notes(lib):
    """(name, location, semaphore) of every gil probe site, as link-time addresses."""
    out = subprocess.run(["readelf", "-n", lib], check=True, capture_output=True,
                         text=True).stdout
    sites, provider, name = [], None, None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Provider:"):
            provider = line.split()[1]
        elif line.startswith("Name:"):
            name = line.split()[1]
        elif line.startswith("Location:") and provider == "gil":
            loc = int(re.search(r"Location: (0x[0-9a-f]+)", line).group(1), 16)
            sem = int(re.search(r"Semaphore: (0x[0-9a-f]+)", line).group(1), 16)
            sites.append((name, loc, sem))
    return sites


def load_base(pid, lib):
    real = os.path.realpath(lib)
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == real and int(fields[2], 16) == 0:
                return int(fields[0].split("-")[0], 16)
    sys.exit(f"usdtstate: {real} is not mapped in PID {pid}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    pid, lib = int(sys.argv[1]), sys.argv[2]
    base = load_base(pid, lib)
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for name, loc, sem in notes(lib):
            mem.seek(base + sem)
            count = int.from_bytes(mem.read(2), "little")
            mem.seek(base + loc)
            print(name, count, mem.read(5).hex())


if __name__ == "__main__":
    main()
