"""The runners' fetch in scenario 4's two tables: EXPLAIN ANALYZE, and its time.

    .venv/bin/python -m benchmarks.peers.explain_fetch [--future 1000000] [--queue-depth 100000]
        [--due 1000] [--limit 20] [--repeat 7]

Four tables, each in a schema of its own (dropped after) on the project's PostgreSQL,
migrated by this checkout's code: `plain` (--due jobs due now), `future` (the same plus
--future jobs due tomorrow, inserted first), `deep queue` (the same plus one named queue
--queue-depth deep, inserted first, all due, its head held by a live runner), `idle queue`
(the same queue, its head not running: the fetch takes it). Each is
vacuumed and analyzed, then fetch_due runs --repeat times on a connection set up as the
runners' fetch connection, each in a transaction rolled back (nothing is taken); prints the
median time and the plan of the last run (actual rows, buffers).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Callable

import psycopg

from benchmarks.environment import services_env
from benchmarks.isolated import chunks, make_jobs
from jobline.store import JobsDB
from jobline.store.connection import FETCH_CONNECTION_OPTIONS, Q

Fill = Callable[[psycopg.Connection[tuple[object, ...]], int], None]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--future", type=int, default=1_000_000)
    parser.add_argument("--queue-depth", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=20, help="the fetch's batch (concurrency)")
    parser.add_argument("--repeat", type=int, default=7)
    return parser.parse_args()


def insert_series(conn: psycopg.Connection[tuple[object, ...]], n: int, queue: str | None,
                  run_at: str) -> None:  # fmt: skip
    for start in range(0, n, 200_000):
        conn.execute(
            f"INSERT INTO jobs (type, plugin_config_id, team_id, payload, run_at, queue_name)"
            f" SELECT 'noop', 1, 1, jsonb_build_object('n', g), {run_at}, %(queue)s"
            f" FROM generate_series(%(lo)s::int, %(hi)s::int) g".encode(),
            {"queue": queue, "lo": start, "hi": min(n, start + 200_000) - 1},
        )


def fill_future(conn: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    insert_series(conn, n, None, "now() + interval '1 day'")


def fill_idle_queue(conn: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    insert_series(conn, n, "deep", "now()")


def fill_deep_queue(conn: psycopg.Connection[tuple[object, ...]], n: int) -> None:
    insert_series(conn, n, "deep", "now()")
    conn.execute(
        "INSERT INTO runners (id, hostname, pid, capabilities, heartbeat_at)"
        " VALUES ('holder', 'bench', 0, '{runner}', now() + interval '1 day')"
    )
    conn.execute(
        "UPDATE jobs SET locked_by = 'holder', locked_at = now()"
        " WHERE id = (SELECT min(id) FROM jobs WHERE queue_name = 'deep')"
    )


def measure(url: str, label: str, fill: Fill | None, size: int, args: argparse.Namespace) -> None:
    schema = f"explain_{uuid.uuid4().hex[:8]}"
    asyncio.run(JobsDB(url, schema).migrate())
    try:
        with psycopg.connect(url, autocommit=True, options=f"-c search_path={schema}") as conn:
            if fill is not None:
                fill(conn, size)
            asyncio.run(_insert_due(url, schema, args.due))
            conn.execute("VACUUM (ANALYZE) jobs")
        options = f"-c search_path={schema}{FETCH_CONNECTION_OPTIONS}"
        with psycopg.connect(url, options=options) as conn:
            times, plan = [], ""
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                rows = conn.execute(
                    b"EXPLAIN (ANALYZE, BUFFERS) " + Q["fetch_due"].encode(),
                    {"runner_id": "explain", "limit": args.limit},
                ).fetchall()
                times.append(time.perf_counter() - t0)
                conn.rollback()
                plan = "\n".join(str(r[0]) for r in rows)
        print(f"\n=== {label}: fetch of {args.limit}, median of {args.repeat}:"
              f" {statistics.median(times) * 1000:.2f} ms"
              f" (min {min(times) * 1000:.2f}, max {max(times) * 1000:.2f})")  # fmt: skip
        print(plan)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


async def _insert_due(url: str, schema: str, n: int) -> None:
    db = JobsDB(url, schema, max_size=2)
    await db.open()
    try:
        for part in chunks(make_jobs(n, 1), 10_000):
            await db.insert_jobs(part)
    finally:
        await db.close()


def main() -> None:
    args = parse_args()
    url = services_env()["JOBLINE_JOBS_DATABASE_URL"]
    measure(url, f"plain: {args.due:,} due jobs", None, 0, args)
    measure(url, f"future: + {args.future:,} due tomorrow", fill_future, args.future, args)
    measure(url, f"deep queue: + a queue {args.queue_depth:,} deep, head running",
            fill_deep_queue, args.queue_depth, args)  # fmt: skip
    measure(url, f"idle queue: + a queue {args.queue_depth:,} deep, its head due",
            fill_idle_queue, args.queue_depth, args)  # fmt: skip


if __name__ == "__main__":
    main()
