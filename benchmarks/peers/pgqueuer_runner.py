"""PgQueuer's side of the peer benchmark; runs in PgQueuer's own venv (scripts/install-peers).

    pgqueuer_runner.py install|add|work|trigger '<json options>'

Options: dsn, schema (PGQUEUER_SCHEMA), batch_size, latency (work: print "lat <ms>" per
job, trigger call -> handler start), n, chunk and delay_s (add: execute_after, scenario 4),
k and gap_ms (trigger).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import timedelta
from typing import Any

import asyncpg


async def connect(opts: dict[str, Any]) -> Any:
    return await asyncpg.connect(opts["dsn"])


async def install(opts: dict[str, Any]) -> None:
    from pgqueuer.queries import Queries

    conn = await connect(opts)
    try:
        await Queries.from_asyncpg_connection(conn).install()
    finally:
        await conn.close()


async def add(opts: dict[str, Any]) -> None:
    from pgqueuer.queries import Queries

    conn = await connect(opts)
    try:
        queries = Queries.from_asyncpg_connection(conn)
        chunk = int(opts.get("chunk", 10_000))
        delay = timedelta(seconds=opts["delay_s"]) if opts.get("delay_s") else None
        for start in range(0, opts["n"], chunk):
            size = min(chunk, opts["n"] - start)
            after = [delay] * size if delay else None
            await queries.enqueue(["noop"] * size, [None] * size, [0] * size, after)
    finally:
        await conn.close()


async def trigger(opts: dict[str, Any]) -> None:
    from pgqueuer.queries import Queries

    conn = await connect(opts)
    try:
        queries = Queries.from_asyncpg_connection(conn)
        for _ in range(opts["k"]):
            await queries.enqueue("noop", json.dumps({"t": time.time() * 1000}).encode())
            await asyncio.sleep(opts["gap_ms"] / 1000)
    finally:
        await conn.close()


async def work(opts: dict[str, Any]) -> None:
    from pgqueuer import PgQueuer
    from pgqueuer.models import Job

    conn = await connect(opts)
    pgq = PgQueuer.from_asyncpg_connection(conn)
    latency = bool(opts.get("latency"))

    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        if latency and job.payload:
            sent = json.loads(job.payload)["t"]
            sys.stdout.write(f"lat {time.time() * 1000 - sent}\n")
            sys.stdout.flush()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, pgq.shutdown.set)
    loop.call_later(0.5, lambda: print("ready", flush=True))  # after run() has listened
    await pgq.run(batch_size=opts["batch_size"], dequeue_timeout=timedelta(seconds=30))


COMMANDS = {"install": install, "add": add, "trigger": trigger, "work": work}

if __name__ == "__main__":
    command, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
    options = json.loads(raw)
    os.environ["PGQUEUER_SCHEMA"] = options["schema"]
    asyncio.run(COMMANDS[command](options))
