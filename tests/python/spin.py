# SPDX-License-Identifier: GPL-2.0
# A process to attach to (gilstat -p): two threads that spin until the process is killed, or,
# with "io", one that spins and one that sleeps 1 ms in a loop. Prints "ready" once they run.
import sys
import threading
import time


def spin():
    x = 0
    while True:
        x += 1


def nap():
    while True:
        time.sleep(0.001)


second = nap if sys.argv[1:] == ["io"] else spin
for target in (spin, second):
    threading.Thread(target=target, daemon=True).start()
print("ready")
sys.stdout.flush()
threading.Event().wait()
