# SPDX-License-Identifier: GPL-2.0
# The tutorial's FastAPI service: an async endpoint that waits on I/O, and the same CPU work done
# in the thread pool (where it holds the GIL against everything else) or in a process pool (where
# each worker has a GIL of its own).
#
#   uvicorn --app-dir examples/fastapi app:app --host 127.0.0.1 --port 8000
import asyncio
import concurrent.futures

from fastapi import FastAPI

app = FastAPI()
# CPU work of about 20 ms on this machine's CPython 3.11: long enough to hold the GIL through
# several switch intervals.
CPU_WORK_ITERATIONS = 300_000
process_pool = concurrent.futures.ProcessPoolExecutor(max_workers=2)


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
