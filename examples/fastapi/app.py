# SPDX-License-Identifier: GPL-2.0
# The tutorial's FastAPI service: an async endpoint that waits on I/O, and the same CPU work done
# in the thread pool (where it holds the GIL against everything else) or in a process pool (where
# each worker has a GIL of its own).
#
#   uvicorn --app-dir examples/fastapi app:app --host 127.0.0.1 --port 8000
#
# examples/fastapi/run.sh (make example) measures the three; README.md there explains the numbers.
import asyncio
import concurrent.futures
import os

from fastapi import FastAPI

app = FastAPI()
# CPU work of about 20 ms on Debian's CPython 3.11 here: it holds the GIL through several 5 ms
# switch intervals.
CPU_WORK_ITERATIONS = 750_000
# One worker per core but one, so that the event loop keeps a core of its own; at nice 10, so that
# where they share a core the scheduler runs the event loop first. In the thread pool neither can
# help: the event loop waits for the GIL, not for a core.
CPU_WORKERS = max(1, len(os.sched_getaffinity(0)) - 1)
CPU_WORKER_NICE = 10
process_pool = concurrent.futures.ProcessPoolExecutor(
    max_workers=CPU_WORKERS, initializer=os.nice, initargs=(CPU_WORKER_NICE,)
)


def cpu_work(n=CPU_WORK_ITERATIONS):
    total = 0
    for i in range(n):
        total += i * i
    return total


@app.get("/io")
async def io():
    await asyncio.sleep(0.001)
    return {"ok": True}


@app.get("/cpu-thread")
def cpu_thread():
    # a plain def: FastAPI runs it in its thread pool, beside the event loop
    return {"total": cpu_work()}


@app.get("/cpu-procpool")
async def cpu_procpool():
    loop = asyncio.get_running_loop()
    return {"total": await loop.run_in_executor(process_pool, cpu_work)}
