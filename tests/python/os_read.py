# SPDX-License-Identifier: GPL-2.0
# N calls of os.read(fd, 1) on /dev/zero: each releases and takes the GIL once, so N of them make
# exactly N - 1 more GIL cycles than one does.
import os
import sys

fd = os.open("/dev/zero", os.O_RDONLY)
for _ in range(int(sys.argv[1])):
    os.read(fd, 1)
