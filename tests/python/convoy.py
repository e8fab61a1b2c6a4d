# SPDX-License-Identifier: GPL-2.0
# The convoy effect: an I/O thread doing socketpair echo round trips next to a thread that spins.
# Every send()/recv() releases the GIL; while the reply is on its way the spinning thread takes
# it, and taking it back costs the I/O thread up to one switch interval (5 ms). The echo side is
# a forked process (a GIL of its own) that answers after 1 ms, like a server nearby: long enough
# for the spinning thread to wake up and take the GIL on every round trip.
# Usage: convoy.py [ROUND_TRIPS]
# Prints "io_tid TID" (the I/O thread's kernel thread id) and the mean round trip, alone
# (the main thread, before the others start) and next to the spinning thread (the I/O thread).
import ctypes
import os
import socket
import sys
import threading
import time


def native_id():
    if hasattr(threading, "get_native_id"):  # 3.8 and later
        return threading.get_native_id()
    return ctypes.CDLL(None).syscall(186)  # gettid on x86-64


def spin(stop):
    x = 0
    while not stop.is_set():
        x += 1


rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 50
a, b = socket.socketpair()
if os.fork() == 0:
    a.close()
    while True:
        data = b.recv(64)
        if not data:
            os._exit(0)
        time.sleep(0.001)
        b.sendall(data)
b.close()

# Alone first: the round trip without a GIL to wait for.
for _ in range(10):
    a.sendall(b"ping")
    a.recv(64)
start = time.monotonic()
for _ in range(rounds):
    a.sendall(b"ping")
    a.recv(64)
alone = time.monotonic() - start


def io_thread(rounds, result):
    result.append(native_id())
    start = time.monotonic()
    for _ in range(rounds):
        a.sendall(b"ping")
        a.recv(64)
    result.append(time.monotonic() - start)


stop = threading.Event()
spinner = threading.Thread(target=spin, args=(stop,))
spinner.start()
result = []
io = threading.Thread(target=io_thread, args=(rounds, result))
io.start()
io.join()
stop.set()
spinner.join()
a.close()
os.wait()
print("io_tid %d" % result[0])
print("round_trip_ms alone %.3f spinning %.3f" % (alone * 1000 / rounds, result[1] * 1000 / rounds))
