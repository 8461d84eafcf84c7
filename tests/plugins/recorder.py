"""Test plugin: every handler records its run in `test_runs` (main DB), to count runs."""

from __future__ import annotations

import os
from typing import Any

from psycopg_pool import AsyncConnectionPool

from jobline import JobDefinition, JobMeta, Plugin
from jobline.plugins import PayloadField

_pool: AsyncConnectionPool | None = None


async def _record(meta: JobMeta, payload: Any, outcome: str) -> None:
    global _pool
    if _pool is None:
        _pool = AsyncConnectionPool(
            os.environ["RECORDER_DATABASE_URL"],
            min_size=1,
            max_size=8,
            kwargs={"autocommit": True},
            open=False,
        )
        await _pool.open()
    table = os.environ["RECORDER_TABLE"]
    async with _pool.connection() as conn:
        await conn.execute(
            f"INSERT INTO {table} (job_id, job_type, n, attempt, outcome) "
            "VALUES (%s, %s, %s, %s, %s)",
            (meta.job_id, meta.job_type, (payload or {}).get("n"), meta.attempt, outcome),
        )


async def record(payload: Any, meta: JobMeta) -> None:
    await _record(meta, payload, "ok")


async def record_slow(payload: Any, meta: JobMeta) -> None:
    import asyncio

    await asyncio.sleep(float(payload.get("sleep", 1)))
    await _record(meta, payload, "ok")


async def always_fails(payload: Any, meta: JobMeta) -> None:
    await _record(meta, payload, "failed")
    raise RuntimeError(f"always fails (attempt {meta.attempt})")


def record_sync(payload: Any, meta: JobMeta) -> None:
    import psycopg

    table = os.environ["RECORDER_TABLE"]
    with psycopg.connect(os.environ["RECORDER_DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            f"INSERT INTO {table} (job_id, job_type, n, attempt, outcome) "
            "VALUES (%s, %s, %s, %s, 'ok')",
            (meta.job_id, meta.job_type, (payload or {}).get("n"), meta.attempt),
        )


plugin = Plugin(
    name="recorder",
    jobs={
        "record": record,
        "record_sync": record_sync,
        "record_slow": record_slow,
        "always_fails": JobDefinition(always_fails, max_attempts=3),
        # sleeps past its own timeout: cancelled and failed, twice
        "too_slow": JobDefinition(record_slow, max_attempts=2, timeout_s=0.5),
    },
    # what the HTTP trigger API may start, and with which payload
    public_jobs={"record": {"n": PayloadField("integer", required=True)}},
)
