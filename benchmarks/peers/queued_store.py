"""What named queues cost the jobs DB itself: jobs without a queue against jobs in 1,000
queues, through the store alone (no server, no handler).

    .venv/bin/python -m benchmarks.peers.queued_store [--jobs 20000] [--queues 1000] [--repeat 2]

Each pass: a schema of its own, the jobs inserted in batches of 1,000 (insert_jobs), then
drained by one runner with fetch_due(20) + complete; prints jobs/s of both phases.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from benchmarks.environment import services_env
from jobline import JobMessage
from jobline.store import JobsDB


def make(n: int, queues: int) -> list[JobMessage]:
    now = datetime.now(UTC) - timedelta(seconds=1)
    return [
        JobMessage.create(
            type="noop",
            payload={"n": i},
            plugin_config_id=1,
            team_id=1,
            run_at=now,
            queue=f"q{i % queues}" if queues else None,
        )
        for i in range(n)
    ]


async def one_pass(url: str, n: int, queues: int) -> tuple[float, float]:
    schema = f"qstore_{uuid.uuid4().hex[:8]}"
    db = JobsDB(url, schema, max_size=2)
    await db.migrate()
    await db.open()
    try:
        jobs = make(n, queues)
        t0 = time.perf_counter()
        for start in range(0, n, 1_000):
            await db.insert_jobs(jobs[start : start + 1_000])
        t1 = time.perf_counter()
        done = 0
        while done < n:
            got = await db.fetch_due("bench", 20)
            await db.complete("bench", [j.id for j in got])
            done += len(got)
        t2 = time.perf_counter()
        return n / (t1 - t0), n / (t2 - t1)
    finally:
        await db.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--queues", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    url = services_env()["JOBLINE_JOBS_DATABASE_URL"]
    for _ in range(args.repeat):
        for queues in (0, args.queues):
            label = f"{args.queues:,} queues" if queues else "no queue"
            insert, drain = await one_pass(url, args.jobs, queues)
            print(
                f"{label}: insert {insert:,.0f} jobs/s,"
                f" fetch_due(20) + complete {drain:,.0f} jobs/s"
            )


if __name__ == "__main__":
    asyncio.run(main())
